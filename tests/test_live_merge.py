"""The pure parts of the live data flow: kernel and libvirt parts merged, the last guests
kept through a lost daemon, and worker payloads that cannot change after posting."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from kvmtui.collect.libvirt import LibvirtState
from kvmtui.collect.snapshot import keep_known, merge_libvirt
from kvmtui.model import Domain, HostInfo, LinkStats, Snapshot
from kvmtui.ui.messages import PollResult

KERNEL = Snapshot(host=HostInfo("h", "k", "t", None, None, None, "0"), problems=("bond0: unreadable",))
WEB1 = Domain("web1", "u1", "running", 1, True, ())
SEEN = LibvirtState("qemu:///system", "9.0.0", (WEB1,), (), problems=("domain 'x': bad XML",))


def test_merge_adds_libvirt_and_replaces_its_earlier_problems():
    merged = merge_libvirt(KERNEL, SEEN)
    assert merged.domains == (WEB1,) and merged.host.libvirt_uri == "qemu:///system"
    assert merged.problems == ("bond0: unreadable", "domain 'x': bad XML")
    fresh = LibvirtState("qemu:///system", "9.0.0", (), ())
    again = merge_libvirt(merged, fresh, replacing=SEEN)
    assert again.domains == () and again.problems == ("bond0: unreadable",)
    assert merge_libvirt(KERNEL, None).host.libvirt_uri is None  # nothing judges guests yet


def test_a_failed_read_keeps_the_guests_last_seen_with_the_error():
    failed = LibvirtState("qemu:///system", None, (), (), error="libvirt: no answer within 15 s")
    kept = keep_known(SEEN, failed)
    assert kept.domains == (WEB1,) and kept.error == failed.error and kept.version == "9.0.0"
    assert merge_libvirt(KERNEL, kept).libvirt_error == failed.error  # guest rules stand aside
    assert keep_known(None, failed) is failed


def test_poll_result_counters_are_read_only():
    counters = {"eth0": LinkStats(1, 2, 3, 4, 0, 0, 0, 0)}
    result = PollResult(1.0, counters, ())
    counters["eth1"] = counters["eth0"]  # the worker's own dict: the posted result does not follow
    assert list(result.counters) == ["eth0"]
    with pytest.raises(TypeError):
        result.counters["eth2"] = counters["eth0"]
    with pytest.raises(FrozenInstanceError):
        result.counters = {}
