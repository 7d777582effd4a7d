"""`vlans PORT` and `bridge --vlan-filtering` planned on the recorded host (pure): br100 filters
VLANs, its ports (bond0.100, the guests' taps vnet0 and vnet1) are in VLAN 1, PVID untagged.
The undo is checked on the simulated host, which moves the PVID flag as the kernel does; the
kernel VM test (test_port_vlans_kernelvm.py) checks the same against a real bridge."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kvmtui.cli import read_snapshot_file
from kvmtui.kinds import CreateBridge, SetPortVlans, make_plan
from kvmtui.model import BridgeVlan
from kvmtui.plan import PlanError
from kvmtui.plan.simulate import simulate
from kvmtui.plan.steps import step_from_data
from tests.helpers import EXAMPLE


@pytest.fixture(scope="module")
def host():
    return read_snapshot_file(str(EXAMPLE))


def table(snapshot, port: str) -> list[tuple[int, bool, bool]]:
    return sorted((v.vlan, v.pvid, v.untagged) for v in snapshot.bridge_vlans if v.ifname == port)


def undone(snapshot, plan):
    """The host after the plan and then its undo, each step's inverse and the inverse's `then`
    steps in reverse order, as the executor runs them (read back from the journal's plain data)."""
    after = simulate(snapshot, plan.steps)
    undo = []
    for step in reversed([step_from_data(step.to_data()) for step in plan.steps]):
        undo += [step.inverse, *step.inverse.then]
    return after, simulate(after, tuple(undo))


def test_an_access_port_gets_its_vlan_as_pvid_and_loses_vlan_1(host):
    plan = make_plan(SetPortVlans("bond0.100", access=20), host)
    assert [step.command for step in plan.steps] == ["bridge vlan add dev bond0.100 vid 20 pvid untagged",
                                                     "bridge vlan del dev bond0.100 vid 1"]
    after, back = undone(host, plan)
    assert table(after, "bond0.100") == [(20, True, True)]
    assert table(back, "bond0.100") == [(1, True, True)]
    assert [e.unmet(after, None) for e in plan.expectations] == [None]
    assert plan.expectations[0].unmet(host, None) == "bond0.100's VLANs are 1 PVID untagged, not 20 PVID untagged"


def test_a_trunk_takes_ranges_keeps_its_pvid_and_can_put_the_bridge_in_the_vlans(host):
    plan = make_plan(SetPortVlans("bond0.100", trunk="30-32, 10,11", on_bridge=True), host)
    assert [step.command for step in plan.steps] == [
        "bridge vlan add dev bond0.100 vid 10-11", "bridge vlan add dev bond0.100 vid 30-32",
        "bridge vlan add dev br100 vid 10-11 self", "bridge vlan add dev br100 vid 30-32 self"]
    assert [step.inverse.command for step in plan.steps] == [
        "bridge vlan del dev bond0.100 vid 10-11", "bridge vlan del dev bond0.100 vid 30-32",
        "bridge vlan del dev br100 vid 10-11 self", "bridge vlan del dev br100 vid 30-32 self"]
    after, back = undone(host, plan)
    assert table(after, "bond0.100") == [(1, True, True), (10, False, False), (11, False, False), (30, False, False),
                                         (31, False, False), (32, False, False)]
    assert set(back.bridge_vlans) == set(host.bridge_vlans)
    assert not any("itself is not in VLAN" in w for w in plan.warnings)


def test_a_trunk_changed_again_moves_its_native_vlan_and_the_undo_gives_it_back(host):
    """From a trunk with native VLAN 5 and 10, 20 tagged to native 7 and 10, 30: the kernel moves
    the PVID flag off 5 when 7 is added; an undo that stops half-way must give it back."""
    ports = [v for v in host.bridge_vlans if v.ifname != "bond0.100"]
    trunk = replace(host, bridge_vlans=tuple(ports) + (BridgeVlan("bond0.100", 5, True, True),
                                                       BridgeVlan("bond0.100", 10, False, False),
                                                       BridgeVlan("bond0.100", 20, False, False)))
    plan = make_plan(SetPortVlans("bond0.100", trunk="10,30", pvid="7"), trunk)
    assert [step.command for step in plan.steps] == ["bridge vlan add dev bond0.100 vid 30",
                                                     "bridge vlan add dev bond0.100 vid 7 pvid untagged",
                                                     "bridge vlan del dev bond0.100 vid 5",
                                                     "bridge vlan del dev bond0.100 vid 20"]
    assert [s.command for s in plan.steps[1].inverse.then] == ["bridge vlan add dev bond0.100 vid 5 pvid untagged"]
    after, back = undone(trunk, plan)
    assert table(after, "bond0.100") == [(7, True, True), (10, False, False), (30, False, False)]
    assert table(back, "bond0.100") == table(trunk, "bond0.100")
    half = simulate(simulate(trunk, plan.steps[:2]), (plan.steps[1].inverse, *plan.steps[1].inverse.then,
                                                      plan.steps[0].inverse))
    assert table(half, "bond0.100") == table(trunk, "bond0.100")


def test_a_guest_tap_is_planned_with_the_durable_options_named(host):
    plan = make_plan(SetPortVlans("vnet0", access=100), host)
    warning = next(w for w in plan.warnings if "vnet0 is guest web1's tap" in w)
    for words in ("libvirt makes a new tap when the guest restarts", "Open vSwitch", "<vlan><tag", "a bridge per VLAN",
                  "portgroup"):
        assert words in warning


@pytest.mark.parametrize(("intent", "field", "words"), [
    (SetPortVlans("eno3", access=10), "port",
     "br-mgmt does not filter VLANs (vlan_filtering 0), so its ports' VLANs mean nothing: turn it on first with "
     "`kvmtui set br-mgmt --vlan-filtering on`"),
    (SetPortVlans("eno4", access=10), "port", "eno4 is on no bridge"),
    (SetPortVlans("eno1", access=10), "port", "eno1 is a slave of bond bond0"),
    (SetPortVlans("br100", access=10), "port", "br100 is the bridge itself"),
    (SetPortVlans("nosuch", access=10), "port", "nosuch"),
    (SetPortVlans("bond0.100", access=4095), "access", "VLAN ids are 1 to 4094 (0 and 4095 are reserved); 4095 is not"),
    (SetPortVlans("bond0.100", trunk="0,10"), "trunk", "VLAN ids are 1 to 4094 (0 and 4095 are reserved); 0 is not"),
    (SetPortVlans("bond0.100", trunk="30-20"), "trunk", "the range 30-20 runs backwards: write 20-30"),
    (SetPortVlans("bond0.100", trunk="10,,20"), "trunk", "is not a VLAN or a range"),
    (SetPortVlans("bond0.100", trunk="ten"), "trunk", "'ten' is not a VLAN or a range"),
    (SetPortVlans("bond0.100", trunk="1,10"), "pvid", "VLAN 1 is the port's PVID now"),
    (SetPortVlans("bond0.100", trunk="10", pvid="10"), "pvid", "VLAN 10 is the native one (untagged)"),
    (SetPortVlans("bond0.100", trunk="10", pvid="5000"), "pvid", "VLAN ids are 1 to 4094 (0 and 4095 are reserved)"),
    (SetPortVlans("bond0.100", access=10, pvid="5"), "pvid", "--pvid goes with --trunk"),
    (SetPortVlans("bond0.100", trunk="10", access=10), "access", "a trunk or an access port: not both"),
    (SetPortVlans("bond0.100"), "trunk", "give the VLANs: --trunk 10,20-30 (tagged) or --access 10"),
    (SetPortVlans("bond0.100", access=1), "port", "nothing to change: bond0.100 already has these VLANs "
                                                  "(1 PVID untagged)"),
    (CreateBridge("kt-br9", ("eno4",), trunk="10"), "trunk", "add --vlan-filtering"),
    (CreateBridge("kt-br9", ("eno4",), vlan_filtering=True, trunk="1,10"), "trunk", "VLAN 1 is the ports' untagged PVID"),
])
def test_refusals_at_their_field(host, intent, field, words):
    with pytest.raises(PlanError) as refused:
        make_plan(intent, host)
    assert refused.value.field == field and words in str(refused.value), str(refused.value)


def test_a_vlan_aware_bridge_with_a_trunk_uplink(host):
    plan = make_plan(CreateBridge("kt-br9", ("eno5",), vlan_filtering=True, trunk="10,20-22"), host)
    assert [step.command for step in plan.steps] == [
        "ip link add name kt-br9 type bridge stp_state 0 vlan_filtering 1", "ip link set eno5 master kt-br9",
        "bridge vlan add dev eno5 vid 10", "bridge vlan add dev eno5 vid 20-22", "ip link set kt-br9 up"]
    after = simulate(host, plan.steps)
    assert after.link("kt-br9").info_data.vlan_filtering
    assert table(after, "eno5") == [(1, True, True), (10, False, False), (20, False, False), (21, False, False),
                                    (22, False, False)]
    assert plan.warnings == ()  # saved with the rest (tests/test_persist_vlan_aware.py)


async def test_v_on_a_port_opens_its_vlans_and_elsewhere_says_why_not():
    """`v` on the tree (examples/kvm-host.json at 80x24): on guest web1's NIC, whose tap vnet0 is
    a port of VLAN-aware br100, the form plans it as an access port; on eno3, whose bridge does
    not filter, a sentence."""
    from textual.widgets import Input

    from kvmtui.ui.forms import ConfirmScreen, WizardScreen
    from scripts.screenshots import example_app, loaded, select
    from tests.dashboard import SIZE, notifications, screen_text, wait_for

    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await select(pilot, "dummy", "eno3")
        await pilot.press("v")
        await wait_for(pilot, lambda: any("kvmtui set br-mgmt --vlan-filtering on" in n for n in notifications(app)),
                       what="why eno3 has no VLANs to set")
        assert not isinstance(app.screen, WizardScreen)
        await select(pilot, "guest", "web1")  # its NIC: the tap vnet0
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen.focused is not None,
                       what="the VLANs form")
        assert app.screen.title_text == "VLANs of port vnet0"
        app.screen.query_one("#field-access", Input).value = "20"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        shown = " ".join(screen_text(app).split())
        assert "bridge vlan add dev vnet0 vid 20 pvid untagged" in shown and "guest web1's tap" in shown
