"""An uplink's addresses and routes moved onto a bridge and back, with what `ip` shows
beside them: secondary addresses, alias labels, broadcast, on-link routes (scope link),
`src`, `onlink` gateways, IPv6 routes. Real namespaces; the kernel's state is compared."""

from __future__ import annotations

import time

import pytest

from kvmtui.apply import Executor
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.kinds import CreateBridge, DeleteLink, make_plan
from tests.helpers import sh
from tests.helpers import kvmtui_in
from tests.states import host_state
from tests.topologies import ns_json


@pytest.fixture
def rich_uplink(uplink_ns):  # noqa: F811
    """uplink_ns's kt-up, plus what an administrator's hand-made uplink carries."""
    ns = uplink_ns
    for args in (("addr", "add", "10.20.0.3/24", "dev", "kt-up"),  # a secondary of 10.20.0.2/24
                 ("addr", "add", "10.40.0.5/16", "brd", "+", "dev", "kt-up", "label", "kt-up:mgmt"),
                 ("addr", "add", "2001:db8:1::5/64", "dev", "kt-up"),
                 ("route", "add", "198.51.100.0/24", "dev", "kt-up"),
                 ("route", "add", "203.0.113.0/24", "via", "10.20.0.9", "dev", "kt-up", "src", "10.20.0.2"),
                 ("route", "add", "192.0.2.0/24", "via", "172.16.0.1", "dev", "kt-up", "onlink"),
                 ("-6", "route", "add", "2001:db8:9::/48", "via", "2001:db8:1::1", "dev", "kt-up")):
        sh("ip", "-n", ns, *args)
    return ns


def state(ns: str) -> dict:
    """host_state, IPv6 routes too, without timers (a port's forward-delay timer runs)
    and ifindexes (a deleted bridge put back by a rollback is a new device)."""
    def timeless(value):
        if isinstance(value, dict):
            return {k: timeless(v) for k, v in value.items() if not k.endswith("_timer") and k != "ifindex"}
        return [timeless(v) for v in value] if isinstance(value, list) else value

    return timeless(host_state(ns) | {"route6": sorted(map(str, ns_json(ns, "ip", "-6", "-j", "route", "show")))})


def addresses(ns: str, dev: str) -> list[tuple]:
    (link,) = ns_json(ns, "ip", "-j", "addr", "show", "dev", dev)
    return [(a["local"], a["prefixlen"], a.get("broadcast"), a.get("label"), bool(a.get("secondary")))
            for a in link["addr_info"] if a["scope"] != "link"]


def routes(ns: str, dev: str, *family: str) -> list[dict]:
    keep = ("dst", "gateway", "prefsrc", "scope", "flags", "metric", "protocol")
    return sorted(({k: r[k] for k in keep if k in r} for r in ns_json(ns, "ip", *family, "-j", "route", "show", "dev", dev)
                   if r.get("protocol") != "kernel"), key=str)


def test_everything_moves_onto_the_bridge_and_back(rich_uplink):
    ns = rich_uplink
    before = state(ns)
    on_uplink = addresses(ns, "kt-up"), routes(ns, "kt-up"), routes(ns, "kt-up", "-6")
    proc = kvmtui_in(ns, "apply", "--yes", "--no-confirm", "bridge", "kt-br0", "--port", "kt-up", "--move-ip-from", "kt-up")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    moved = addresses(ns, "kt-br0")
    assert moved == [(local, n, brd, label and label.replace("kt-up", "kt-br0"), secondary)
                     for local, n, brd, label, secondary in on_uplink[0]]
    assert ("10.20.0.3", 24, None, "kt-br0", True) in moved and ("10.40.0.5", 16, "10.40.255.255", "kt-br0:mgmt", False) in moved
    assert (routes(ns, "kt-br0"), routes(ns, "kt-br0", "-6")) == on_uplink[1:]
    assert addresses(ns, "kt-up") == [] and routes(ns, "kt-up") == []

    proc = kvmtui_in(ns, "apply", "--yes", "--no-confirm", "delete", "kt-br0", "--move-ip-to", "kt-up")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert state(ns) == before


def test_a_failure_at_any_step_of_either_move_leaves_the_host_as_it_was(rich_uplink):
    """Failure injection through the executor's before_step hook, as in test_apply_netns."""
    ns = rich_uplink
    plans = [lambda snapshot: make_plan(CreateBridge("kt-br0", ("kt-up",), move_ip_from="kt-up"), snapshot),
             lambda snapshot: make_plan(DeleteLink("kt-br0", move_ip_to="kt-up"), snapshot)]
    for make in plans:
        before = state(ns)
        plan = make(collect_snapshot(netns=ns, with_libvirt=False))
        for failing in range(1, len(plan.steps) + 1):
            def fail(number, step, failing=failing):
                if number == failing:
                    raise RuntimeError(f"injected failure at step {number}")

            report = Executor(ns, None, readonly=False, before_step=fail).apply(plan)
            assert not report.ok and not report.undo_errors, report.undo_errors
            assert state(ns) == before, f"host changed after a failure at step {failing}: {plan.steps[failing - 1].command}"
        assert Executor(ns, None, readonly=False).apply(plan).ok  # then for real, so that the next plan has its bridge


def test_a_port_that_keeps_its_addresses_is_warned_about(uplink_ns):  # noqa: F811
    plan = make_plan(CreateBridge("kt-br0", ("kt-up",)), collect_snapshot(netns=uplink_ns, with_libvirt=False))
    assert any("kt-up keeps 10.20.0.2/24" in w and "--move-ip-from kt-up" in w for w in plan.warnings)
    moved = make_plan(CreateBridge("kt-br0", ("kt-up",), move_ip_from="kt-up"), collect_snapshot(netns=uplink_ns, with_libvirt=False))
    assert not any("keeps" in w for w in moved.warnings)


def settled(ns: str, timeout: float = 15.0) -> None:
    """Waits until no address of the namespace is tentative (duplicate address detection done)."""
    deadline = time.monotonic() + timeout
    while any(a.get("tentative") for link in ns_json(ns, "ip", "-j", "addr", "show") for a in link["addr_info"]):
        assert time.monotonic() < deadline, "IPv6 duplicate address detection did not end"
        time.sleep(0.1)


@pytest.fixture
def dad_uplink(make_netns):
    """kt-up with an IPv6 address and a route whose `src` is that address, in a namespace
    that keeps duplicate address detection ON (the kernel's default)."""
    ns, wire = make_netns(), make_netns()
    sh("ip", "-n", ns, "link", "add", "kt-up", "type", "veth", "peer", "name", "kt-wire", "netns", wire)
    sh("ip", "-n", wire, "link", "set", "kt-wire", "up")
    sh("ip", "-n", ns, "link", "set", "kt-up", "up")
    sh("ip", "-n", ns, "addr", "add", "2001:db8:1::5/64", "dev", "kt-up")
    settled(ns)
    sh("ip", "-n", ns, "-6", "route", "add", "2001:db8:9::/48", "via", "2001:db8:1::1", "dev", "kt-up", "src", "2001:db8:1::5")
    return ns


def test_an_ipv6_address_moves_with_its_src_route_while_dad_is_on(dad_uplink):
    """A moved IPv6 address is usable at once (nodad: the host had it already), so the
    route that names it as `src` can follow; afterwards it carries no nodad flag, so
    DAD guards it on the next link up as before. And back, to the same state."""
    ns = dad_uplink
    before = state(ns)
    shown = kvmtui_in(ns, "plan", "bridge", "kt-br0", "--port", "kt-up", "--move-ip-from", "kt-up")
    assert "ip addr add 2001:db8:1::5/64 dev kt-br0 nodad" in shown.stdout
    proc = kvmtui_in(ns, "apply", "--yes", "--no-confirm", "bridge", "kt-br0", "--port", "kt-up", "--move-ip-from", "kt-up")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (moved,) = [a for a in ns_json(ns, "ip", "-j", "addr", "show", "dev", "kt-br0")[0]["addr_info"]
                if a["local"] == "2001:db8:1::5"]
    assert not moved.get("tentative") and not moved.get("nodad")
    (route,) = [r for r in routes(ns, "kt-br0", "-6") if r["dst"] == "2001:db8:9::/48"]
    assert (route["gateway"], route["prefsrc"]) == ("2001:db8:1::1", "2001:db8:1::5")
    proc = kvmtui_in(ns, "apply", "--yes", "--no-confirm", "delete", "kt-br0", "--move-ip-to", "kt-up")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    settled(ns)  # kt-up's link-local address, re-checked after the link came back
    assert state(ns) == before
