"""The wizards use what is known of each cable (issue 14), on the recorded host
(examples/kvm-host.json) with lldpd neighbours added as `dump --json` records them: the
bridge and bond wizards name each NIC's switch and port beside it, and the VLAN wizard
hints at the VLAN ids the switch announces (LLDP VLAN TLVs) and the dashboard heard."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kvmtui.kinds import COMMANDS, Selection
from kvmtui.model.wire import Neighbour, PortNeighbour, VlanSeen, WireReport
from kvmtui.serialize import read_snapshot_file
from tests.helpers import EXAMPLE


def _heard(ifname: str, switch: str, port: str, vlans: tuple[int, ...] = (), native: int | None = 1) -> PortNeighbour:
    return PortNeighbour(ifname, "lldpd", Neighbour("lldp", "52:54:00:00:00:0a", port, system_name=switch,
                                                    native_vlan=native, vlans=vlans))


@pytest.fixture(scope="module")
def host():
    snapshot = read_snapshot_file(str(EXAMPLE))
    return replace(snapshot, neighbours=(
        _heard("eno1", "sw-a", "Eth1/1", (1, 100, 200)), _heard("eno4", "sw-a", "Eth1/4", (1, 10, 20)),
        _heard("eno5", "sw-b", "Eth1/5")))


def _offer(host, command: str, field: str, selected: str | None = None):
    param = next(p for p in COMMANDS[command].params if p.name == field)
    return param.offered(host, Selection(selected))


def test_bridge_and_bond_wizards_name_the_switch_port(host):
    assert _offer(host, "bridge", "ports").options == (
        ("eno4 (dummy) to sw-a port Eth1/4", "eno4"), ("eno5 (dummy) to sw-b port Eth1/5", "eno5"),
        ("eno6 (dummy)", "eno6"))
    assert _offer(host, "bond", "slaves").options == (
        ("eno5 (dummy) to sw-b port Eth1/5", "eno5"), ("eno6 (dummy)", "eno6"))


def test_vlan_wizard_hints_at_the_vlans_on_the_wire(host):
    # a bond's VLANs are those of its slaves' cables; 100 is made already, the native VLAN 1 needs no device
    assert _offer(host, "vlan", "vid", "bond0").help == (
        "seen on the wire: bond0: 100 (exists), 200 (LLDP from sw-a port Eth1/1)")
    listened = WireReport("eno4", 30.0, 12, 8, (VlanSeen(10, 3), VlanSeen(30, 1)), (), (), (), 0)
    offer = _offer(replace(host, listened=(listened,)), "vlan", "vid", "eno4")
    assert offer.help == ("seen on the wire: eno4: 10 (LLDP from sw-a port Eth1/4, 3 frames heard), "
                          "20 (LLDP from sw-a port Eth1/4), 30 (1 frame heard)")
    assert offer.default == ""  # a hint, not a choice made for the user
    assert _offer(host, "vlan", "vid").help == (  # nothing selected: every parent offered (not eno1, a slave)
        "seen on the wire: eno4: 10 (LLDP from sw-a port Eth1/4), 20 (LLDP from sw-a port Eth1/4); "
        "bond0: 100 (exists), 200 (LLDP from sw-a port Eth1/1)")
    assert _offer(host, "vlan", "vid", "eno6").help is None  # nothing known: the field's own help
    assert _offer(host, "vlan", "vid", "eno1").help == _offer(host, "vlan", "vid").help  # a slave is no parent
