"""Plans applied to a real namespace: the kernel state afterwards is what counts."""

from __future__ import annotations

import functools

import pytest

from kvmtui.apply import Executor, ReadOnlyRefused
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.kinds import CreateBridge, make_plan
from tests.helpers import sh
from tests.topologies import ns_json
from tests.helpers import kvmtui_in
from tests.states import host_state

# Counters and timers move on their own. `qdisc`: the kernel attaches a default qdisc the
# first time a device goes up and keeps it when it goes down again (noop -> noqueue);
# that is not configuration and no `ip link` command puts "noop" back.


def test_create_and_delete_bridge_with_veth_ports(uplink_ns):
    ns = uplink_ns
    proc = kvmtui_in(ns, "apply", "--yes", "bridge", "kt-br0", "--port", "kt-p1", "--port", "kt-p2", "--stp", "on",
                  "--forward-delay", "4")
    assert proc.returncode == 0, proc.stderr
    links = {link["ifname"]: link for link in ns_json(ns, "ip", "-d", "-j", "link", "show")}
    br = links["kt-br0"]["linkinfo"]["info_data"]
    assert (br["stp_state"], br["forward_delay"]) == (1, 400) and "UP" in links["kt-br0"]["flags"]
    assert links["kt-p1"]["master"] == links["kt-p2"]["master"] == "kt-br0"
    assert {p["ifname"] for p in ns_json(ns, "bridge", "-j", "link", "show")} == {"kt-p1", "kt-p2"}
    proc = kvmtui_in(ns, "apply", "delete", "kt-br0", "-y")  # --yes also after the rest, as people type it
    assert proc.returncode == 0, proc.stderr
    links = {link["ifname"]: link for link in ns_json(ns, "ip", "-d", "-j", "link", "show")}
    assert "kt-br0" not in links and "master" not in links["kt-p1"] and "master" not in links["kt-p2"]


def test_move_addresses_and_routes_onto_a_bridge_and_back(uplink_ns):
    ns = uplink_ns
    before = host_state(ns)
    mac = next(l for l in before["link"] if l["ifname"] == "kt-up")["address"]
    proc = kvmtui_in(ns, "apply", "--yes", "--no-confirm", "bridge", "kt-br0", "--port", "kt-up", "--move-ip-from", "kt-up")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    addrs = {a["ifname"]: [i["local"] for i in a["addr_info"] if i["family"] == "inet"] for a in ns_json(ns, "ip", "-j", "addr", "show")}
    assert addrs["kt-br0"] == ["10.20.0.2"] and addrs["kt-up"] == []
    routes = {(r["dst"], r.get("gateway"), r["dev"]) for r in ns_json(ns, "ip", "-j", "route", "show")}
    assert ("default", "10.20.0.1", "kt-br0") in routes and ("10.30.0.0/16", "10.20.0.254", "kt-br0") in routes
    links = {link["ifname"]: link for link in ns_json(ns, "ip", "-j", "link", "show")}
    assert links["kt-br0"]["address"] == mac and links["kt-up"]["master"] == "kt-br0"
    proc = kvmtui_in(ns, "apply", "--yes", "--no-confirm", "delete", "kt-br0", "--move-ip-to", "kt-up")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert host_state(ns) == before


def test_every_failed_step_leaves_the_host_as_it_was(uplink_ns):
    """Failure injection: the executor's before_step hook raises at step N (a real kernel
    refusal for each kind of step would need a different trick per step); steps 1..N-1
    ran for real and their rollback is real."""
    ns = uplink_ns
    before = host_state(ns)
    snapshot = collect_snapshot(netns=ns, with_libvirt=False)
    plan = make_plan(CreateBridge("kt-br0", ("kt-up", "kt-p1"), True, 3, None, "kt-up"), snapshot)
    assert len(plan.steps) >= 8
    for failing in range(1, len(plan.steps) + 1):
        def fail(number, step, failing=failing):
            if number == failing:
                raise RuntimeError(f"injected failure at step {number}")

        report = Executor(ns, None, readonly=False, before_step=fail).apply(plan)
        assert not report.ok and report.failed == plan.steps[failing - 1] and not report.undo_errors
        assert host_state(ns) == before, f"host changed after a failure at step {failing}: {plan.steps[failing - 1].command}"


def test_readonly_executor_changes_nothing(uplink_ns):
    ns = uplink_ns
    before = host_state(ns)
    plan = make_plan(CreateBridge("kt-br0", ("kt-p1",)), collect_snapshot(netns=ns, with_libvirt=False))
    with pytest.raises(ReadOnlyRefused):
        Executor(ns, None, readonly=True).apply(plan)
    assert host_state(ns) == before
    proc = kvmtui_in(ns, "--readonly", "apply", "--yes", "bridge", "kt-br0", "--port", "kt-p1")
    assert proc.returncode == 1 and "read-only" in proc.stderr
    assert host_state(ns) == before


@pytest.mark.parametrize("args, field, words", [
    (("bridge", "kt-a-very-long-name"), "name", "at most 15 bytes"),
    (("bridge", "kt/br"), "name", "may not contain"),
    (("bridge", "kt br"), "name", "may not contain"),
    (("bridge", "kt%d"), "name", "may not contain"),  # the kernel would have made kt0 of it
    (("bridge", "all"), "name", "reserved: /proc/sys/net/ipv4/conf/all"),
    (("bridge", "default"), "name", "reserved: /proc/sys/net/ipv4/conf/default"),
    (("bridge", "kt-up"), "name", "already exists"),
    (("bridge", "kt-br0", "--port", "kt-p1", "--port", "kt-p1"), "--port", "listed twice"),
    (("bridge", "kt-br0", "--port", "kt-nope"), "--port", "no device"),
    (("bridge", "kt-br0", "--forward-delay", "-1"), "--forward-delay", "0 to 30 seconds"),
    (("bridge", "kt-br0", "--port", "kt-p1", "--move-ip-from", "kt-up"), "--move-ip-from", "must also be one of"),
    *[(("bridge", "kt-br0", "--mtu", mtu), "--mtu", "68 to 65535") for mtu in ("0", "67", "65536", "70000", "-5")],
    (("bridge", "kt-br0", "--port", "kt-p1", "--mtu", "70000"), "--mtu", "68 to 65535"),
    (("vlan", "kt-up", "4095"), "vid", "1 to 4094"),
    (("vlan", "kt-up", "0"), "vid", "1 to 4094"),
    (("vlan", "lo", "100"), "parent", "loopback device"),
    (("bond", "kt-bond0", "--mode", "active-backup", "--slave", "kt-p1", "--arp-ip-target", "10.20.0.1"),
     "--arp-ip-target", "give an ARP interval too"),
    (("bond", "kt-bond0", "--mode", "active-backup", "--slave", "kt-p1", "--lacp-rate", "fast"), "--lacp-rate", "802.3ad only"),
    (("bond", "kt-bond0", "--mode", "802.3ad", "--slave", "kt-p1", "--primary", "kt-p1"), "--primary", "applies to"),
    (("bond", "kt-bond0", "--mode", "balance-rr", "--slave", "kt-up"), "--slave", "without addresses"),
    (("bond", "kt-bond0", "--mode", "weird", "--slave", "kt-p1"), "--mode", "unknown bonding mode"),
    (("bond", "kt-bond0", "--mode", "active-backup", "--slave", "kt-p1", "--miimon", "-5"), "--miimon", "milliseconds"),
    (("bond", "kt-bond0", "--mode", "active-backup", "--slave", "kt-p1", "--arp-interval", "-5"), "--arp-interval", "milliseconds"),
    *[(("bond", "kt-bond0", "--mode", "active-backup", "--slave", "kt-p1", "--arp-interval", "100", "--arp-ip-target", ip),
       "--arp-ip-target", words) for ip, words in (("notanip", "not an IPv4 address"), ("fe80::1", "not an IPv4 address"),
                                                   ("0.0.0.0", "cannot answer ARP"))],
    (("delete", "kt-up"), "ifname", "deletes bridges, bonds, VLANs, vxlans and macvlans only"),
    (("bridge", "kt-br0", "--port", "kt-p1", "--mtu", "9000"), "--mtu", "more than kt-p1's 1500"),
])
def test_bad_input_is_refused_and_changes_nothing(uplink_ns, args, field, words):
    """The CLI names the option as typed (--forward-delay), the wizard the field (forward_delay)."""
    before = host_state(uplink_ns)
    proc = kvmtui_in(uplink_ns, "apply", "--yes", *args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"kvmtui: {field}: ") and words in proc.stderr
    assert "Traceback" not in proc.stderr
    assert host_state(uplink_ns) == before


def test_enslaving_a_port_twice_is_refused(uplink_ns):
    assert kvmtui_in(uplink_ns, "apply", "--yes", "bridge", "kt-br0", "--port", "kt-p1").returncode == 0
    proc = kvmtui_in(uplink_ns, "apply", "--yes", "bridge", "kt-br1", "--port", "kt-p1")
    assert proc.returncode == 1 and "kt-p1 is already a port of kt-br0" in proc.stderr


def test_kernel_refusal_rolls_back_with_exit_3(uplink_ns, capsys):
    """A real kernel refusal: the bridge will not take a port that already serves as a
    macvtap lower device (EBUSY). The planner refuses that at plan time (exit 1); with its
    kernel checks off (test-only) the plan reaches the kernel, which refuses it."""
    from kvmtui import cli
    from kvmtui.plan.eligible import kernel_checks_off

    ns = uplink_ns
    sh("ip", "-n", ns, "link", "add", "kt-mv0", "link", "kt-p1", "type", "macvtap", "mode", "bridge")
    before = host_state(ns)
    refused = kvmtui_in(ns, "apply", "--yes", "bridge", "kt-br0", "--port", "kt-p1")
    assert refused.returncode == 1 and "kt-p1 carries kt-mv0" in refused.stderr, refused.stderr
    with kernel_checks_off():
        code = cli.main(["--netns", ns, "--no-libvirt", "apply", "--yes", "bridge", "kt-br0", "--port", "kt-p1"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "failed" in err and "undid" in err
    assert host_state(ns) == before


def test_an_undo_that_fails_exits_4_and_says_what_is_left(uplink_ns, monkeypatch, capsys):
    """As the kernel did with 'br%d': the new bridge is not under the name the plan knows
    (renamed here, for real, before the failing step), so deleting it cannot be undone."""
    from kvmtui import apply, cli

    ns = uplink_ns
    before = host_state(ns)

    def rename_then_fail(number, step):
        if step.setting("master") == "kt-br0":
            sh("ip", "-n", ns, "link", "set", "kt-br0", "name", "kt-left")
            raise RuntimeError("injected failure")

    monkeypatch.setattr(apply, "Executor", functools.partial(apply.Executor, before_step=rename_then_fail))
    code = cli.main(["--netns", ns, "--no-libvirt", "apply", "--yes", "bridge", "kt-br0", "--port", "kt-p1"])
    err = capsys.readouterr().err
    assert code == 4, err
    assert "could NOT undo: ip link del kt-br0: kt-br0 does not exist" in err
    left = {link["ifname"]: link for link in ns_json(ns, "ip", "-d", "-j", "link", "show")}["kt-left"]
    assert left["linkinfo"]["info_kind"] == "bridge"
    sh("ip", "-n", ns, "link", "del", "kt-left")
    assert host_state(ns) == before  # the bridge is all that was left


def test_plan_from_a_recording_and_no_apply_to_it(uplink_ns, tmp_path):
    """`--from` plans against the recorded host, not this one; a recording cannot be changed."""
    ns = uplink_ns
    recorded = tmp_path / "snap.json"
    recorded.write_text(kvmtui_in(ns, "dump", "--json").stdout)
    sh("ip", "-n", ns, "link", "add", "kt-br0", "type", "bridge")  # the live host moves on, the recording does not
    before = host_state(ns)
    assert "'kt-br0' already exists" in kvmtui_in(ns, "plan", "bridge", "kt-br0").stderr
    proc = kvmtui_in(ns, "--from", str(recorded), "plan", "bridge", "kt-br0", "--port", "kt-p1")
    assert proc.returncode == 0, proc.stderr
    assert "ip link set kt-p1 master kt-br0" in proc.stdout
    proc = kvmtui_in(ns, "--from", str(recorded), "apply", "--yes", "bridge", "kt-br1", "--port", "kt-p1")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith(f"kvmtui: {recorded} is a recorded snapshot: it cannot be changed")
    assert len(proc.stderr.splitlines()) == 1
    assert host_state(ns) == before


def test_unmet_expectation_after_success_rolls_back(uplink_ns):
    """Verification: the steps all succeed, the re-read host does not show the intended
    state (an expectation that cannot hold is added), so everything is undone."""
    from dataclasses import replace

    from kvmtui.plan.expect import LinkGone

    ns = uplink_ns
    before = host_state(ns)
    plan = make_plan(CreateBridge("kt-br0", ("kt-p1",)), collect_snapshot(netns=ns, with_libvirt=False))
    plan = replace(plan, expectations=plan.expectations + (LinkGone("lo"),))
    report = Executor(ns, None, readonly=False).apply(plan)
    assert not report.ok and report.unmet == ("lo still exists",) and len(report.undone) == len(plan.steps)
    assert host_state(ns) == before


def test_confirmation_warns_about_the_ssh_session(uplink_ns):
    from kvmtui.plan.diff import confirmation

    snapshot = collect_snapshot(netns=uplink_ns, with_libvirt=False)
    plan = make_plan(CreateBridge("kt-br0", ("kt-up",), move_ip_from="kt-up"), snapshot)
    shown = confirmation(plan, snapshot, "10.20.0.77 50000 10.20.0.2 22")
    assert any("kt-up, which carries your SSH session (10.20.0.77 -> 10.20.0.2)" in w for w in shown.warnings)
    assert any("default route" in w for w in shown.warnings)
    unrelated = confirmation(make_plan(CreateBridge("kt-br0", ("kt-p1",)), snapshot), snapshot, "10.20.0.77 50000 10.20.0.2 22")
    assert unrelated.warnings == ()
    marks = {line.text.split()[0]: line.mark for line in shown.tree}
    assert marks["kt-br0"] == "+" and marks["kt-up"] == "~"


def test_diff_marks_what_changes_not_a_veth_pair_swapping_ends(netns):
    """Which end of a veth pair is drawn on top follows what each end is enslaved to; the
    diff marks the end leaving the bridge, not its peer that merely moves up, and draws
    the deleted bridge under the port it leaves."""
    from kvmtui.kinds import DeleteLink
    from kvmtui.plan.diff import confirmation

    sh("ip", "-n", netns, "link", "add", "kt-br0", "type", "bridge")
    sh("ip", "-n", netns, "link", "add", "kt-v0", "type", "veth", "peer", "name", "kt-v0p")
    sh("ip", "-n", netns, "link", "set", "kt-v0", "master", "kt-br0")
    snapshot = collect_snapshot(netns=netns, with_libvirt=False)
    shown = confirmation(make_plan(DeleteLink("kt-br0"), snapshot), snapshot)
    assert [(line.mark, line.depth, line.text.split()[0]) for line in shown.tree] == [("~", 0, "kt-v0"), ("−", 1, "kt-br0")]
