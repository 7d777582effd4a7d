"""Findings as text (80 columns, no colour), JSON (docs/audit.md) and Markdown."""

from __future__ import annotations

import json
import textwrap

from kvmtui.audit.findings import Finding, counts, counts_text, reaches
from kvmtui.facts import kernel_read, libvirt_read
from kvmtui.model import Snapshot
from kvmtui.serialize import to_jsonable

WIDTH = 80
AUDIT_SCHEMA = 1


def lacp_hidden(snapshot: Snapshot) -> list[str]:
    """802.3ad bonds whose bonding file (procfs or sysfs) was read without CAP_NET_ADMIN: the
    kernel then prints no aggregator, actor system or partner MAC, so nothing says whether
    a partner answers (bond-lacp-no-partner stays silent)."""
    return [bond.name for bond in snapshot.bonds
            if bond.mode == "802.3ad" and bond.source in ("procfs", "sysfs")
            and bond.active_aggregator is None and not bond.no_active_aggregator and bond.ad_actor_system is None
            and all(slave.partner is None or slave.partner.system_mac is None for slave in bond.slaves)]


def not_judged(snapshot: Snapshot) -> list[str]:
    """What the snapshot did not hold, so the rules that need it stayed silent."""
    notes = []
    if not kernel_read(snapshot):
        notes.append("the snapshot has no network devices: kernel rules were not run")
    if snapshot.host.libvirt_uri is None:
        notes.append("libvirt was not read (--no-libvirt): guest rules judged the kernel only")
    elif not libvirt_read(snapshot):
        notes.append(f"libvirt could not be read ({snapshot.libvirt_error}): guest rules judged the kernel only")
    elif snapshot.host.netns is not None:
        notes.append(f"guests' devices live in the host's namespace, not in {snapshot.host.netns}: "
                     "missing-device and orphan-tap rules were not run")
    hidden = lacp_hidden(snapshot)
    if hidden:
        notes.append(f"LACP partner of {', '.join(hidden)} not judged: the bonding "
                     f"file{'s were' if len(hidden) > 1 else ' was'} read without CAP_NET_ADMIN, and the kernel "
                     "then leaves out the partner details (audit as root)")
    return notes + list(snapshot.problems)


def _title(snapshot: Snapshot) -> str:
    host = snapshot.host
    return host.hostname + (f" netns {host.netns}" if host.netns else "")


def _wrap(text: str, indent: str, first: str | None = None) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=first if first is not None else indent,
                         subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)


def _command_lines(command: str, indent: str = "    $ ") -> list[str]:
    """A shell command, continued with backslashes when it does not fit."""
    room = WIDTH - len(indent) - 2
    words, lines, line = command.split(" "), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > room:
            lines.append(line + " \\")
            line = "  " + word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return [indent + lines[0]] + [" " * len(indent) + rest for rest in lines[1:]]


def text_report(snapshot: Snapshot, findings: tuple[Finding, ...]) -> str:
    lines = _wrap(f"kvmtui audit of {_title(snapshot)}, snapshot {snapshot.host.taken_at}", "")
    lines.append(counts_text(findings))
    for finding in findings:
        lines.append("")
        lines += _wrap(f"{finding.severity.upper():<7}  {finding.rule}  {finding.key}", "  ", "")
        lines += _wrap(f"{finding.subject}: {finding.what}", "  ")
        lines += _wrap(finding.why, "       ", "  why: ")
        lines += _wrap(finding.fix, "       ", "  fix: ")
        for command in finding.commands:
            lines += _command_lines(command)
    notes = not_judged(snapshot)
    if notes:
        lines.append("")
        for note in notes:
            lines += _wrap(note, "  ", "note: ")
    return "\n".join(lines) + "\n"


def json_report(snapshot: Snapshot, findings: tuple[Finding, ...], fail_on: str) -> str:
    document = {
        "schema": AUDIT_SCHEMA,
        "host": to_jsonable(snapshot.host),
        "counts": counts(findings),
        "fail_on": fail_on,
        "failed": reaches(findings, fail_on),
        "findings": [to_jsonable(f) for f in findings],
        "not_judged": not_judged(snapshot),
        "lacp_not_judged": lacp_hidden(snapshot),
    }
    return json.dumps(document, indent=1) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_report(snapshot: Snapshot, findings: tuple[Finding, ...]) -> str:
    host = snapshot.host
    out = [f"# kvmtui audit: {_title(snapshot)}", "",
           f"Snapshot taken {host.taken_at}, kernel {host.kernel}.", "",
           f"**{counts_text(findings)}**", ""]
    if findings:
        out += ["| # | Severity | Rule | Object | What |", "|---|---|---|---|---|"]
        out += [f"| {n} | {f.severity} | `{f.rule}` | `{_cell(f.key)}` | {_cell(f.subject)}: {_cell(f.what)} |"
                for n, f in enumerate(findings, 1)]
        for n, f in enumerate(findings, 1):
            out += ["", f"## {n}. {f.severity}: {f.subject} (`{f.rule}`)", "", f"{f.what}.", "",
                    f"- **Object:** `{f.key}`", f"- **Why it matters:** {f.why}.", f"- **Fix:** {f.fix}."]
            if f.commands:
                out += ["", "```sh", *f.commands, "```"]
    notes = not_judged(snapshot)
    if notes:
        out += ["", "## Not judged", ""] + [f"- {note}" for note in notes]
    return "\n".join(out) + "\n"
