"""`set` planned on the recorded host (pure): the refusals that need a bond, a guest or a
VLAN, which the namespace tests have no module for, and what a plan warns about."""

from __future__ import annotations

import pytest

from kvmtui.cli import read_snapshot_file
from kvmtui.kinds import SetLink, make_plan
from kvmtui.plan import PlanError
from tests.helpers import EXAMPLE


@pytest.fixture(scope="module")
def host():
    return read_snapshot_file(str(EXAMPLE))


@pytest.mark.parametrize(("intent", "field", "words"), [
    (SetLink("eno1", mtu=9000), "mtu",
     "eno1 is a slave of bond0, which sets its slaves' MTU: change bond0's instead"),
    (SetLink("eno1", mac="52:54:00:00:00:09"), "mac", "eno1 is a slave of bond0, which sets its slaves' MAC"),
    (SetLink("vnet0", down=True), "ifname", "vnet0 is guest web1's tap (libvirt made it and removes it)"),
    (SetLink("bond0.100", mtu=9000), "mtu", "bond0.100 is a vlan on bond0, whose MTU is 1500: it cannot be larger"),
    (SetLink("br100", mtu=9000), "mtu",
     "br100's port bond0.100 has MTU 1500 (vnet0, vnet1 below 9000 too): a bridge takes its smallest port's MTU"),
    (SetLink("br100", mac="52:54:00:6b:01:01"), "mac", "52:54:00:6b:01:01 is already used by guest web1"),
    (SetLink("br100", alias="x" * 256), "alias", "an alias is at most 255 bytes; this one has 256"),
    (SetLink("lo", mtu=1500), "ifname", "lo is the loopback device"),
    (SetLink("eno4", stp=True), "stp", "eno4 is a dummy: STP is for bridges only"),
])
def test_refusals_at_their_field(host, intent, field, words):
    with pytest.raises(PlanError) as refused:
        make_plan(intent, host)
    assert refused.value.field == field and words in str(refused.value), str(refused.value)


def test_lowering_a_bond_lowers_its_vlan_in_a_step_of_its_own(host):
    plan = make_plan(SetLink("bond0", mtu=1400), host)
    assert [step.command for step in plan.steps] == ["ip link set bond0.100 mtu 1400", "ip link set macvtap0 mtu 1400",
                                                     "ip link set bond0 mtu 1400"]
    assert [step.inverse.command for step in plan.steps] == ["ip link set bond0.100 mtu 1500",
                                                             "ip link set macvtap0 mtu 1500",
                                                             "ip link set bond0 mtu 1500"]
    assert "lowering bond0 to 1400 lowers what sits on it too: bond0.100 (1500 -> 1400), macvtap0 (1500 -> 1400)" \
        in plan.warnings


def test_vlan_filtering_off_on_a_filtering_bridge_needs_no_kernel_warning(host):
    plan = make_plan(SetLink("br100", vlan_filtering=False), host)
    assert [step.command for step in plan.steps] == ["ip link set br100 type bridge vlan_filtering 0"]
    assert plan.steps[0].inverse.command == "ip link set br100 type bridge vlan_filtering 1"
    assert not any("CONFIG_BRIDGE_VLAN_FILTERING" in w for w in plan.warnings)


def test_an_alias_alone_interrupts_nothing(host):
    plan = make_plan(SetLink("br-mgmt", alias="management"), host)
    assert [step.command for step in plan.steps] == ["ip link set br-mgmt alias management"]
    assert not any(step.interrupts() for step in plan.steps)
