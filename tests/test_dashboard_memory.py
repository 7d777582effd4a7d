"""The dashboard lets go of links that came and went (issue 9: 3,000 veth pairs left it
~200 MiB larger for good). bench/dashboard.py measures the full burst (and, with
KVMTUI_BENCH_MEMDUMP, where the memory is); this is its cheap form, on a real namespace
the dashboard watches."""

from __future__ import annotations

import gc

import psutil
from textual.widgets.tree import TreeNode

from kvmtui.model import FdbEntry, Link, Snapshot
from kvmtui.topology import walk
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.topology_pane import TopologyTree
from tests.helpers import sh
from tests.dashboard import select_in_tree, tree_keys, tree_labels, wait_for

PAIRS = 300  # 600 links: over memory.SHRINK, so the memory is handed back too
STATIC = 300  # static FDB entries on one port


def ip_batch(netns: str, lines: list[str]) -> None:
    sh("sh", "-c", f"printf '%s\\n' '{chr(10).join(lines)}' | ip -n {netns} -batch -")


BURST = ("kt-bu", "kt-bv")  # the burst's names: other tests' kt- devices may still be alive in this process


def alive(kind: type) -> list:
    """Every object of `kind` still in the process, wherever it is held (a message queue, a
    worker, an old snapshot, a cache)."""
    gc.collect()
    return [obj for obj in gc.get_objects() if type(obj) is kind]


def rss_mib() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


async def test_nothing_of_a_burst_of_links_stays_after_they_are_gone(netns):
    """What the tree widget keeps per node (label faces, collapse state) and the rates and
    their history are read from its attributes: no screen shows them."""
    app = KvmtuiApp(DashboardOptions(netns=netns, with_libvirt=False, interval=0.3))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the first snapshot")
        await pilot.pause(0.5)
        before = rss_mib()
        ip_batch(netns, [f"link add kt-bu{n} type veth peer name kt-bv{n}" for n in range(PAIRS)])
        last = f"link:kt-bv{PAIRS - 1}"
        await wait_for(pilot, lambda: last in tree_keys(app), what="the burst on screen")
        await select_in_tree(pilot, app, "link:kt-bu0")  # its counters are polled, rates kept
        await wait_for(pilot, lambda: any(name.startswith(BURST) for name in app.updates.history), what="rates of a link")
        ip_batch(netns, [f"link del kt-bu{n}" for n in range(PAIRS)])
        await wait_for(pilot, lambda: not any(key.startswith(tuple(f"link:{b}" for b in BURST)) for key in tree_keys(app)),
                       what="the burst gone from the tree")
        await pilot.pause(1.0)  # a poll after the refresh, and the memory handed back
        # the memory handed back once the drop is over: the count starts afresh
        await wait_for(pilot, lambda: app.updates.after_burst.most == len(app.snapshot.links),
                       what="the memory handed back after the burst")
        await pilot.pause(0.5)
        tree = app.query_one(TopologyTree)
        keys = {node.key for _, node in walk(app.forest)}
        assert not any(b in label for label in tree_labels(app) for b in BURST)
        assert set(tree._faces) <= keys and tree._collapsed <= keys
        assert not [name for name in (*app.updates.history, *app.updates.rates) if name.startswith(BURST)]
        assert not [link.ifname for link in alive(Link) if link.ifname.startswith(BURST)]
        assert not [node.data for node in alive(TreeNode) if any(b in (node.data or "") for b in BURST)]
        assert not [s for s in alive(Snapshot) if any(link.ifname.startswith(BURST) for link in s.links)]
        grown = rss_mib() - before
        assert grown < 25, f"the dashboard kept {grown:.0f} MiB after 600 links came and went"


async def test_a_full_refresh_keeps_one_copy_of_the_fdb(netns):
    """The audit compares with the first snapshot (bond failures, MACs that moved): after `r`
    re-reads the FDB, the process holds the entries once, not the first read's as well."""
    sh("ip", "-n", netns, "link", "add", "kt-br", "type", "bridge")
    ip_batch(netns, ["link add kt-port type veth peer name kt-peer", "link set kt-port master kt-br",
                     *(f"link set {name} up" for name in ("kt-br", "kt-port", "kt-peer"))])
    sh("sh", "-c", "printf '%s\\n' " + " ".join(f"'fdb add 02:00:00:00:{n // 256:02x}:{n % 256:02x} dev kt-port "
                                               f"master static'" for n in range(STATIC))
       + f" | bridge -n {netns} -batch -")
    app = KvmtuiApp(DashboardOptions(netns=netns, with_libvirt=False, interval=0.3))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.fdb) >= STATIC,
                       what="the first snapshot with its FDB")
        shown = app.snapshots_shown
        await pilot.press("r")
        await wait_for(pilot, lambda: app.snapshots_shown > shown and not app.updates.flights["netlink"].running, what="the refresh")
        await pilot.pause(0.5)
        static = [entry for entry in alive(FdbEntry) if entry.ifname == "kt-port" and entry.state == "static"]
        assert len(static) == STATIC, f"{len(static)} static FDB entries alive for {STATIC} on the host"
