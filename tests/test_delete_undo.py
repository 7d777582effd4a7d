"""A delete that fails at any step is undone to the state before it: the device back with
its ports, its own master, its addresses and routes. Failure injection as in
test_apply_netns: the executor's before_step raises at step N; steps 1..N-1 ran for real.
A step that never runs is added after the last one, so the delete itself is undone too."""

from __future__ import annotations

import difflib
import json
import time
from dataclasses import replace

from kvmtui.apply import Executor
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.plan import DeleteLink, Plan, make_plan
from kvmtui.plan import steps as s
from tests.conftest import sh
from tests.test_apply_netns import host_state as full_state
from tests.topologies import ns_json


def host_state(ns: str) -> dict:
    """What an administrator compares, without running timers (forward_delay_timer...) and
    ifindexes: a deleted device comes back with a new one, all else as it was. Besides
    links, addresses, routes and bridge ports: the bridges' VLAN entries and the static FDB
    entries an administrator added. Not the kernel's permanent entries: a bridge that took
    a port's MAC holds that entry on the port, one re-created with that MAC on itself."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if not k.endswith("_timer") and k != "ifindex"}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    state = clean(full_state(ns))
    state["bridge"].sort(key=json.dumps)  # it was in ifindex order
    fdb = [e for e in ns_json(ns, "bridge", "-j", "fdb", "show") if e.get("state") == "static"]
    return state | {"vlan": sorted(ns_json(ns, "bridge", "-j", "vlan", "show"), key=json.dumps),
                    "fdb": sorted(fdb, key=json.dumps)}


def no_dad(ns: str) -> None:
    """IPv6 DAD runs after every flap; with it on, a state read right after an undo may
    show an address still tentative."""
    for knob in ("all", "default"):
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{knob}.accept_dad=0")


def changes(before: dict, after: dict) -> str:
    """The lines that differ, with a little context: the whole state is hundreds of lines."""
    lines = [json.dumps(state, indent=1, sort_keys=True).splitlines() for state in (before, after)]
    return "\n".join(difflib.unified_diff(*lines, "before", "after", lineterm="", n=4))


def settled(ns: str, expected: dict, seconds: float = 5.0) -> dict:
    """The state once it stops changing toward `expected`: a bond put back finds its
    slaves' carrier at its next MII poll (miimon ms), not at once."""
    deadline = time.monotonic() + seconds
    while (state := host_state(ns)) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return state


def steady(ns: str, seconds: float = 15.0) -> dict:
    """The state once a second passes without change: a fresh bond or bridge port comes
    up (carrier, operstate, its IPv6 link-local address) a moment after the commands."""
    deadline = time.monotonic() + seconds
    state, since = host_state(ns), time.monotonic()
    while time.monotonic() - since < 1.0 and time.monotonic() < deadline:
        time.sleep(0.2)
        if (again := host_state(ns)) != state:
            state, since = again, time.monotonic()
    return state


def assert_every_failure_undone(ns: str, plan: Plan) -> None:
    before = steady(ns)
    never_runs = s.link_set("lo", (("state", "up"),), (("state", "up"),))
    plan = replace(plan, steps=plan.steps + (never_runs,))
    for failing in range(1, len(plan.steps) + 1):
        def fail(number, step, failing=failing):
            if number == failing:
                raise RuntimeError(f"injected failure at step {number}")

        report = Executor(ns, None, readonly=False, before_step=fail).apply(plan)
        assert not report.ok and report.failed == plan.steps[failing - 1] and not report.undo_errors, report.summary()
        after = settled(ns, before)
        assert after == before, (f"host changed after a failure at step {failing}: {plan.steps[failing - 1].command}\n"
                                 + changes(before, after))


def bridge_with_two_veth_ports(netns: str) -> None:
    """kt-br0, up, with ports kt-p1 and kt-p2 (veths whose far ends kt-q1/kt-q2 are up)."""
    no_dad(netns)
    for n in (1, 2):
        sh("ip", "-n", netns, "link", "add", f"kt-p{n}", "type", "veth", "peer", "name", f"kt-q{n}")
    sh("ip", "-n", netns, "link", "add", "kt-br0", "type", "bridge")
    for n in (1, 2):
        sh("ip", "-n", netns, "link", "set", f"kt-p{n}", "master", "kt-br0")
        sh("ip", "-n", netns, "link", "set", f"kt-p{n}", "up")
        sh("ip", "-n", netns, "link", "set", f"kt-q{n}", "up")
    sh("ip", "-n", netns, "link", "set", "kt-br0", "up")


def test_a_failed_delete_of_a_bridge_with_ports_puts_everything_back(netns):
    bridge_with_two_veth_ports(netns)
    sh("ip", "-n", netns, "addr", "add", "10.9.0.1/24", "dev", "kt-br0")
    sh("ip", "-n", netns, "route", "add", "10.99.0.0/16", "via", "10.9.0.254")
    plan = make_plan(DeleteLink("kt-br0"), collect_snapshot(netns=netns, with_libvirt=False))
    assert [st.command for st in plan.steps][-1] == "ip link del kt-br0"
    assert_every_failure_undone(netns, plan)


def test_a_failed_delete_of_a_bridge_gives_its_ports_back_their_settings_and_static_macs(netns):
    """A port released from its bridge forgets its cost, priority, hairpin, learning and the
    MACs pinned on it: the undo sets them again, and sets nothing the kernel gives anyway."""
    bridge_with_two_veth_ports(netns)
    sh("bridge", "-n", netns, "link", "set", "dev", "kt-p1", "cost", "50", "priority", "7", "hairpin", "on",
       "learning", "off")
    sh("bridge", "-n", netns, "link", "set", "dev", "kt-p2", "flood", "off", "isolated", "on")
    sh("bridge", "-n", netns, "fdb", "add", "52:54:00:12:34:56", "dev", "kt-p1", "master", "static")
    sh("bridge", "-n", netns, "fdb", "add", "52:54:00:12:34:57", "dev", "kt-p2", "master", "static", "sticky")
    plan = make_plan(DeleteLink("kt-br0"), collect_snapshot(netns=netns, with_libvirt=False))
    undo = [after.command for st in plan.steps if st.inverse for after in st.inverse.then]
    assert undo == ["bridge link set dev kt-p2 flood off isolated on",  # released last to first
                    "bridge fdb add 52:54:00:12:34:57 dev kt-p2 master static sticky",
                    "bridge link set dev kt-p1 cost 50 priority 7 hairpin on learning off",
                    "bridge fdb add 52:54:00:12:34:56 dev kt-p1 master static"]
    assert not any(c.startswith("bridge ") for c in plan.commands)  # the delete itself takes them along
    assert_every_failure_undone(netns, plan)
