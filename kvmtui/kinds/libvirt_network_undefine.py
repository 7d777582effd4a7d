"""Removing a libvirt network: stopped (net-destroy), autostart off, undefined. Each step
undoes: the undefine keeps the network's whole XML, so an undo defines exactly that network
again (its UUID, bridge, DHCP hosts), turns autostart back on and starts it."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.kinds.network_checks import check_libvirt_read, network_named
from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection
from kvmtui.model import Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.expect import NetworkState
from kvmtui.plan.model import Plan
from kvmtui.plan.validate import PlanError


@dataclass(frozen=True, slots=True)
class UndefineNetwork:
    name: str


PARAMS = (Param("name", "the libvirt network to stop and undefine", offer=lambda _, sel: Offer(sel.ifname)),)


def plan_undefine_network(intent: UndefineNetwork, snapshot: Snapshot) -> Plan:
    check_libvirt_read(snapshot)
    network = network_named(snapshot, intent.name)
    if network is None:
        raise PlanError("name", f"there is no libvirt network {intent.name!r} (virsh net-list --all)")
    if not network.persistent:
        raise PlanError("name", f"{network.name} is a transient network (never defined): `virsh net-destroy "
                                f"{network.name}` removes it, and nothing could bring it back")
    if network.xml is None:
        raise PlanError("name", f"the snapshot has no XML of network {network.name} (recorded before it was kept): "
                                "nothing could define it again; re-read the host")
    steps: list[s.Step] = []
    warnings = []
    if network.active:
        steps.append(s.net_destroy(network.name))
        guests = sorted({d.name for d in snapshot.domains if d.active
                         for nic in d.interfaces if nic.network == network.name})
        if guests:
            warnings.append(f"guests lose their network {network.name}: {', '.join(guests)} (their NICs stay, "
                            "unplugged from any wire)")
    if network.autostart:
        steps.append(s.net_autostart(network.name, False))
    steps.append(s.net_undefine(network.name, network.xml))
    return Plan(intent, f"undefine libvirt network {network.name}", tuple(steps),
                (NetworkState(network.name, present=False),), tuple(warnings), (network.xml,))


def _title(snapshot: Snapshot, selection: Selection) -> str:
    return f"Undefine libvirt network {selection.ifname}"


SPEC = KindSpec("net-undefine", UndefineNetwork, PARAMS, plan_undefine_network,
                help="stop and undefine a libvirt network", title=_title,
                wizard=False)
