"""The macvtap host-reach shim applied to a namespace: a "host" whose NIC (a veth) carries a
guest's bridge-mode macvlan (standing for its macvtap) moved into a "guest" namespace. The
host cannot ping the guest through its NIC; after `kvmtui apply shim` it can; an undo
(or a failure at any step) leaves the host as it was."""

from __future__ import annotations

import pytest

from kvmtui.apply import Executor
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.kinds import CreateShim, make_plan
from tests.helpers import kvmtui_in
from tests.states import assert_every_failure_undone, changes, host_state, no_dad, steady
from tests.topologies import ip, ns_json
from tests.traffic import ping


@pytest.fixture
def host_and_guest(make_netns):
    """host: kt-nic (10.40.0.1/24, default route via 10.40.0.254) wired to a switch namespace;
    guest: kt-guest, a bridge-mode macvlan of kt-nic, 10.40.0.50/24."""
    host, guest, switch = make_netns(), make_netns(), make_netns()
    for ns in (host, guest):
        no_dad(ns)
    ip(host, "link", "add", "kt-nic", "type", "veth", "peer", "name", "kt-wire", "netns", switch)
    ip(switch, "link", "set", "kt-wire", "up")
    ip(host, "addr", "add", "10.40.0.1/24", "dev", "kt-nic")
    ip(host, "link", "set", "kt-nic", "up")
    ip(host, "route", "add", "default", "via", "10.40.0.254")
    ip(host, "link", "add", "kt-guest", "link", "kt-nic", "type", "macvlan", "mode", "bridge")
    ip(host, "link", "set", "kt-guest", "netns", guest)
    ip(guest, "addr", "add", "10.40.0.50/24", "dev", "kt-guest")
    ip(guest, "link", "set", "kt-guest", "up")
    return host, guest


def test_the_shim_with_its_own_address_lets_the_host_reach_the_guest(host_and_guest):
    host, _ = host_and_guest
    assert not ping(host, "10.40.0.50", 2)
    proc = kvmtui_in(host, "apply", "--yes", "--no-confirm", "shim", "kt-nic", "--address", "10.40.0.2/32",
                     "--route", "10.40.0.50/32")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ip link add link kt-nic name shim-kt-nic type macvlan mode bridge" in proc.stdout
    (shim,) = ns_json(host, "ip", "-d", "-j", "addr", "show", "dev", "shim-kt-nic")
    assert shim["linkinfo"]["info_data"]["mode"] == "bridge" and shim["link"] == "kt-nic"
    assert [a["local"] for a in shim["addr_info"] if a["family"] == "inet"] == ["10.40.0.2"]
    assert any(r["dst"] == "10.40.0.50" and r["dev"] == "shim-kt-nic" for r in ns_json(host, "ip", "-j", "route"))
    assert ping(host, "10.40.0.50")


def test_the_shim_taking_the_nics_address_and_undone(host_and_guest):
    host, _ = host_and_guest
    before = steady(host)
    snapshot = collect_snapshot(netns=host, with_libvirt=False)
    plan = make_plan(CreateShim("kt-nic", move_ip=True), snapshot)
    report = Executor(host, None, readonly=False).apply(plan)
    assert report.ok, report.summary()
    addresses = {a["ifname"]: [i["local"] for i in a["addr_info"] if i["family"] == "inet"]
                 for a in ns_json(host, "ip", "-j", "addr", "show")}
    assert addresses["shim-kt-nic"] == ["10.40.0.1"] and addresses["kt-nic"] == []
    assert {(r["dst"], r["dev"]) for r in ns_json(host, "ip", "-j", "route")} >= {("default", "shim-kt-nic")}
    assert ping(host, "10.40.0.50")
    _, errors, _ = Executor(host, None, readonly=False).undo(plan.steps)
    assert not errors
    after = steady(host)
    assert after == before, changes(before, after)
    assert not ping(host, "10.40.0.50", 2)


@pytest.mark.parametrize("args, field, words", [
    (("kt-nic",), "--address", "needs a host address"),
    (("kt-nic", "--address", "10.40.0.2/32"), "--route", "give their addresses or subnet"),
    (("kt-nic", "--address", "10.40.0.1/32", "--route", "10.40.0.50/32"), "--address", "already on kt-nic"),
    (("kt-nope", "--move-ip"), "lower", "no device 'kt-nope'"),
    (("kt-nic", "--address", "10.40.0.2", "--route", "nope"), "--route", "not a CIDR"),
    (("kt-nic", "--name", "kt-a-very-long-shim", "--move-ip"), "--name", "at most 15 bytes"),
])
def test_bad_input_is_refused_and_changes_nothing(host_and_guest, args, field, words):
    host, _ = host_and_guest
    before = steady(host, read=host_state)
    proc = kvmtui_in(host, "apply", "--yes", "shim", *args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"kvmtui: {field}: ") and words in proc.stderr and proc.stderr.count("\n") == 1
    assert (after := host_state(host)) == before, changes(before, after)


def test_every_failed_step_leaves_the_host_as_it_was(host_and_guest):
    host, _ = host_and_guest
    snapshot = collect_snapshot(netns=host, with_libvirt=False)
    plan = make_plan(CreateShim("kt-nic", "kt-shim", move_ip=True, routes=("10.40.0.50/32", "10.41.0.0/24")), snapshot)
    assert len(plan.steps) >= 7
    assert_every_failure_undone(host, plan)


def test_a_macvtap_attach_offers_the_shim():
    """The plan of a macvtap NIC says how the host gets to the guest (the recorded host's guest)."""
    from kvmtui.cli import read_snapshot_file
    from kvmtui.kinds import AttachInterface
    from tests.helpers import EXAMPLE

    snapshot = read_snapshot_file(str(EXAMPLE))
    plan = make_plan(AttachInterface("web1", macvtap="eno5", mode="bridge"), snapshot)
    assert any("`kvmtui apply shim eno5`" in warning for warning in plan.warnings), plan.warnings


def test_a_macvtap_guests_details_say_how_the_host_reaches_it():
    from kvmtui.cli import read_snapshot_file
    from kvmtui.node_keys import guest_key
    from kvmtui.topology import build_forest
    from kvmtui.views import node_details
    from tests.helpers import EXAMPLE

    snapshot = read_snapshot_file(str(EXAMPLE))
    db1 = next(d for d in snapshot.domains if d.name == "db1")
    number = next(n for n, nic in enumerate(db1.interfaces) if nic.type == "direct")
    _, lines = node_details(snapshot, build_forest(snapshot), guest_key(db1, number))
    assert dict(lines)["host reach"] == "none through bond0: `kvmtui apply shim bond0` (a macvlan beside the macvtap)"
