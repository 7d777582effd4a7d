"""Counters and rates on real traffic through a veth pair in a namespace."""

from __future__ import annotations

import socket
import time

import psutil
import pytest

from kvmtui.collect.counters import read_counters
from kvmtui.collect.netns import run_in_netns
from kvmtui.counters import human_bits, link_rates, rates_between
from kvmtui.model import LinkStats
from tests.helpers import sh


def _send_udp(count: int, size: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for _ in range(count):
            udp.sendto(bytes(size), ("10.5.0.2", 9))
            time.sleep(0.002)


def test_rates_follow_real_traffic(make_netns):
    """UDP from one namespace to another over a veth pair: the sender's tx and the peer's rx grow."""
    near, far = make_netns(), make_netns()
    sh("ip", "-n", near, "link", "add", "kt-va", "type", "veth", "peer", "name", "kt-vb", "netns", far)
    sh("ip", "-n", near, "addr", "add", "10.5.0.1/24", "dev", "kt-va")
    sh("ip", "-n", far, "addr", "add", "10.5.0.2/24", "dev", "kt-vb")
    sh("ip", "-n", near, "link", "set", "kt-va", "up")
    sh("ip", "-n", far, "link", "set", "kt-vb", "up")
    t0, before = run_in_netns(far, read_counters)
    run_in_netns(near, lambda: _send_udp(50, 1000))
    t1, after = run_in_netns(far, read_counters)
    rates = rates_between(before, after, t1 - t0)
    assert after["kt-vb"].rx_packets - before["kt-vb"].rx_packets >= 45  # ARP may hold back a few
    assert after["kt-vb"].rx_bytes - before["kt-vb"].rx_bytes >= 45 * 1000
    assert rates["kt-vb"].rx_bps >= 8 * 45 * 1000 / (t1 - t0)
    assert rates["kt-vb"].rx_errors == 0


def test_counters_agree_with_psutil():
    """In our own namespace the netlink counters are the ones psutil reads from /proc/net/dev."""
    _, ours = read_counters()
    theirs = psutil.net_io_counters(pernic=True)
    assert ours.keys() == theirs.keys()
    lo_ours, lo_theirs = ours["lo"], theirs["lo"]
    assert lo_theirs.bytes_recv - 10_000 <= lo_ours.rx_bytes <= lo_theirs.bytes_recv + 10_000
    assert ours["lo"].rx_errors == lo_theirs.errin


def test_reset_counter_gives_no_negative_rate():
    zero = LinkStats(0, 0, 0, 0, 0, 0, 0, 0)
    busy = LinkStats(1000, 10, 0, 0, 500, 5, 0, 0)
    assert link_rates(busy, zero, 1.0).rx_bps == 0
    assert link_rates(zero, busy, 2.0).rx_bps == 4000
    with pytest.raises(ValueError):
        link_rates(zero, busy, 0)
    assert human_bits(1_500_000) == "1.5 Mbit/s"
