"""A new Open vSwitch bridge, with the interfaces that become its ports.

Its datapath follows the host's other OVS bridges: netdev (userspace, DPDK) when every one
of them is netdev, since patch ports join only bridges of one datapath type; else OVS's
default (system, the kernel datapath), left unset as ovs-vsctl leaves it."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.kinds.ovs_checks import address_warnings, check_free_interface, check_new_ovs_name, free_interfaces, \
    ovs_running
from kvmtui.kinds.spec import KindSpec, Offer, Param, tuple_of
from kvmtui.model import Snapshot
from kvmtui.plan.expect_ovs import OvsBridgeState, OvsPortState
from kvmtui.plan.model import Plan
from kvmtui.plan.steps.ovs import ovs_bridge_add, ovs_port_add

DATAPATHS = ("system", "netdev")


@dataclass(frozen=True, slots=True)
class CreateOvsBridge:
    name: str
    ports: tuple[str, ...] = ()
    datapath: str | None = None  # None: as the host's other bridges (see the module's docstring)


def host_datapath(snapshot: Snapshot) -> str:
    bridges = snapshot.ovs.bridges if snapshot.ovs is not None else ()
    return "netdev" if bridges and all(b.datapath_type == "netdev" for b in bridges) else "system"


def _free_name(snapshot: Snapshot) -> str:
    taken = {b.name for b in snapshot.ovs.bridges} if snapshot.ovs is not None else set()
    return next(f"ovsbr{n}" for n in range(100) if f"ovsbr{n}" not in taken and snapshot.link(f"ovsbr{n}") is None)


PARAMS = (
    Param("name", "the new OVS bridge's name (at most 15 bytes: it is also a kernel device)", label="Name",
          offer=lambda snapshot, _: Offer(_free_name(snapshot))),
    Param("ports", "make IF a port (repeat for more); not a port of another OVS or Linux bridge, nor a bond "
                   "slave", "--port", "IF", repeat=True, cli_default=[], from_cli=tuple_of,
          label="Ports (Space selects)", widget="many",
          offer=lambda snapshot, selection: free_interfaces(snapshot, selection, many=True), from_form=tuple_of),
    Param("datapath", "system (kernel) or netdev (userspace); default: netdev when every other OVS bridge here is "
                      "netdev, else system", "--datapath", choices=DATAPATHS, label="Datapath", widget="choice",
          offer=lambda snapshot, _: Offer(host_datapath(snapshot), tuple((d, d) for d in DATAPATHS))),
)


def plan_create_ovs_bridge(intent: CreateOvsBridge, snapshot: Snapshot) -> Plan:
    check_new_ovs_name(snapshot, intent.name)
    seen: set[str] = set()
    ports = [check_free_interface(snapshot, port, "ports", seen) for port in intent.ports]
    datapath = intent.datapath or host_datapath(snapshot)
    chosen = intent.datapath is not None or datapath != "system"  # else OVS's default, unset
    steps = [ovs_bridge_add(intent.name, (("datapath_type", datapath),) if chosen else ())]
    steps += [ovs_port_add(intent.name, port.ifname) for port in ports]
    expectations = [OvsBridgeState(intent.name, datapath_type=datapath)]
    expectations += [OvsPortState(intent.name, port.ifname) for port in ports]
    return Plan(intent, f"create OVS bridge {intent.name}", tuple(steps), tuple(expectations),
                address_warnings(ports))


SPEC = KindSpec("ovs-bridge", CreateOvsBridge, PARAMS, plan_create_ovs_bridge, help="create an Open vSwitch bridge",
                title="New OVS bridge", noun="OVS bridge", new_key="s", available=ovs_running)
