"""`kvmtui apply set ...` on a real namespace: a bridge with two veth ports edited (ports in
and out, STP, timers, MTU, alias, MAC, down/up), each checked in `ip -d -j link`; each
plan undone exactly by a failure at every step; bad input refused with its sentence and
nothing changed; the SSH session and the default route reported at risk."""

from __future__ import annotations

import pytest

from kvmtui.apply import Executor
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.kinds import CreateBridge, SetLink, make_plan
from kvmtui.plan.diff import confirmation
from tests.helpers import kvmtui_in, links, sh
from tests.states import assert_every_failure_undone, changes, settled, steady, undo_state
from tests.topologies import bridge_with_two_veth_ports

SSH = "10.20.0.77 50000 10.20.0.2 22"  # client, server: kt-up's address in uplink_ns


def third_port(ns: str) -> None:
    """kt-p3, down, its peer kt-q3 down too: a peer that is up would get its carrier, and
    with it an IPv6 link-local address, each time kt-p3 comes up (kept after an undo)."""
    sh("ip", "-n", ns, "link", "add", "kt-p3", "type", "veth", "peer", "name", "kt-q3")


def apply_set(ns: str, *args: str) -> None:
    proc = kvmtui_in(ns, "apply", "--yes", "--no-confirm", "set", *args)
    assert proc.returncode == 0, proc.stderr


def bridge_info(ns: str) -> dict:
    return links(ns)["kt-br0"]["linkinfo"]["info_data"]


def plan_on(ns: str, intent: SetLink):
    return make_plan(intent, collect_snapshot(netns=ns, with_libvirt=False))


def test_bridge_edits_show_in_ip_link(netns):
    bridge_with_two_veth_ports(netns)
    third_port(netns)
    apply_set(netns, "kt-br0", "--add-port", "kt-p3")
    found = links(netns)
    assert found["kt-p3"]["master"] == "kt-br0" and "UP" in found["kt-p3"]["flags"]
    apply_set(netns, "kt-br0", "--remove-port", "kt-p1")
    assert "master" not in links(netns)["kt-p1"]
    apply_set(netns, "kt-br0", "--stp", "on")
    assert bridge_info(netns)["stp_state"] == 1
    apply_set(netns, "kt-br0", "--forward-delay", "4", "--ageing", "120")
    assert (bridge_info(netns)["forward_delay"], bridge_info(netns)["ageing_time"]) == (400, 12000)
    apply_set(netns, "kt-br0", "--alias", "guests of rack 4")
    assert links(netns)["kt-br0"]["ifalias"] == "guests of rack 4"
    apply_set(netns, "kt-br0", "--mac", "52:54:00:AA:00:01")
    assert links(netns)["kt-br0"]["address"] == "52:54:00:aa:00:01"
    apply_set(netns, "kt-br0", "--down")
    assert "UP" not in links(netns)["kt-br0"]["flags"]
    apply_set(netns, "kt-br0", "--up")
    assert "UP" in links(netns)["kt-br0"]["flags"]
    apply_set(netns, "kt-br0", "--stp", "off")
    assert bridge_info(netns)["stp_state"] == 0


def test_jumbo_frames_ports_first_then_the_bridge(netns):
    bridge_with_two_veth_ports(netns)
    refused = kvmtui_in(netns, "apply", "--yes", "set", "kt-br0", "--mtu", "9000")
    assert refused.returncode == 1
    assert ("kt-br0's port kt-p1 has MTU 1500 (kt-p2 below 9000 too): a bridge takes its smallest port's MTU"
            in refused.stderr), refused.stderr
    assert links(netns)["kt-br0"]["mtu"] == 1500
    lowered = kvmtui_in(netns, "plan", "set", "kt-p1", "--mtu", "1400")
    assert "kt-br0 takes its smallest port's MTU (unless its own was set by hand): it drops from 1500 to 1400" \
        in lowered.stdout, lowered.stdout
    for port in ("kt-p1", "kt-p2"):
        apply_set(netns, port, "--mtu", "9000")
        assert links(netns)[port]["mtu"] == 9000
    # the kernel's bridge followed its ports (its MTU was never set by hand)
    assert links(netns)["kt-br0"]["mtu"] == 9000
    again = kvmtui_in(netns, "apply", "--yes", "set", "kt-br0", "--mtu", "9000")
    assert again.returncode == 1 and "nothing to change" in again.stderr
    apply_set(netns, "kt-br0", "--mtu", "8000")
    assert links(netns)["kt-br0"]["mtu"] == 8000
    apply_set(netns, "kt-br0", "--mtu", "9000")
    assert links(netns)["kt-br0"]["mtu"] == 9000


def test_every_failure_undoes_a_bridge_edit(netns):
    bridge_with_two_veth_ports(netns)
    third_port(netns)
    plan = plan_on(netns, SetLink("kt-br0", mtu=1400, mac="52:54:00:aa:00:02", alias="rack 4",
                                  add_ports=("kt-p3",), remove_ports=("kt-p1",), stp=True, forward_delay=4,
                                  ageing=120))
    assert len(plan.steps) == 9
    assert_every_failure_undone(netns, plan)


def test_every_failure_undoes_port_mtus_and_down(netns):
    bridge_with_two_veth_ports(netns)
    assert_every_failure_undone(netns, plan_on(netns, SetLink("kt-p1", mtu=9000)))
    assert_every_failure_undone(netns, plan_on(netns, SetLink("kt-br0", down=True)))
    sh("ip", "-n", netns, "link", "set", "kt-br0", "down")
    assert_every_failure_undone(netns, plan_on(netns, SetLink("kt-br0", up=True)))


def test_every_failure_undoes_the_default_routes_device_taken_down(uplink_ns):
    plan = plan_on(uplink_ns, SetLink("kt-up", down=True))
    deleted = [step.command for step in plan.steps[:2]]
    assert deleted[0].startswith("ip route del default via 10.20.0.1 dev kt-up"), deleted
    assert deleted[1].startswith("ip route del 10.30.0.0/16 via 10.20.0.254"), deleted
    snapshot = collect_snapshot(netns=uplink_ns, with_libvirt=False)
    shown = confirmation(plan, snapshot, None)
    assert shown.at_risk and shown.typed == "kt-up"  # no way out left: confirmed by typing its name
    assert any("kt-up carries the default route" in w for w in shown.warnings)
    assert any("carries your SSH session" in w for w in confirmation(plan, snapshot, SSH).warnings)
    assert_every_failure_undone(uplink_ns, plan)


def test_removing_the_port_that_carries_the_session_is_at_risk(uplink_ns):
    ns = uplink_ns
    bridge = make_plan(CreateBridge("kt-br0", ("kt-up", "kt-p1"), move_ip_from="kt-up"),
                       collect_snapshot(netns=ns, with_libvirt=False))
    assert Executor(ns, None, readonly=False).apply(bridge).ok
    steady(ns)
    snapshot = collect_snapshot(netns=ns, with_libvirt=False)
    plan = make_plan(SetLink("kt-br0", remove_ports=("kt-up",)), snapshot)
    shown = confirmation(plan, snapshot, SSH)
    assert shown.at_risk
    assert any("kt-up below kt-br0, which carries your SSH session" in w for w in shown.warnings), shown.warnings
    assert any("kt-up carries the default route (below kt-br0)" in w for w in plan.warnings), plan.warnings
    described = make_plan(SetLink("kt-br0", alias="uplink", ageing=60), snapshot)  # cannot cut anything
    assert not confirmation(described, snapshot, SSH).at_risk


def test_vlan_filtering_that_this_kernel_lacks_is_undone(netns):
    bridge_with_two_veth_ports(netns)
    plan = plan_on(netns, SetLink("kt-br0", stp=True, vlan_filtering=True))
    assert any("CONFIG_BRIDGE_VLAN_FILTERING" in w for w in plan.warnings)
    before = steady(netns)
    report = Executor(netns, None, readonly=False).apply(plan)
    if report.ok:
        pytest.skip("this kernel has bridge VLAN filtering")
    assert "vlan_filtering 1" in report.failed.command and not report.undo_errors
    after = settled(netns, before)
    assert after == before, changes(before, after)


@pytest.mark.parametrize(("args", "words"), [
    (("kt-br0", "--mtu", "9000"), "--mtu: kt-br0's port kt-p1 has MTU 1500 (kt-p2 below 9000 too): a bridge takes "
                                  "its smallest port's MTU"),
    (("kt-p1", "--mtu", "67"), "--mtu: the MTU is 68 to 65535 bytes"),
    (("kt-br0", "--mac", "01:00:5e:00:00:01"), "--mac: 01:00:5e:00:00:01 is a multicast address"),
    (("kt-br0", "--mac", "52:54:00:zz:00:01"), "--mac: '52:54:00:zz:00:01' is not a MAC address"),
    (("kt-br0", "--mac", "00:00:00:00:00:00"), "--mac: 00:00:00:00:00:00 is no address"),
    (("kt-br0", "--stp", "on", "--forward-delay", "1"), "--forward-delay: the forward delay is 2 to 30 seconds "
                                                         "with STP on"),
    (("kt-br0", "--forward-delay", "31"), "--forward-delay: the forward delay is 0 to 30 seconds"),
    (("kt-br0", "--ageing", "9"), "--ageing: the ageing time is 10 to 1000000 seconds"),
    (("kt-br0", "--ageing", "1000001"), "--ageing: the ageing time is 10 to 1000000 seconds"),
    (("kt-br0", "--add-port", "kt-p1"), "--add-port: kt-p1 is already a port of kt-br0"),
    (("kt-br1", "--add-port", "kt-p1"), "--add-port: kt-p1 is already a port of kt-br0"),
    (("kt-br0", "--add-port", "kt-br1"), "--add-port: kt-br1 is a bridge; a bridge cannot be a port of another"),
    (("kt-br0", "--remove-port", "kt-p3"), "--remove-port: kt-p3 is not a port of kt-br0"),
    (("kt-br1", "--remove-port", "kt-p1"), "--remove-port: kt-p1 is not a port of kt-br1 (it is in kt-br0)"),
    (("kt-p1", "--stp", "on"), "--stp: kt-p1 is a veth: STP is for bridges only"),
    (("kt-p1", "--add-port", "kt-p3"), "--add-port: kt-p1 is a veth: adding ports is for bridges only"),
    (("kt-mv", "--mtu", "1600"), "--mtu: kt-mv is a macvlan on kt-p3, whose MTU is 1500: it cannot be larger"),
    (("lo", "--down"), "ifname: lo is the loopback device"),
    (("kt-nope", "--up"), "ifname: there is no device 'kt-nope'"),
    (("kt-br0", "--up", "--stp", "off"), "ifname: nothing to change: kt-br0 already has these values"),
])
def test_bad_input_is_refused_and_changes_nothing(netns, args, words):
    bridge_with_two_veth_ports(netns)
    third_port(netns)
    sh("ip", "-n", netns, "link", "add", "kt-br1", "type", "bridge")
    sh("ip", "-n", netns, "link", "add", "link", "kt-p3", "name", "kt-mv", "type", "macvlan", "mode", "bridge")
    before = undo_state(netns)
    proc = kvmtui_in(netns, "apply", "--yes", "--no-confirm", "set", *args)
    assert proc.returncode == 1 and words in proc.stderr, proc.stderr
    assert undo_state(netns) == before


def test_lowering_a_lower_device_lowers_what_sits_on_it_and_an_undo_raises_them(netns):
    """The kernel lowers a macvlan (a VLAN too) with its lower device, and does not raise it back."""
    bridge_with_two_veth_ports(netns)
    sh("ip", "-n", netns, "link", "add", "link", "kt-br0", "name", "kt-mv", "type", "macvlan", "mode", "bridge")
    plan = plan_on(netns, SetLink("kt-br0", mtu=1400))
    assert [step.command for step in plan.steps] == ["ip link set kt-mv mtu 1400", "ip link set kt-br0 mtu 1400"]
    assert any("lowers what sits on it too: kt-mv (1500 -> 1400)" in w for w in plan.warnings)
    assert_every_failure_undone(netns, plan)


def test_a_guarded_edit_reverted_by_its_guard_leaves_the_bridge_as_before(netns):
    """The steps as journal data (a bridge's own settings, an alias, a port out) read back by
    `kvmtui revert` in another process: the bridge exactly as before."""
    bridge_with_two_veth_ports(netns)
    before = steady(netns)
    applied = kvmtui_in(netns, "apply", "--yes", "--confirm", "60", "set", "kt-br0", "--stp", "on", "--ageing", "90",
                        "--alias", "rack 4", "--remove-port", "kt-p2", "--mtu", "1400")
    assert applied.returncode == 0, applied.stderr
    assert bridge_info(netns)["stp_state"] == 1 and links(netns)["kt-br0"]["ifalias"] == "rack 4"
    guard_id = next(line.split()[1] for line in applied.stdout.splitlines() if line.startswith("guard: "))
    reverted = kvmtui_in(netns, "revert", guard_id)
    assert reverted.returncode == 0, reverted.stdout + reverted.stderr
    after = settled(netns, before)
    assert after == before, changes(before, after)
