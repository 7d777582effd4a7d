"""`set` on a bond, planned on the recorded host: slaves in and out, options, the rebuild a
new mode takes, each step's inverse, the refusals at their field, and the `e` form. The
kernel's side is tests/test_set_bond_kernelvm.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kvmtui import cli
from kvmtui.cli import read_snapshot_file
from kvmtui.kinds import SetLink, make_plan
from kvmtui.model import Address, Route
from kvmtui.plan import PlanError
from kvmtui.plan import steps as s
from kvmtui.plan.diff import confirmation
from kvmtui.plan.expect import AddressOn, LinkPresent, LinkSetting, RouteVia
from kvmtui.plan.simulate import simulate
from tests.helpers import EXAMPLE


@pytest.fixture(scope="module")
def host():
    """bond0: active-backup, miimon 100, primary eno1, slaves eno1 and eno2, bond0.100 on it
    (a port of br100); eno5 and eno6 free dummies; eno4 has an address; eno3 is in br-mgmt."""
    return read_snapshot_file(str(EXAMPLE))


def changed(host, name: str, **fields):
    """The host with one link changed (its info_data through `info`)."""
    info = fields.pop("info", None)
    links = tuple(replace(link, **fields, **({"info_data": replace(link.info_data, **info)} if info else {}))
                  if link.ifname == name else link for link in host.links)
    return replace(host, links=links)


def commands(plan):
    return [step.command for step in plan.steps], [step.inverse.command for step in plan.steps]


def test_a_new_slave_goes_down_to_be_enslaved(host):
    plan = make_plan(SetLink("bond0", add_slaves=("eno5",)), host)
    assert commands(plan) == (["ip link set eno5 down", "ip link set eno5 master bond0"],
                              ["ip link set eno5 up", "ip link set eno5 nomaster"])
    assert LinkPresent("eno5", master="bond0", up=True) in plan.expectations
    after = simulate(host, plan.steps)
    assert after.link("eno5").master == "bond0" and after.link("eno5").is_up


def test_a_removed_slave_comes_back_up(host):
    plan = make_plan(SetLink("bond0", remove_slaves=("eno2",)), host)
    assert commands(plan) == (["ip link set eno2 nomaster", "ip link set eno2 up"],
                              ["ip link set eno2 master bond0", "ip link set eno2 down"])
    assert LinkPresent("eno2", master="", up=True) in plan.expectations


def test_removing_the_slave_whose_mac_the_bond_took_warns(host):
    plan = make_plan(SetLink("bond0", remove_slaves=("eno1",)), host)
    assert any("eno1 takes back its own MAC 26:5d:84:4b:3d:c1, which bond0 keeps" in w for w in plan.warnings)


def test_mii_to_arp_is_one_step_undone_whole(host):
    plan = make_plan(SetLink("bond0", arp_interval=200, arp_ip_target=("192.0.2.1", "192.0.2.2")), host)
    assert commands(plan) == (
        ["ip link set bond0 type bond miimon 0 arp_interval 200 arp_ip_target 192.0.2.1,192.0.2.2"],
        ["ip link set bond0 type bond miimon 100 arp_interval 0 arp_ip_target ''"])
    assert LinkSetting("bond0", "arp_ip_target", ("192.0.2.1", "192.0.2.2")) in plan.expectations
    info = simulate(host, plan.steps).link("bond0").info_data
    assert (info.miimon, info.arp_interval, info.arp_ip_target) == (0, 200, ("192.0.2.1", "192.0.2.2"))


def test_primary_and_delays(host):
    plan = make_plan(SetLink("bond0", primary="eno2", miimon=200, updelay=400), host)
    assert commands(plan) == (["ip link set bond0 type bond miimon 200 updelay 400",
                               "ip link set bond0 type bond primary eno2"],
                              ["ip link set bond0 type bond miimon 100 updelay 0",
                               "ip link set bond0 type bond primary eno1"])
    cleared = make_plan(SetLink("bond0", primary=""), host)
    assert commands(cleared)[0] == ["echo > /sys/class/net/bond0/bonding/primary"]
    assert LinkSetting("bond0", "primary", None) in cleared.expectations


def test_the_form_sends_what_is_there_and_nothing_is_planned_for_it(host):
    same = SetLink("bond0", mode="active-backup", miimon=100, updelay=0, downdelay=0, arp_interval=0, primary="eno1",
                   lacp_rate="slow", xmit_hash_policy="layer2", alias="")
    with pytest.raises(PlanError, match="nothing to change"):
        make_plan(same, host)


def test_a_new_mode_rebuilds_the_bond_and_keeps_what_sits_on_it(host):
    host = changed(host, "bond0", addresses=(Address("inet6", "2001:db8::1", 64, "global"),))
    host = replace(host, routes=host.routes + (Route("inet", "10.50.0.0/16", "192.0.2.99", "bond0", None, "static",
                                                     "global", 254, None),))
    plan = make_plan(SetLink("bond0", mode="802.3ad", lacp_rate="fast", xmit_hash_policy="layer3+4"), host)
    forward, undo = commands(plan)
    assert forward == [
        "ip route del 10.50.0.0/16 via 192.0.2.99 proto static dev bond0",
        "ip addr del 2001:db8::1/64 dev bond0",
        "ip link set bond0 down",
        "ip link set eno2 nomaster",  # the slave whose MAC the bond has leaves last and comes back first
        "ip link set eno1 nomaster",
        "ip link set bond0 type bond mode 802.3ad",  # alone: the driver keeps what a refused message set before
        "ip link set bond0 type bond xmit_hash_policy layer3+4",
        "ip link set bond0 type bond lacp_rate fast",
        "ip link set eno1 master bond0",
        "ip link set eno2 master bond0",
        "ip link set bond0 up",
        "ip addr add 2001:db8::1/64 dev bond0 nodad && ip addr replace 2001:db8::1/64 dev bond0",
        "ip route add 10.50.0.0/16 via 192.0.2.99 proto static dev bond0"]
    assert undo[5:8] == ["ip link set bond0 type bond mode active-backup",
                         "ip link set bond0 type bond xmit_hash_policy layer2",
                         "ip link set bond0 type bond lacp_rate slow"]  # undone before the mode: still 802.3ad
    assert any("traffic through bond0 stops" in w for w in plan.warnings)
    for expected in (LinkSetting("bond0", "mode", "802.3ad"), LinkSetting("bond0", "ad_lacp_rate", "fast"),
                     LinkPresent("bond0", up=True), LinkPresent("bond0.100", up=True),
                     AddressOn("bond0", "2001:db8::1/64"), RouteVia("10.50.0.0/16", "bond0")):
        assert expected in plan.expectations
    tree = [line.text for line in confirmation(plan, host).tree if line.mark == "~"]
    assert any(text.startswith("bond0 bond  802.3ad") for text in tree), tree
    after = simulate(host, plan.steps)
    assert after.link("bond0.100").master == "br100" and after.link("eno2").master == "bond0"
    journalled = [s.step_from_data(step.to_data()) for step in plan.steps]
    assert [step.inverse.command for step in journalled] == undo


def test_a_new_mode_without_arp_monitoring_takes_mii(host):
    """The driver ends ARP monitoring itself (and would refuse arp_interval 0 in the new
    mode): the mode's undo puts it back, and a new MII interval is undone to the driver's."""
    host = changed(host, "bond0", info={"miimon": 0, "arp_interval": 200, "arp_ip_target": ("192.0.2.1",),
                                         "arp_validate": "active"})
    plan = make_plan(SetLink("bond0", mode="balance-alb"), host)
    step = next(step for step in plan.steps if step.setting("mode"))
    assert step.command == "ip link set bond0 type bond mode balance-alb"
    assert step.inverse.command == ("ip link set bond0 type bond mode active-backup miimon 0 arp_interval 200 "
                                    "arp_ip_target 192.0.2.1 arp_validate active")
    assert "balance-alb has no ARP monitoring: MII monitoring every 100 ms takes over" in plan.warnings
    assert LinkSetting("bond0", "arp_interval", 0) not in plan.expectations  # nothing asked: the driver's doing
    tuned = make_plan(SetLink("bond0", mode="balance-alb", miimon=200), host)
    step = next(step for step in tuned.steps if step.setting("miimon"))
    assert (step.command, step.inverse.command) == ("ip link set bond0 type bond miimon 200",
                                                    "ip link set bond0 type bond miimon 100")
    assert simulate(host, tuned.steps).link("bond0").info_data.miimon == 200


def test_lacp_rate_on_a_live_bond_takes_it_down_and_up(host):
    host = changed(host, "bond0", info={"mode": "802.3ad", "primary": None})
    plan = make_plan(SetLink("bond0", lacp_rate="fast"), host)
    assert commands(plan)[0] == ["ip link set bond0 down", "ip link set bond0 type bond lacp_rate fast",
                                 "ip link set bond0 up"]
    assert any("changes the LACP rate only while bond0 is down" in w for w in plan.warnings)


@pytest.mark.parametrize(("intent", "field", "words"), [
    (SetLink("bond0", add_slaves=("eno4",)), "add_slaves", "eno4 has 198.51.100.10/24; bond slaves are NICs without"),
    (SetLink("bond0", add_slaves=("eno3",)), "add_slaves", "eno3 is already a port of br-mgmt"),
    (SetLink("bond0", add_slaves=("eno1",)), "add_slaves", "eno1 is already a slave of bond0"),
    (SetLink("bond0", add_slaves=("eno5", "eno5")), "add_slaves", "eno5 is listed twice"),
    (SetLink("bond0", add_slaves=("eno5",), remove_slaves=("eno5",)), "remove_slaves", "eno5 is both added and removed"),
    (SetLink("bond0", remove_slaves=("eno5",)), "remove_slaves", "eno5 is not a slave of bond0"),
    (SetLink("bond0", primary="eno5"), "primary", "eno5 is not a slave of the bond (its slaves: eno1, eno2)"),
    (SetLink("bond0", mode="802.3ad", primary="eno2"), "primary",
     "a primary slave applies to active-backup, balance-tlb, balance-alb, not 802.3ad"),
    (SetLink("bond0", lacp_rate="fast"), "lacp_rate", "the LACP rate applies to 802.3ad only, not active-backup"),
    (SetLink("bond0", xmit_hash_policy="layer3+4"), "xmit_hash_policy", "not active-backup"),
    (SetLink("bond0", miimon=-1), "miimon", "the interval is 0 to"),
    (SetLink("bond0", updelay=150), "updelay", "a multiple of the MII interval (100 ms): the driver would round 150"),
    (SetLink("bond0", arp_interval=100, arp_ip_target=("fe80::1",)), "arp_ip_target", "is not an IPv4 address"),
    (SetLink("bond0", arp_interval=100), "arp_ip_target", "ARP monitoring needs at least one target"),
    (SetLink("bond0", miimon=200, arp_interval=100, arp_ip_target=("192.0.2.1",)), "arp_interval",
     "choose MII or ARP monitoring, not both"),
    (SetLink("bond0", mode="802.3ad", arp_interval=100, arp_ip_target=("192.0.2.1",)), "arp_interval",
     "ARP monitoring does not work in 802.3ad mode"),
    (SetLink("bond0", mode="roundrobin"), "mode", "unknown bonding mode 'roundrobin'"),
    (SetLink("br100", miimon=200), "miimon", "br100 is a bridge: MII monitoring is for bonds only"),
])
def test_refusals_at_their_field(host, intent, field, words):
    with pytest.raises(PlanError) as refused:
        make_plan(intent, host)
    assert refused.value.field == field and words in str(refused.value), str(refused.value)


def test_cli_plan_shows_the_rebuild(host, capsys):
    code = cli.main(["--from", str(EXAMPLE), "plan", "set", "bond0", "--mode", "4", "--add-slave", "eno5",
                     "--remove-slave", "eno2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "ip link set bond0 type bond mode 802.3ad" in out and "ip link set eno5 master bond0" in out
    assert "ip link set eno2 nomaster" in out and "traffic through bond0 stops" in out


async def test_the_edit_wizard_on_a_bond_asks_its_settings_with_their_values(host):
    """`e` on bond0 of the recorded host (this kernel has no bonding to apply on): its
    fields with the bond's values, a refusal under its field, then the rebuild planned."""
    from textual.widgets import Input, Select

    from kvmtui.kinds import COMMANDS, Selection
    from kvmtui.ui.app import DashboardOptions, KvmtuiApp
    from kvmtui.ui.forms import WizardScreen
    from kvmtui.ui.wizards import wizard
    from tests.dashboard import wait_for

    planned = []
    app = KvmtuiApp(DashboardOptions(), recorded=host)
    async with app.run_test(size=(120, 60)) as pilot:
        await wait_for(pilot, lambda: app.audits_shown > 0, what="the dashboard with its findings")
        await app.push_screen(wizard(COMMANDS["set"], host, Selection("bond0")), planned.append)
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen), what="the wizard")
        screen = app.screen
        shown = [w.id.removeprefix("field-") for w in screen.query("*") if (w.id or "").startswith("field-")]
        assert shown[4:] == ["add_slaves", "remove_slaves", "mode", "miimon", "updelay", "downdelay", "arp_interval",
                             "arp_ip_target", "primary", "lacp_rate", "xmit_hash_policy"]
        assert screen.query_one("#field-mode", Select).value == "active-backup"
        assert screen.query_one("#field-miimon", Input).value == "100"
        assert screen.query_one("#field-primary", Input).value == "eno1"
        screen.query_one("#field-primary", Input).value = "eno5"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "eno5 is not a slave of the bond" in str(screen.query_one("#error-primary").render()),
                       what="the refusal under its field")
        screen.query_one("#field-primary", Input).value = "eno1"
        screen.query_one("#field-mode", Select).value = "balance-alb"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: planned, what="the plan")
    assert "ip link set bond0 type bond mode balance-alb" in [step.command for step in planned[0].steps]
    assert [field.name for field in wizard(COMMANDS["set"], host, Selection("eno5")).fields] == ["mtu", "up", "mac",
                                                                                                 "alias"]
