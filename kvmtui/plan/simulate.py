"""What the host would look like after a plan (pure): the Snapshot with every step applied
to the model, so the confirmation can show the topology before and after."""

from __future__ import annotations

from dataclasses import replace

from kvmtui.facts import guests_in_view
from kvmtui.model import Snapshot
from kvmtui.plan.steps import SimulatedHost, Step


def simulate(snapshot: Snapshot, steps: tuple[Step, ...]) -> Snapshot:
    host = SimulatedHost(links={link.ifname: link for link in snapshot.links}, routes=list(snapshot.routes),
                         domains={d.name: d for d in snapshot.domains},
                         next_index=max((link.ifindex for link in snapshot.links), default=0) + 1,
                         guests_in_view=guests_in_view(snapshot), networks={n.name: n for n in snapshot.networks},
                         bridge_vlans=list(snapshot.bridge_vlans), ovs=snapshot.ovs)
    for step in steps:
        step.simulate(host)
    return replace(snapshot, links=tuple(host.links.values()), routes=tuple(host.routes),
                   domains=tuple(host.domains.values()), networks=tuple(host.networks.values()),
                   bridge_vlans=tuple(host.bridge_vlans), ovs=host.ovs)
