"""Findings across a fleet directory, each with its host (pure once the snapshots are read):
every host's newest snapshot through the same rules as `kvmtui audit` (its previous one for
what grew), and a host the last collection did not reach, or whose kvmtui failed, as a
finding of its own: a fleet audit that is silent about a lost host would read as clean."""

from __future__ import annotations

import json
from dataclasses import dataclass

from kvmtui.audit import Finding, audit, counts, counts_text, reaches
from kvmtui.errors import KvmtuiError
from kvmtui.fleet.store import FleetHost
from kvmtui.serialize import to_jsonable

FLEET_AUDIT_SCHEMA = 1


@dataclass(frozen=True, slots=True)
class HostFindings:
    host: str
    findings: tuple[Finding, ...]
    taken_at: str | None  # of the snapshot judged; None: none could be read


def fleet_findings(hosts: list[FleetHost]) -> list[HostFindings]:
    out = []
    for host in hosts:
        status = host.status
        own: list[Finding] = []
        if status.status != "ok":
            own.append(Finding(
                "fleet-host-not-collected", "error" if status.status == "failed" else "warning", f"host:{status.host}",
                status.host, f"the last collection ({status.when}) found it {status.status}: {status.reason}",
                "what it shows below is an older snapshot, or nothing", "reach it again (SSH, kvmtui installed), then "
                "`kvmtui fleet collect` again"))
        try:
            snapshot, previous = host.snapshot(), host.previous_snapshot()
        except KvmtuiError as exc:
            own.append(Finding("fleet-snapshot-unreadable", "error", f"host:{status.host}", status.host, str(exc),
                               "its network cannot be judged", "collect it again"))
            snapshot = previous = None
        if snapshot is not None:
            own += audit(snapshot, previous)
        out.append(HostFindings(status.host, tuple(own), snapshot.host.taken_at if snapshot else None))
    return out


def fleet_reaches(results: list[HostFindings], threshold: str) -> bool:
    return any(reaches(r.findings, threshold) for r in results)


def fleet_text(results: list[HostFindings]) -> str:
    lines = []
    for result in results:
        lines.append(f"{result.host}: {counts_text(result.findings)}"
                     + (f" (snapshot {result.taken_at})" if result.taken_at else ""))
        lines += [f"  {f.severity:<7} {f.rule}: {f.subject}: {f.what}" for f in result.findings]
    total = [f for r in results for f in r.findings]
    lines.append(f"{len(results)} host(s): {counts_text(total)}")
    return "\n".join(lines) + "\n"


def fleet_json(results: list[HostFindings], fail_on: str) -> str:
    total = [f for r in results for f in r.findings]
    document = {"schema": FLEET_AUDIT_SCHEMA, "counts": counts(total), "fail_on": fail_on,
                "failed": fleet_reaches(results, fail_on),
                "hosts": [{"host": r.host, "taken_at": r.taken_at, "counts": counts(r.findings),
                           "findings": [{"host": r.host, **to_jsonable(f)} for f in r.findings]} for r in results]}
    return json.dumps(document, indent=1) + "\n"
