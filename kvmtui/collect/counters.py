"""Cheap counter polls: a link dump decoded for names and IFLA_STATS64 only.

The dashboard polls counters every --interval seconds (the kernel sends no events
for them); this reads the same numbers as /proc/net/dev and psutil, but works in
any namespace and costs a fraction of a full snapshot.
"""

from __future__ import annotations

import time

from kvmtui.collect.decode_links import IFINFOMSG, IFLA_IFNAME, IFLA_STATS64, decode_stats
from kvmtui.collect.nlattr import string
from kvmtui.collect.rtnl import NLATTR, RTM_GETLINK, RTM_NEWLINK, RtnlSocket, attributes, iter_messages
from kvmtui.errors import KvmtuiError
from kvmtui.model import LinkStats


def read_counters(only: str | None = None) -> tuple[float, dict[str, LinkStats]]:
    """(monotonic time, counters per ifname) in the calling thread's namespace; `only`:
    one device, asked by name (the dashboard polls just the one on screen)."""
    with RtnlSocket() as sock:
        if only is None:
            chunks = sock.dump_chunks(RTM_GETLINK)
        else:
            name = only.encode() + b"\0"
            body = bytes(IFINFOMSG.size) + NLATTR.pack(4 + len(name), IFLA_IFNAME) + name + bytes(-len(name) % 4)
            try:
                data, _offset = sock.request(RTM_GETLINK, body)
            except KvmtuiError:  # gone since it was selected
                return time.monotonic(), {}
            chunks = [data]
    taken = time.monotonic()
    counters: dict[str, LinkStats] = {}
    for data, offset, length in iter_messages(chunks, RTM_NEWLINK):
        attrs = attributes(data, offset + 16 + IFINFOMSG.size, offset + length)
        stats = decode_stats(data, attrs.get(IFLA_STATS64))
        if stats is not None and IFLA_IFNAME in attrs:
            counters[string(data, attrs[IFLA_IFNAME])] = stats
    return taken, counters
