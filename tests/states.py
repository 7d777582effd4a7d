"""Host state as an administrator compares it before and after an apply or an undo."""

from __future__ import annotations

import difflib
import json
import time
from dataclasses import replace

from kvmtui.apply import Executor
from kvmtui.plan import Plan
from kvmtui.plan import steps as s
from tests.helpers import sh
from tests.topologies import ns_json


VOLATILE = {"stats64", "hello_timer", "tcn_timer", "topology_change_timer", "gc_timer", "valid_life_time",
            "preferred_life_time", "qdisc"}


def host_state(netns: str) -> dict:
    """What an administrator compares: links, addresses, routes, bridge ports (minus timers/counters)."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return {
        "link": sorted(clean(ns_json(netns, "ip", "-d", "-j", "link", "show")), key=lambda l: l["ifname"]),
        "addr": sorted(clean(ns_json(netns, "ip", "-j", "addr", "show")), key=lambda l: l["ifname"]),
        "route": sorted(ns_json(netns, "ip", "-j", "route", "show"), key=json.dumps),
        "bridge": sorted(clean(ns_json(netns, "bridge", "-j", "link", "show")), key=json.dumps),
    }


def no_dad(ns: str) -> None:
    """IPv6 DAD runs after every flap; with it on, a state read right after an undo may
    show an address still tentative."""
    for knob in ("all", "default"):
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{knob}.accept_dad=0")



def undo_state(ns: str) -> dict:
    """What an administrator compares, without running timers (forward_delay_timer...) and
    ifindexes: a deleted device comes back with a new one, all else as it was. Besides
    links, addresses, routes and bridge ports: the bridges' VLAN entries and the static FDB
    entries an administrator added, and a vxlan's remote VTEPs (permanent, with a dst). Not
    the bridges' permanent entries: a bridge that took a port's MAC holds that entry on the
    port, one re-created with that MAC on itself."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if not k.endswith("_timer") and k != "ifindex"}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    state = clean(host_state(ns))
    state["bridge"].sort(key=json.dumps)  # it was in ifindex order
    fdb = [e for e in ns_json(ns, "bridge", "-j", "fdb", "show")
           if e.get("state") == "static" or (e.get("state") == "permanent" and "dst" in e)]
    return state | {"vlan": sorted(ns_json(ns, "bridge", "-j", "vlan", "show"), key=json.dumps),
                    "fdb": sorted(fdb, key=json.dumps)}


def changes(before: dict, after: dict) -> str:
    """The lines that differ, with a little context: the whole state is hundreds of lines."""
    lines = [json.dumps(state, indent=1, sort_keys=True).splitlines() for state in (before, after)]
    return "\n".join(difflib.unified_diff(*lines, "before", "after", lineterm="", n=4))


def settled(ns: str, expected: dict, seconds: float = 5.0) -> dict:
    """The state once it stops changing toward `expected`: a bond put back finds its
    slaves' carrier at its next MII poll (miimon ms), not at once."""
    deadline = time.monotonic() + seconds
    while (state := undo_state(ns)) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return state


def steady(ns: str, seconds: float = 15.0, read=undo_state) -> dict:
    """The state (as `read` sees it) once a second passes without change: a fresh bond or
    bridge port comes up (carrier, operstate, its IPv6 link-local address) a moment after
    the commands."""
    deadline = time.monotonic() + seconds
    state, since = read(ns), time.monotonic()
    while time.monotonic() - since < 1.0 and time.monotonic() < deadline:
        time.sleep(0.2)
        if (again := read(ns)) != state:
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
