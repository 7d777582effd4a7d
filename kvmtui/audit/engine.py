"""Run every rule over a snapshot (and, for the rules that compare, the previous one)."""

from __future__ import annotations

from kvmtui.audit import bonds, bridges, drift, guests, host, mtu, neighbours, ovs, vlans
from kvmtui.audit.findings import Finding
from kvmtui.model import Snapshot

_AREAS = (bonds, bridges, vlans, guests, mtu, host, drift, ovs, neighbours)
CHECKS = tuple(check for area in _AREAS for check in area.CHECKS)
DIFF_CHECKS = tuple(check for area in _AREAS for check in getattr(area, "DIFF_CHECKS", ()))
# rule id -> one line saying what it catches, in area order (bonds, bridges, bridge VLANs, guests, MTU, host, drift, OVS, LLDP)
RULES: dict[str, str] = {rule: text for area in _AREAS for rule, text in area.RULES.items()}


def audit(snapshot: Snapshot, previous: Snapshot | None = None) -> tuple[Finding, ...]:
    """Every finding, most serious first, then by object and rule (stable across runs).

    `previous` is an earlier snapshot of the same host: rules that look at change (bond
    link failures) compare against it; without it they stay silent."""
    found: list[Finding] = []
    for check in CHECKS:
        found.extend(check(snapshot))
    if previous is not None:
        for diff in DIFF_CHECKS:
            found.extend(diff(previous, snapshot))
    unique = dict.fromkeys(found)  # a rule may reach one object twice through two paths
    return tuple(sorted(unique, key=lambda f: (-f.rank, f.key, f.rule, f.what)))


def baseline(snapshot: Snapshot) -> Snapshot:
    """What of `snapshot` the comparing rules read as `previous`, kept for the session: of
    the FDB only the learned entries (a MAC that moved), not the static and permanent ones
    (50,000 on a big host, a second copy of them once the FDB is re-read)."""
    from dataclasses import replace

    return replace(snapshot, fdb=tuple(entry for entry in snapshot.fdb if entry.learned))
