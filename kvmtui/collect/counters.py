"""Cheap counter polls: a link dump decoded for names and IFLA_STATS64 only.

The dashboard polls counters every --interval seconds (the kernel sends no events
for them); this reads the same numbers as /proc/net/dev and psutil, but works in
any namespace and costs a fraction of a full snapshot.
"""

from __future__ import annotations

import time

from kvmtui.collect.decode_links import IFINFOMSG, IFLA_IFNAME, IFLA_STATS64, decode_stats
from kvmtui.collect.nlattr import string
from kvmtui.collect.rtnl import RTM_GETLINK, RTM_NEWLINK, RtnlSocket, attributes, iter_messages
from kvmtui.model import LinkStats


def read_counters() -> tuple[float, dict[str, LinkStats]]:
    """(monotonic time, counters per ifname) in the calling thread's namespace."""
    with RtnlSocket() as sock:
        chunks = sock.dump_chunks(RTM_GETLINK)
    taken = time.monotonic()
    counters: dict[str, LinkStats] = {}
    for data, offset, length in iter_messages(chunks, RTM_NEWLINK):
        attrs = attributes(data, offset + 16 + IFINFOMSG.size, offset + length)
        stats = decode_stats(data, attrs.get(IFLA_STATS64))
        if stats is not None and IFLA_IFNAME in attrs:
            counters[string(data, attrs[IFLA_IFNAME])] = stats
    return taken, counters
