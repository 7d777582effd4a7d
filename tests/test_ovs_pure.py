"""OVS with the kernel datapath, which this machine cannot run (no openvswitch module): the
kernel's own `openvswitch` links and taps merge with the OVS nodes (pure, on a built
snapshot), and ovs-appctl's text parses as OVS 3.1 prints it."""

from __future__ import annotations

from kvmtui.collect.ovs import parse_bond_show, parse_fdb_show, parse_lacp_show
from kvmtui.model import (Domain, DomainInterface, HostInfo, OvsBridge, OvsInterface, OvsPort, OvsState,
                          Snapshot)
from kvmtui.topology import build_forest, walk
from kvmtui.views import bridge_of, node_details
from tests.helpers import link

UUID = "11111111-2222-3333-4444-555555555555"
MAC = "52:54:00:00:00:09"


def _kernel_datapath_host() -> Snapshot:
    links = (link("lo", 1, None, flags=("LOOPBACK", "UP", "LOWER_UP")), link("eth1", 2, None, master="ovs-system"),
             link("ovs-system", 3, "openvswitch"), link("br0", 4, "openvswitch", master="ovs-system"),
             link("vnet0", 5, "tun", master="ovs-system"))
    ports = (OvsPort("br0", (OvsInterface("br0", "internal", 65534, "up", "up"),)),
             OvsPort("eth1", (OvsInterface("eth1", "system", 1, "up", "up"),)),
             OvsPort("vnet0", (OvsInterface("vnet0", "system", 2, "up", "up",
                                            external_ids=(("attached-mac", MAC), ("vm-id", UUID))),)))
    nic = DomainInterface("bridge", MAC, "virtio", "vnet0", "br0", "br0", None, None, None, None, None,
                          virtualport="openvswitch")
    host = HostInfo("h", "6.1", "2026-01-01T00:00:00+00:00", None, None, None, "test")
    return Snapshot(host=host, links=links, domains=(Domain("web1", UUID, "running", 1, True, (nic,)),),
                    ovs=OvsState(bridges=(OvsBridge("br0", "system", ports),)))


def test_the_bridges_kernel_link_is_the_ovs_bridge_node():
    snapshot = _kernel_datapath_host()
    nodes = [(depth, node) for depth, node in walk(build_forest(snapshot))]
    full = [node for _d, node in nodes if node.key == "link:br0"]
    assert len(full) == 1 and full[0].kind == "ovs-bridge"  # one node, not an openvswitch link beside it
    chain = [(d, n.name) for d, n in nodes if n.ref is None]
    assert chain[:4] == [(0, "eth1"), (1, "br0"), (2, "vnet0"), (3, "web1")]  # NIC -> OVS bridge -> tap -> guest
    assert bridge_of(snapshot, "vnet0") == "br0"
    _title, lines = node_details(snapshot, build_forest(snapshot), "link:br0")
    labels = dict(lines)
    assert labels["ovs bridge"] == "datapath system" and labels["kind"] == "openvswitch"  # OVS lines, then the link's


BOND_SHOW = """---- bond0 ----
bond_mode: active-backup
lacp_status: off
active-backup primary: <none>
active member mac: aa:55:aa:55:00:03(p1)

member p1: enabled
  active member
  may_enable: true

member p2: disabled
  may_enable: false

"""

LACP_SHOW = """---- bond1 ----
  status: active negotiated
  sys_id: ea:64:83:1e:4c:42

member: q1: current attached
  port_id: 2
  may_enable: true

  partner sys_id: 00:11:22:33:44:55
  partner state: activity aggregation

member: q2: expired defaulted
  may_enable: false

  partner sys_id: 00:00:00:00:00:00
"""

FDB_SHOW = """ port  VLAN  MAC                Age
    1     0  52:54:00:aa:00:01    3
LOCAL   100  52:54:00:aa:00:02  static
    9     0  52:54:00:aa:00:03    1
"""


def test_appctl_text_parses():
    assert parse_bond_show(BOND_SHOW) == {"bond0": {"lacp_status": "off", "active": "p1",
                                                    "members": {"p1": [True, True], "p2": [False, False]}}}
    assert parse_lacp_show(LACP_SHOW) == {"bond1": {"q1": ("current attached", "00:11:22:33:44:55"),
                                                    "q2": ("expired defaulted", "00:00:00:00:00:00")}}
    bridge = OvsBridge("br0", "netdev", (OvsPort("bond0", (OvsInterface("p1", "system", 2),
                                                           OvsInterface("p2", "system", 1))),))
    entries = parse_fdb_show(FDB_SHOW, bridge)
    assert [(e.port, e.vlan, e.mac, e.age) for e in entries] == [
        ("bond0", 0, "52:54:00:aa:00:01", 3), ("br0", 100, "52:54:00:aa:00:02", None), ("9", 0, "52:54:00:aa:00:03", 1)]
    assert parse_fdb_show(FDB_SHOW + "a note a later OVS adds\n", bridge) == entries  # line by line then
