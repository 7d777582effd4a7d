"""libvirt going away and coming back, with a private daemon the test can stop."""

from __future__ import annotations

import pytest

from kvmtui.collect.watch import LibvirtWatcher
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from tests.dashboard import wait_for
from tests.libvirtd_private import PrivateLibvirtd
from tests.test_watch import Recorder


@pytest.fixture
def daemon():
    private = PrivateLibvirtd()
    private.start()
    try:
        yield private
    finally:
        private.remove()


def test_watcher_reports_loss_and_reconnects(daemon):
    seen = Recorder()
    watcher = LibvirtWatcher(daemon.uri, seen.event, seen.status)
    watcher.RETRY_SECONDS = 0.5
    watcher.start()
    try:
        seen.wait(lambda: seen.statuses and seen.statuses[-1].ok)
        daemon.stop()
        seen.wait(lambda: not seen.statuses[-1].ok)
        assert "connection lost" in seen.statuses[-1].text or "retrying" in seen.statuses[-1].text
        assert any(e.resync for e in seen.events)
        daemon.start()
        seen.wait(lambda: seen.statuses[-1].ok)
        seen.wait(lambda: any(e.what == "reconnected" and e.resync for e in seen.events))
    finally:
        watcher.stop()


async def test_dashboard_shows_lost_libvirt_and_recovers(daemon, netns):
    app = KvmtuiApp(DashboardOptions(netns=netns, uri=daemon.uri, interval=60))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and any(d.name == "test" for d in app.snapshot.domains),
                       what="the test driver's guest")
        daemon.stop()
        status = app.query_one("#status")
        await wait_for(pilot, lambda: "libvirt" in str(status.render()) and (
            "lost" in str(status.render()) or "unreachable" in str(status.render())), what="the loss on screen")
        daemon.start()
        await wait_for(pilot, lambda: "lost" not in str(status.render()) and "unreachable" not in str(status.render())
                       and any(d.name == "test" for d in app.snapshot.domains), timeout=30, what="recovery on screen")
