"""`ansible_local.kvmtui`: what a plain playbook wants to branch on, from one Snapshot and
its audit (pure). Small on purpose (Ansible keeps facts per host in memory): the bridges
with their ports, the bonds with each slave's health, the findings counted by severity and
listed by rule, and the schema version so that a playbook can refuse a shape it does not
know. The full picture is `kvmtui dump --json`."""

from __future__ import annotations

from kvmtui.audit import Finding, counts
from kvmtui.model import SCHEMA_VERSION, Snapshot

FACT_VERSION = 1  # of this fact's shape; `schema_version` is the snapshot's (docs/dump-json.md)


def ansible_fact(snapshot: Snapshot, findings: list[Finding] | tuple[Finding, ...]) -> dict:
    bridges = []
    for link in snapshot.links:
        if link.kind == "bridge":
            bridges.append({"name": link.ifname, "up": link.is_up,
                            "ports": sorted(p.ifname for p in snapshot.links if p.master == link.ifname)})
    bonds = [{"name": bond.name, "mode": bond.mode, "mii_status": bond.mii_status, "active_slave": bond.active_slave,
              "slaves": [{"name": s.name, "mii_status": s.mii_status, "speed": s.speed,
                          "link_failure_count": s.link_failure_count, "healthy": s.healthy} for s in bond.slaves],
              "healthy": bool(bond.slaves) and all(s.healthy for s in bond.slaves)} for bond in snapshot.bonds]
    return {
        "fact_version": FACT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "host": snapshot.host.hostname,
        "taken_at": snapshot.host.taken_at,
        "kvmtui_version": snapshot.host.kvmtui_version,
        "bridges": bridges,
        "bonds": bonds,
        "guests": {"running": sum(1 for d in snapshot.domains if d.active), "defined": len(snapshot.domains)},
        "findings": counts(findings),
        "finding_rules": sorted({f"{f.severity}:{f.rule}" for f in findings}),
        "problems": list(snapshot.problems),
    }
