"""The live sources' own state (kvmtui/collect/sources.py), as the status line and the
tabs read it: merges of given parts, no read, so no daemon and no namespace needed.
The same state on a real libvirtd that stops and comes back: test_libvirt_reconnect."""

from __future__ import annotations

from dataclasses import replace

from kvmtui.collect.libvirt import LibvirtState
from kvmtui.collect.sources import KernelSource, LibvirtSource
from kvmtui.collect.watch import SourceStatus
from kvmtui.model import Domain, HostInfo, Snapshot

KERNEL = Snapshot(host=HostInfo("h", "k", "2026-01-02T03:04:05+00:00", None, None, None, "0"),
                  problems=("bond0: unreadable",))
WEB1 = Domain("web1", "u1", "running", 1, True, ())
SEEN = LibvirtState("qemu:///system", "9.0.0", (WEB1,), (), problems=("domain 'x': bad XML",))
FAILED = LibvirtState("qemu:///system", None, (), (), error="libvirt: no answer within 15 s")


def test_libvirt_keeps_the_last_guests_through_a_failed_read_and_says_since_when():
    source = LibvirtSource("qemu:///system")
    assert source.freshness(None, 0.0) == "libvirt: reading…"
    shown = source.merge(KERNEL, SEEN)
    assert shown.domains == (WEB1,) and shown.problems == ("bond0: unreadable", "domain 'x': bad XML")
    assert source.freshness(shown, 0.0) is None and not source.stale
    assert source.freshness(shown, 5.0) == "libvirt: no answer for 5 s"  # slow, not yet lost
    shown = source.merge(shown, FAILED)
    assert shown.domains == (WEB1,) and shown.libvirt_error == FAILED.error and source.stale
    assert shown.problems == ("bond0: unreadable",)  # the old libvirt problems gave way
    text = source.freshness(shown, 0.0)
    assert text.startswith("libvirt lost since ") and text.endswith("last known guests shown")
    assert source.merge(KERNEL, None).domains == (WEB1,)  # a fresh kernel part gets the last guests
    source.merge(shown, SEEN)
    assert not source.stale and source.health.lost_at is None


def test_libvirt_lost_by_its_watcher_before_any_guest_was_seen_is_unreachable():
    source = LibvirtSource("qemu:///system")
    source.watch_changed(SourceStatus("libvirt", False, "libvirt qemu:///system: connection lost, retrying"))
    assert not source.stale and source.freshness(None, 0.0) == "libvirt: unreachable"
    source.watch_changed(SourceStatus("libvirt", True, "libvirt qemu:///system"))
    assert source.freshness(None, 0.0) == "libvirt: reading…"


def test_kernel_says_live_until_its_events_or_its_read_fail():
    source = KernelSource(None)
    shown = source.merge(None, KERNEL)
    assert source.freshness(shown, 0.0) == "live, read 03:04:05 UTC"
    assert "(refreshing)" in source.freshness(shown, 4.0)  # a read in flight for over 3 s
    source.read_failed()
    assert "(refresh failed)" in source.freshness(shown, 0.0)
    source.merge(shown, replace(KERNEL))
    source.watch_changed(SourceStatus("netlink", False, "netlink events: gone"))
    assert "(no events)" in source.freshness(shown, 0.0)



def test_the_fdb_of_a_bridge_deleted_since_it_was_shown_is_empty_not_an_error(netns):
    """An apply deletes the bridge on screen while its FDB is being read: the kernel says
    ENODEV, the dashboard must not show that as an error (the next read drops the bridge)."""
    from tests.helpers import sh

    sh("ip", "-n", netns, "link", "add", "kt-br0", "type", "bridge")
    source = KernelSource(netns)
    ifindex = next(link.ifindex for link in source_links(netns) if link.ifname == "kt-br0")
    sh("ip", "-n", netns, "link", "del", "kt-br0")
    assert source.read_fdb(ifindex, {}) == ()


def source_links(netns: str):
    from kvmtui.collect.snapshot import collect_kernel

    return collect_kernel(netns=netns, with_fdb=False).links
