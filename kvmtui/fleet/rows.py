"""One row per host of the fleet view (pure): what an administrator scans forty hosts for."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.audit import counts
from kvmtui.fleet.audit import HostFindings
from kvmtui.fleet.store import FleetHost

SORT_KEYS = ("host", "findings", "read")


@dataclass(frozen=True, slots=True)
class FleetRow:
    host: str
    status: str  # "ok", "unreachable", "no kvmtui", "failed"
    read_at: str  # when its newest snapshot was taken ("" none)
    bridges: int | None
    bonds: int | None
    guests: int | None
    errors: int
    warnings: int
    infos: int
    drift: int  # findings of the drift-* rules: live and saved configuration apart

    def cells(self) -> tuple:
        def n(value: int | None) -> str:
            return "-" if value is None else str(value)
        return (self.host, self.status, self.read_at.replace("T", " ")[:16], n(self.bridges), n(self.bonds),
                n(self.guests), str(self.errors), str(self.warnings), str(self.infos), str(self.drift))


COLUMNS = ("HOST", "STATUS", "READ (UTC)", "BRIDGES", "BONDS", "GUESTS", "ERR", "WARN", "INFO", "DRIFT")


def fleet_rows(hosts: list[FleetHost], results: list[HostFindings], snapshots: dict) -> list[FleetRow]:
    """`snapshots`: host -> its newest Snapshot (or None)."""
    by_host = {r.host: r for r in results}
    rows = []
    for host in hosts:
        name = host.status.host
        snapshot = snapshots.get(name)
        found = by_host[name].findings if name in by_host else ()
        tally = counts(found)
        rows.append(FleetRow(
            name, host.status.status, snapshot.host.taken_at if snapshot else "",
            sum(1 for link in snapshot.links if link.kind == "bridge") if snapshot else None,
            len(snapshot.bonds) if snapshot else None, len(snapshot.domains) if snapshot else None,
            tally["error"], tally["warning"], tally["info"], sum(1 for f in found if f.rule.startswith("drift-"))))
    return rows


def sorted_rows(rows: list[FleetRow], key: str, text: str = "") -> list[FleetRow]:
    """Filtered by `text` in the host name or status, sorted: by name, by findings (worst
    first), or by read time (oldest first: the stale ones)."""
    kept = [r for r in rows if text.lower() in r.host.lower() or text.lower() in r.status]
    if key == "findings":
        return sorted(kept, key=lambda r: (-r.errors, -r.warnings, -r.infos, r.host))
    if key == "read":
        return sorted(kept, key=lambda r: (r.read_at or "~", r.host))
    return sorted(kept, key=lambda r: r.host)
