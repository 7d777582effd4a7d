"""What a rule reports: one Finding per thing that is wrong (pure; no Textual)."""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("error", "warning", "info")  # most serious first
_RANK = {"info": 0, "warning": 1, "error": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One misconfiguration, written for the administrator who has to fix it.

    `key` is the topology key of the object (`link:<ifname>`, `guest:<uuid>:<n>`,
    `net:<name>`), so a user interface can jump to it in the tree. `commands` are
    shell commands that fix it (or show what to look at), one per line.
    """

    rule: str  # stable id, e.g. "bond-slave-down"
    severity: str  # "error" | "warning" | "info"
    key: str
    subject: str  # what an administrator calls the object: "bond0 slave eth1", "guest web1 (52:54:00:..)"
    what: str  # what is wrong, with the numbers
    why: str  # why it matters
    fix: str  # how to fix it, in words
    commands: tuple[str, ...] = ()

    @property
    def rank(self) -> int:
        return _RANK[self.severity]


def severity_rank(severity: str) -> int:
    """error > warning > info; raises KeyError for anything else."""
    return _RANK[severity]


def reaches(findings: tuple[Finding, ...] | list[Finding], threshold: str) -> bool:
    """True when a finding is at least as serious as `threshold` (the exit-code rule)."""
    floor = severity_rank(threshold)
    return any(f.rank >= floor for f in findings)


def counts(findings: tuple[Finding, ...] | list[Finding]) -> dict[str, int]:
    """{"error": n, "warning": n, "info": n}, every severity present."""
    result = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        result[finding.severity] += 1
    return result


def counts_text(findings: tuple[Finding, ...] | list[Finding], zeros: bool = True) -> str:
    """"2 errors, 1 warning, 0 info" for headers and summaries; without zeros ("2 errors,
    1 warning") where room is short, as in the status line."""
    n = counts(findings)
    plural = {"error": "errors", "warning": "warnings", "info": "info"}
    return ", ".join(f"{n[s]} {plural[s] if n[s] != 1 else s}" for s in SEVERITIES if zeros or n[s])
