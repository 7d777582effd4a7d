"""The FDB pane under load: rebuilt only when it is in view and its rows changed, and
neighbour storms read one bridge FDB at a time, the last read after the storm."""

from __future__ import annotations

from kvmtui.collect.netns import run_in_netns
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.fdb_pane import FdbPane
from tests.helpers import sh
from tests.dashboard import select_in_tree, wait_for
from tests.frames import send_frame_from
from tests.samples import fdb_snapshot


async def test_fdb_pane_rebuilds_only_in_view_and_on_change(monkeypatch):
    """50,000 entries: a rebuild costs ~150 ms, so cursor moves within one bridge and
    moves while another tab is shown rebuild nothing; showing the tab does."""
    built: list[str] = []
    show = FdbPane.show
    monkeypatch.setattr(FdbPane, "show", lambda pane, title, rows: (built.append(title), show(pane, title, rows)))
    app = KvmtuiApp(DashboardOptions(), recorded=fdb_snapshot(50_000))
    async with app.run_test(size=(120, 40)) as pilot:
        await select_in_tree(pilot, app, "link:br0")
        await select_in_tree(pilot, app, "link:vnet0")
        assert built == []  # the FDB tab is not in view
        await pilot.press("2")
        pane = app.query_one(FdbPane)
        await wait_for(pilot, lambda: len(pane.visible_rows) == 50_003, what="br0's FDB on screen")
        assert built == ["FDB of br0"]
        for key in ("link:br0", "link:eth1", "link:vnet0"):  # the same bridge: nothing to rebuild
            await select_in_tree(pilot, app, key)
        assert built == ["FDB of br0"]
        await pilot.press("1")
        await select_in_tree(pilot, app, "link:br1")
        assert built == ["FDB of br0"]
        await pilot.press("2")
        await wait_for(pilot, lambda: str(pane.query_one("#fdb-title").render()).startswith("FDB of br1"),
                       what="br1's FDB once the tab is shown")
        assert built == ["FDB of br0", "FDB of br1"] and len(pane.visible_rows) == 1


class CountingApp(KvmtuiApp):
    """Counts FDB reads in flight (started, result not yet handled)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reads = self.in_flight = self.most_in_flight = 0

    def run_worker(self, work, *args, **kwargs):
        if kwargs.get("group") == "fdb":
            self.reads += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        return super().run_worker(work, *args, **kwargs)

    def on_bridge_fdb_ready(self, message) -> None:
        self.in_flight -= 1
        super().on_bridge_fdb_ready(message)


async def test_neighbour_storm_reads_one_fdb_at_a_time_and_ends_complete(netns):
    ip = ("ip", "-n", netns)
    sh(*ip, "link", "add", "br0", "type", "bridge")
    sh(*ip, "link", "add", "kt-p", "type", "veth", "peer", "name", "kt-q")
    sh(*ip, "link", "set", "kt-p", "master", "br0")
    for dev in ("br0", "kt-p", "kt-q"):
        sh(*ip, "link", "set", dev, "up")
    macs = [f"02:4b:74:00:{n >> 8:02x}:{n & 255:02x}" for n in range(300)]
    app = CountingApp(DashboardOptions(netns=netns, with_libvirt=False, interval=60))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.link("kt-p"), what="the bridge")
        await select_in_tree(pilot, app, "link:br0")
        await pilot.press("2")
        pane = app.query_one(FdbPane)
        for start in range(0, len(macs), 30):  # a storm: ten bursts of 30 new MACs
            run_in_netns(netns, lambda batch=macs[start:start + 30]: [send_frame_from("kt-q", mac) for mac in batch])
            await pilot.pause(0.05)
        await wait_for(pilot, lambda: set(macs) <= {row.mac for row in pane.visible_rows},
                       what="every MAC of the storm in the FDB pane")
        await pilot.pause(1.0)
        assert app.most_in_flight == 1 and app.in_flight == 0
        assert app.reads < len(macs) // 10  # bursts collapse: far fewer reads than events
