"""libvirt going away and coming back, with a private daemon the test can stop."""

from __future__ import annotations

import os
import signal

import pytest

from kvmtui.collect.watch import LibvirtWatcher
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from tests.helpers import sh
from tests.dashboard import status_line, tab_label, table_rows, tree_labels, wait_for
from tests.libvirtd_private import PrivateLibvirtd
from tests.helpers import Recorder


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


async def test_hung_or_lost_libvirtd_holds_up_no_tap_and_keeps_the_guests(daemon, netns, monkeypatch):
    """A stopped daemon (SIGSTOP: it accepts connections and never answers) and then a
    killed one: a new tap still reaches the tree within seconds, and the guest stays in
    the Guests pane, marked stale, while the status line says since when libvirt is lost."""
    import kvmtui.ui.live

    monkeypatch.setattr(kvmtui.ui.live, "LIBVIRT_TIMEOUT", 8.0)  # a read given up after 8 s, not 15
    app = KvmtuiApp(DashboardOptions(netns=netns, uri=daemon.uri, interval=60))

    def guests() -> list[str]:
        return [row[0] for row in table_rows(app, "#guests-table")]

    async def tap_appears(name: str) -> None:
        sh("ip", "-n", netns, "tuntap", "add", name, "mode", "tap")
        await wait_for(pilot, lambda: any(f" {name} " in label for label in tree_labels(app)), timeout=5,
                       what=f"{name} in the tree")

    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: guests() == ["test"], what="the test driver's guest in the Guests pane")
        assert "libvirt" not in status_line(app) and tab_label(app, "guests") == "4 Guests"
        os.killpg(daemon.proc.pid, signal.SIGSTOP)
        try:
            await pilot.press("r")  # a libvirt read that hangs on the stopped daemon
            await wait_for(pilot, lambda: "libvirt: no answer" in status_line(app), timeout=10, what="the hang on screen")
            await tap_appears("kt-tap1")
            assert guests() == ["test"] and "libvirt: no answer" in status_line(app)  # the read still hangs
            await wait_for(pilot, lambda: "libvirt lost since" in status_line(app), timeout=10, what="the loss on screen")
            assert guests() == ["test"] and tab_label(app, "guests") == "4 Guests (stale)"
        finally:
            os.killpg(daemon.proc.pid, signal.SIGCONT)
        daemon.stop()
        await pilot.press("r")
        await tap_appears("kt-tap2")
        await pilot.pause(1.0)  # the failed libvirt read after the kill is in
        assert guests() == ["test"] and tab_label(app, "networks") == "5 Nets (stale)"
        assert "libvirt lost since" in status_line(app) and "UTC" in status_line(app)
        daemon.start()
        await wait_for(pilot, lambda: "libvirt" not in status_line(app) and tab_label(app, "guests") == "4 Guests",
                       timeout=30, what="recovery on screen")
