"""The change watchers on real event sources."""

from __future__ import annotations

import time

from kvmtui.collect.watch import NetlinkWatcher
from tests.helpers import sh
from tests.helpers import Recorder


def test_netlink_events_in_a_namespace(netns):
    seen = Recorder()
    watcher = NetlinkWatcher(netns, seen.event, seen.status)
    watcher.start()
    try:
        seen.wait(lambda: any(s.ok for s in seen.statuses))
        sh("ip", "-n", netns, "tuntap", "add", "kt-t1", "mode", "tap")
        seen.wait(lambda: any(e.what == "RTM_NEWLINK" for e in seen.events))
        sh("ip", "-n", netns, "link", "del", "kt-t1")
        seen.wait(lambda: any(e.what == "RTM_DELLINK" for e in seen.events))
    finally:
        watcher.stop()


def test_buffer_overflow_means_resync_not_a_crash(netns):
    """A receive buffer far too small for a burst: the kernel drops events (ENOBUFS);
    the watcher asks for a full re-read and goes on listening."""
    seen = Recorder()
    watcher = NetlinkWatcher(netns, seen.event, seen.status, rcvbuf=1024)
    watcher.start()
    try:
        seen.wait(lambda: any(s.ok for s in seen.statuses))
        batch = "\n".join(f"link add kt-o{n} type veth peer name kt-q{n}" for n in range(300))
        sh("sh", "-c", f"printf '%s\\n' '{batch}' | ip -n {netns} -batch -")
        seen.wait(lambda: any(e.resync for e in seen.events))
        count = len(seen.events)
        time.sleep(0.5)  # let the watcher listen again
        sh("ip", "-n", netns, "tuntap", "add", "kt-after", "mode", "tap")
        seen.wait(lambda: len(seen.events) > count and not seen.events[-1].resync)
    finally:
        watcher.stop()
