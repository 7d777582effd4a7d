"""The dashboard lets go of links that came and went (issue 9: 3,000 veth pairs left it
~200 MiB larger for good). bench/dashboard.py measures the full burst; this is its cheap
form, on a real namespace the dashboard watches."""

from __future__ import annotations

import gc

import psutil

from kvmtui.topology import walk
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.topology_pane import TopologyTree
from tests.helpers import sh
from tests.dashboard import select_in_tree, tree_keys, tree_labels, wait_for

PAIRS = 300  # 600 links: over live.SHRINK, so the memory is handed back too


def ip_batch(netns: str, lines: list[str]) -> None:
    sh("sh", "-c", f"printf '%s\\n' '{chr(10).join(lines)}' | ip -n {netns} -batch -")


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
        await wait_for(pilot, lambda: any(name.startswith("kt-b") for name in app.updates.history), what="rates of a link")
        ip_batch(netns, [f"link del kt-bu{n}" for n in range(PAIRS)])
        await wait_for(pilot, lambda: not any(key.startswith("link:kt-b") for key in tree_keys(app)),
                       what="the burst gone from the tree")
        await pilot.pause(1.0)  # a poll after the refresh, and the memory handed back
        tree = app.query_one(TopologyTree)
        keys = {node.key for _, node in walk(app.forest)}
        assert not any("kt-b" in label for label in tree_labels(app))
        assert set(tree._faces) <= keys and tree._collapsed <= keys
        assert not [name for name in (*app.updates.history, *app.updates.rates) if name.startswith("kt-b")]
        grown = rss_mib() - before
        assert grown < 25, f"the dashboard kept {grown:.0f} MiB after 600 links came and went"
