"""`guest-set`: a guest NIC's link state, bridge and model, planned on the recorded KVM host
(examples/kvm-host.json: web1 runs on br100 through vnet0, db1 has a macvtap on bond0,
build1 is shut off on libvirt network lan100). Pure: no daemon; the real-daemon proof is
tests/test_apply_guest_nic.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kvmtui import cli
from kvmtui.cli import read_snapshot_file
from kvmtui.kinds import SetGuestNic, make_plan
from kvmtui.libvirt_xml import parse_interface_xml
from kvmtui.plan import steps as s
from kvmtui.plan.diff import confirmation
from kvmtui.plan.expect import GuestNicState, LinkPresent, expectation_from_data, expectation_to_data
from kvmtui.plan.restore import restored_expectations
from kvmtui.plan.simulate import simulate
from kvmtui.plan.validate import PlanError
from tests.helpers import EXAMPLE

WEB1 = "52:54:00:6b:01:01"  # bridge NIC on br100, vnet0
DB1_MACVTAP = "52:54:00:6b:02:01"
BUILD1 = "52:54:00:6b:04:01"  # network NIC of a shut-off guest


@pytest.fixture(scope="module")
def host():
    return read_snapshot_file(str(EXAMPLE))


def nic_of(snapshot, domain: str, mac: str, defined: bool = False):
    found = next(d for d in snapshot.domains if d.name == domain)
    return found.defined_interface(mac) if defined else next(n for n in found.interfaces if n.mac == mac)


def test_link_down_changes_the_definition_first_then_the_running_guest(host):
    plan = make_plan(SetGuestNic("web1", WEB1, link_state="down"), host)
    assert plan.commands == ("virsh update-device web1 nic.xml --config", "virsh update-device web1 nic.xml --live")
    config, live = plan.steps
    assert parse_interface_xml(config.xml).link_state == "down" and parse_interface_xml(live.xml).link_state == "down"
    # each undoes with the element libvirt printed for its place (the live one keeps its alias)
    assert config.inverse.xml == nic_of(host, "web1", WEB1, defined=True).xml
    assert live.inverse.xml == nic_of(host, "web1", WEB1).xml and 'alias name="net0"' in live.xml
    assert GuestNicState("web1", WEB1, True, False, link_state="down") in plan.expectations
    assert any("cable" in w and "pulled out" in w for w in plan.warnings)
    after = simulate(host, plan.steps)
    assert nic_of(after, "web1", WEB1).link_state == "down"
    assert nic_of(after, "web1", WEB1, defined=True).link_state == "down"


def test_link_up_when_already_up_is_nothing_to_change(host):
    with pytest.raises(PlanError, match="nothing to change") as caught:
        make_plan(SetGuestNic("web1", WEB1, link_state="up"), host)
    assert caught.value.field == "link_state"


def test_a_live_move_to_another_bridge_moves_the_tap(host):
    plan = make_plan(SetGuestNic("web1", WEB1, bridge="br-mgmt"), host)
    assert [parse_interface_xml(step.xml).bridge for step in plan.steps] == ["br-mgmt", "br-mgmt"]
    assert [parse_interface_xml(step.inverse.xml).bridge for step in plan.steps] == ["br100", "br100"]
    assert LinkPresent("vnet0", master="br-mgmt") in plan.expectations
    assert simulate(host, plan.steps).link("vnet0").master == "br-mgmt"
    shown = confirmation(plan, host, None)
    assert "br-mgmt" in "\n".join(shown.xml) and any("moves from br100 to br-mgmt" in w for w in plan.warnings)


def test_a_model_goes_into_the_definition_only_and_says_when_it_counts(host):
    plan = make_plan(SetGuestNic("web1", WEB1, model="e1000"), host)
    (step,) = plan.steps
    assert (step.live, step.config) == (False, True) and parse_interface_xml(step.xml).model == "e1000"
    assert 'slot="0x02"' in step.xml  # the PCI address stays: the guest starts with the NIC where it was
    assert any("next start" in w and "keeps virtio" in w for w in plan.warnings)
    assert plan.expectations == (GuestNicState("web1", WEB1, False, True, model="e1000"),)


def test_a_shut_off_guest_is_changed_in_its_definition(host):
    plan = make_plan(SetGuestNic("build1", BUILD1, link_state="down", model="e1000e"), host)
    (step,) = plan.steps
    assert (step.live, step.config) == (False, True)
    nic = parse_interface_xml(step.xml)
    assert (nic.link_state, nic.model, nic.network) == ("down", "e1000e", "lan100")
    assert not any("next start" in w for w in plan.warnings)  # it is not running: nothing to wait for


def test_a_transient_guest_cannot_change_a_model(host):
    web1 = next(d for d in host.domains if d.name == "web1")
    transient = replace(host, domains=(replace(web1, persistent=False, defined_interfaces=(), defined_macs=()),))
    with pytest.raises(PlanError, match="QEMU cannot change a running NIC's model"):
        make_plan(SetGuestNic("web1", WEB1, model="e1000"), transient)
    (live,) = make_plan(SetGuestNic("web1", WEB1, link_state="down"), transient).steps
    assert (live.live, live.config) == (True, False)


@pytest.mark.parametrize("intent, field, words", [
    (SetGuestNic("kt-nobody", WEB1, link_state="down"), "domain", "there is no guest 'kt-nobody'"),
    (SetGuestNic("web1", "52:54:00:00:00:99", link_state="down"), "mac", "has no interface 52:54:00:00:00:99"),
    (SetGuestNic("web1", WEB1, bridge="kt-nosuch"), "bridge", "there is no bridge 'kt-nosuch'"),
    (SetGuestNic("web1", WEB1, bridge="bond0"), "bridge", "bond0 is a bond, not a Linux or Open vSwitch bridge"),
    (SetGuestNic("db1", DB1_MACVTAP, bridge="br100"), "bridge", "macvtap interface on bond0"),
    (SetGuestNic("build1", BUILD1, bridge="br100"), "bridge", "on libvirt network lan100"),
    (SetGuestNic("web1", WEB1, model="usb-net"), "model", "usb-net is a USB NIC and virtio a PCI one"),
    (SetGuestNic("web1", WEB1, model="e999"), "model", "QEMU has no NIC model 'e999'"),
])
def test_bad_input_is_refused_at_its_field(host, intent, field, words):
    with pytest.raises(PlanError) as caught:
        make_plan(intent, host)
    assert caught.value.field == field and words in str(caught.value)


def test_the_macvtap_refusal_says_what_to_do_instead(host):
    with pytest.raises(PlanError, match="detach it and attach one on br100 instead"):
        make_plan(SetGuestNic("db1", DB1_MACVTAP, bridge="br100"), host)
    # its link state changes like any NIC's
    assert len(make_plan(SetGuestNic("db1", DB1_MACVTAP, link_state="down"), host).steps) == 2


def test_steps_and_expectations_survive_a_journal(host):
    plan = make_plan(SetGuestNic("web1", WEB1, link_state="down", bridge="br-mgmt"), host)
    for step in plan.steps:
        again = s.step_from_data(step.to_data())
        assert again == step and again.inverse == step.inverse and again.inverse.xml == step.inverse.xml
    for expectation in plan.expectations:
        assert expectation_from_data(expectation_to_data(expectation)) == expectation


def test_a_revert_is_checked_against_the_nic_as_it_was(host):
    plan = make_plan(SetGuestNic("web1", WEB1, link_state="down", bridge="br-mgmt"), host)
    restored = restored_expectations(plan, host)
    assert GuestNicState("web1", WEB1, True, False, "up", "br100", "virtio", "none") in restored
    assert GuestNicState("web1", WEB1, False, True, "up", "br100", "virtio", "none") in restored
    # and that is what the recorded host is: met on it
    assert [e.unmet(host, lambda name: None) for e in restored if isinstance(e, GuestNicState) and e.live] == [None]


def test_the_cli_refuses_in_process_and_shows_a_plan(capsys):
    code = cli.main(["plan", "--from", str(EXAMPLE), "guest-set", "web1", WEB1, "--bridge", "kt-nosuch"])
    assert code != 0 and "there is no bridge 'kt-nosuch'" in capsys.readouterr().err
    code = cli.main(["plan", "--from", str(EXAMPLE), "guest-set", "web1", WEB1])
    assert code != 0 and "give what changes: --link, --bridge, --model or --vlan" in capsys.readouterr().err
    code = cli.main(["plan", "--from", str(EXAMPLE), "guest-set", "web1", WEB1, "--link", "down", "--model", "e1000"])
    out = capsys.readouterr().out
    assert code == 0 and "virsh update-device web1 nic.xml --config" in out and "next start" in out


def test_an_older_recording_without_the_element_is_refused(host):
    """Rebuilt from the few fields, an update would replace the NIC's PCI address, driver and
    the rest of the definition's element with nothing."""
    web1 = next(d for d in host.domains if d.name == "web1")
    old = replace(web1, interfaces=tuple(replace(n, xml=None) for n in web1.interfaces))
    with pytest.raises(PlanError, match="older recording"):
        make_plan(SetGuestNic("web1", WEB1, link_state="down"), replace(host, domains=(old,)))


# -- a NIC on Open vSwitch: its VLAN tag, and moves onto, off and between OVS bridges -----
OVS_NIC = ('<interface type="bridge"><mac address="52:54:00:6b:01:01" /><source bridge="ovsbr0" />'
           '<vlan><tag id="10" /></vlan><virtualport type="openvswitch"><parameters interfaceid="0b5e" />'
           '</virtualport><target dev="vnet0" /><model type="virtio" />{alias}'
           '<address type="pci" domain="0x0000" bus="0x00" slot="0x02" function="0x0" /></interface>')


@pytest.fixture(scope="module")
def ovs_host(host):
    """web1's NIC on OVS bridge ovsbr0 with tag 10 (running and in its definition); a second
    OVS bridge ovsbr1 and a fake bridge ovsbr0.7."""
    from kvmtui.model import OvsBridge, OvsFakeBridge, OvsInterface, OvsPort, OvsState

    live = parse_interface_xml(OVS_NIC.format(alias='<alias name="net0" />'))
    config = parse_interface_xml(OVS_NIC.format(alias=""))
    web1 = next(d for d in host.domains if d.name == "web1")
    web1 = replace(web1, interfaces=(live,), defined_interfaces=(config,))
    local = [OvsPort(name, (OvsInterface(name, "internal", 65534, "up", "up"),)) for name in ("ovsbr0", "ovsbr1")]
    tap = OvsPort("vnet0", (OvsInterface("vnet0", "", 2, "up", "up"),), tag=10)
    fake = OvsPort("ovsbr0.7", (OvsInterface("ovsbr0.7", "internal", 3, "up", "up"),), tag=7, fake_bridge=True)
    ovs = OvsState(bridges=(OvsBridge("ovsbr0", "system", (local[0], tap, fake)), OvsBridge("ovsbr1", "system",
                                                                                              (local[1],))),
                   fake_bridges=(OvsFakeBridge("ovsbr0.7", "ovsbr0", 7),))
    return replace(host, ovs=ovs, domains=tuple(web1 if d.name == "web1" else d for d in host.domains))


def shut_off(snapshot, name: str = "web1"):
    domain = next(d for d in snapshot.domains if d.name == name)
    off = replace(domain, id=None, state="shut off", interfaces=domain.defined_interfaces)
    return replace(snapshot, domains=tuple(off if d.name == name else d for d in snapshot.domains))


def refusal(intent, snapshot) -> PlanError:
    with pytest.raises(PlanError) as caught:
        make_plan(intent, snapshot)
    return caught.value


def test_a_vlan_tag_changes_in_the_definition_and_on_the_running_port(ovs_host):
    from kvmtui.plan.expect_ovs import OvsPortState

    plan = make_plan(SetGuestNic("web1", WEB1, vlan="42"), ovs_host)
    assert plan.commands == ("virsh update-device web1 nic.xml --config", "virsh update-device web1 nic.xml --live")
    for step in plan.steps:
        nic = parse_interface_xml(step.xml)
        assert (nic.vlan_tags, nic.virtualport, nic.bridge) == ((42,), "openvswitch", "ovsbr0")
        assert 'interfaceid="0b5e"' in step.xml  # the port's identity stays, so libvirt only retags it
    assert GuestNicState("web1", WEB1, True, False, vlan="42") in plan.expectations
    assert GuestNicState("web1", WEB1, False, True, vlan="42") in plan.expectations
    assert OvsPortState("ovsbr0", "vnet0", tag=42, opened=False) in plan.expectations
    assert any("on VLAN 42 at once" in w for w in plan.warnings)
    assert nic_of(simulate(ovs_host, plan.steps), "web1", WEB1).vlan_tags == (42,)
    for expectation in plan.expectations:
        assert expectation_from_data(expectation_to_data(expectation)) == expectation
    # the revert is checked against tag 10
    assert GuestNicState("web1", WEB1, True, False, "up", "ovsbr0", "virtio", "10") \
        in restored_expectations(plan, ovs_host)


def test_vlan_none_takes_the_tag_away(ovs_host):
    from kvmtui.plan.expect_ovs import OvsPortState

    plan = make_plan(SetGuestNic("web1", WEB1, vlan="none"), ovs_host)
    assert all("<vlan" not in step.xml and "virtualport" in step.xml for step in plan.steps)
    assert OvsPortState("ovsbr0", "vnet0", tag=None, opened=False) in plan.expectations
    assert any("untagged at once" in w for w in plan.warnings)
    with pytest.raises(PlanError, match="nothing to change"):
        make_plan(SetGuestNic("web1", WEB1, vlan="10"), ovs_host)


def test_a_vlan_where_it_cannot_be_kept_is_refused_as_attach_refuses_it(host, ovs_host):
    from kvmtui.kinds.attach import AttachInterface

    linux = refusal(SetGuestNic("web1", WEB1, vlan="42"), host)  # on Linux bridge br100
    assert linux.field == "vlan" and str(linux) == str(refusal(AttachInterface("web1", bridge="br100", vlan=42), host))
    macvtap = refusal(SetGuestNic("db1", DB1_MACVTAP, vlan="5"), host)
    attach = refusal(AttachInterface("db1", macvtap="bond0", vlan=5), host)
    assert macvtap.field == "vlan" and str(macvtap) == str(attach)


@pytest.mark.parametrize("intent, field, words", [
    (SetGuestNic("web1", WEB1, vlan="4095"), "vlan", "VLAN ids are 1 to 4094 (0 and 4095 are reserved); 4095 is not"),
    (SetGuestNic("web1", WEB1, vlan="0"), "vlan", "0 is not one"),
    (SetGuestNic("web1", WEB1, vlan="ten"), "vlan", "a VLAN id, 1 to 4094, or none; not 'ten'"),
    (SetGuestNic("build1", BUILD1, vlan="5"), "vlan", "on libvirt network lan100: its VLAN is the network's"),
    (SetGuestNic("web1", WEB1, bridge="ovsbr1"), "bridge", "libvirt does not move a running NIC onto, off or between "
                                                            "Open vSwitch bridges"),
    (SetGuestNic("web1", WEB1, bridge="br-mgmt", vlan="none"), "bridge", "shut guest web1 down and move "
                                                                          "52:54:00:6b:01:01 then, or detach it"),
])
def test_ovs_bad_input_is_refused_at_its_field(ovs_host, intent, field, words):
    error = refusal(intent, ovs_host)
    assert error.field == field and words in str(error), str(error)


def test_a_running_linux_bridge_nic_does_not_move_onto_ovs(host, ovs_host):
    recorded_web1 = next(d for d in host.domains if d.name == "web1")
    on_linux = replace(ovs_host, domains=tuple(recorded_web1 if d.name == "web1" else d for d in ovs_host.domains))
    error = refusal(SetGuestNic("web1", WEB1, bridge="ovsbr1"), on_linux)
    assert error.field == "bridge" and "attach one on ovsbr1" in str(error)


def test_a_shut_off_guest_moves_between_ovs_bridges_in_its_definition(ovs_host):
    from kvmtui.plan.expect_ovs import OvsBridgeState

    off = shut_off(ovs_host)
    plan = make_plan(SetGuestNic("web1", WEB1, bridge="ovsbr1", vlan="20"), off)
    assert plan.commands == ("virsh update-device web1 nic.xml --config",)
    nic = parse_interface_xml(plan.steps[0].xml)
    assert (nic.bridge, nic.virtualport, nic.vlan_tags) == ("ovsbr1", "openvswitch", (20,))
    assert GuestNicState("web1", WEB1, False, True, bridge="ovsbr1", vlan="20") in plan.expectations
    assert OvsBridgeState("ovsbr1") in plan.expectations  # libvirt looks for it at the next start only


def test_a_shut_off_guest_moves_off_ovs_without_its_tag_only(ovs_host):
    off = shut_off(ovs_host)
    kept = refusal(SetGuestNic("web1", WEB1, bridge="br-mgmt"), off)
    assert kept.field == "vlan" and "has VLAN tag 10, which a Linux bridge port does not keep" in str(kept)
    assert "move it with --vlan none" in str(kept)
    assert "Linux bridge without VLAN filtering" in str(refusal(SetGuestNic("web1", WEB1, bridge="br-mgmt",
                                                                            vlan="10"), off))
    plan = make_plan(SetGuestNic("web1", WEB1, bridge="br-mgmt", vlan="none"), off)
    nic = parse_interface_xml(plan.steps[0].xml)
    assert (nic.bridge, nic.virtualport, nic.vlan_tags) == ("br-mgmt", None, ())
    assert LinkPresent("br-mgmt", kind="bridge") in plan.expectations


def test_a_shut_off_guest_moves_from_a_linux_bridge_onto_ovs_with_a_tag(host, ovs_host):
    off = shut_off(replace(host, ovs=ovs_host.ovs))
    plan = make_plan(SetGuestNic("web1", WEB1, bridge="ovsbr0", vlan="30"), off)
    nic = parse_interface_xml(plan.steps[0].xml)
    assert (nic.bridge, nic.virtualport, nic.vlan_tags) == ("ovsbr0", "openvswitch", (30,))
    fake = refusal(SetGuestNic("web1", WEB1, bridge="ovsbr0.7", vlan="30"), off)
    assert fake.field == "vlan" and "ovsbr0.7 is VLAN 7 of OVS bridge ovsbr0" in str(fake)


def test_the_wizard_asks_for_the_vlan_of_an_ovs_nic_only(host, ovs_host):
    from kvmtui.ui.wizards import guest_nic_wizard

    fields = {f.name: f for f in guest_nic_wizard(ovs_host, "web1", WEB1).fields}
    assert fields["vlan"].default == "10" and "ovsbr1" in {value for _shown, value in fields["bridge"].options}
    assert "vlan" not in {f.name for f in guest_nic_wizard(host, "web1", WEB1).fields}  # on Linux bridge br100
    assert "vlan" not in {f.name for f in guest_nic_wizard(host, "db1", DB1_MACVTAP).fields}


def test_the_cli_takes_vlan_in_process(capsys):
    code = cli.main(["plan", "--from", str(EXAMPLE), "guest-set", "web1", WEB1, "--vlan", "42"])
    assert code != 0 and "--vlan: libvirt does not keep a Linux bridge port's VLAN" in capsys.readouterr().err


async def test_the_guest_nic_wizard_plans_a_vlan_and_checks_it_at_its_field(ovs_host):
    """`e` on web1's OVS NIC, as the screen has it (a recording: planned, nothing applied)."""
    from textual.widgets import Input

    from kvmtui.ui.app import DashboardOptions, KvmtuiApp
    from kvmtui.ui.forms import WizardScreen
    from kvmtui.ui.wizards import guest_nic_wizard
    from tests.dashboard import field_error, wait_for

    plans = []
    app = KvmtuiApp(DashboardOptions(), recorded=ovs_host)
    async with app.run_test(size=(120, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the recorded snapshot")
        await app.push_screen(guest_nic_wizard(ovs_host, "web1", WEB1), plans.append)
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen), what="the guest NIC wizard")
        assert app.screen.values()["vlan"] == "10"
        app.screen.query_one("#field-vlan", Input).value = "4095"
        await pilot.press("ctrl+s")
        await field_error(pilot, app, "vlan", "4095 is not one")
        app.screen.query_one("#field-vlan", Input).value = ""  # empty: untagged
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: plans, what="the plan")
    assert plans[0].intent.vlan == "none" and all("<vlan" not in step.xml for step in plans[0].steps)
