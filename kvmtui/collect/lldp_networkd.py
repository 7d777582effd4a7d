"""The LLDP neighbours systemd-networkd heard (`LLDP=` in a .network file; `routers-only` is
its default): the files /run/systemd/netif/lldp/<ifindex> it keeps, each the frames as they
arrived, one per neighbour, each after its length as a little-endian u64. The frames are
parsed as the listener parses the wire (collect/wire_frames.py). Read only for the host's
own namespace (networkd's files describe that one); no file, no neighbours."""

from __future__ import annotations

import os
import struct

from kvmtui.collect.wire_frames import parse_frame
from kvmtui.model.wire import Neighbour, PortNeighbour

NETWORKD_LLDP = "/run/systemd/netif/lldp"
SOURCE = "networkd"
MAX_FILE = 1 << 20  # a few frames of at most 1500 bytes each; more is not networkd's file


def parse_networkd_lldp(data: bytes) -> list[Neighbour]:
    """The neighbours in one of networkd's files; a truncated tail is left out."""
    found, offset = [], 0
    while offset + 8 <= len(data):
        (size,) = struct.unpack_from("<Q", data, offset)
        frame = data[offset + 8:offset + 8 + size]
        if len(frame) < size:
            break
        offset += 8 + size
        info = parse_frame(frame)
        if info is not None and info.neighbour is not None:
            found.append(info.neighbour)
    return found


def networkd_port_neighbours(names: dict[int, str], directory: str = NETWORKD_LLDP) -> tuple[PortNeighbour, ...]:
    """What networkd heard, by port (`names`: ifindex -> name of the links read)."""
    try:
        entries = sorted(os.listdir(directory))
    except OSError:
        return ()
    found = []
    for entry in entries:
        if not entry.isdigit() or int(entry) not in names:
            continue
        try:
            with open(os.path.join(directory, entry), "rb") as file:
                data = file.read(MAX_FILE)
        except OSError:
            continue
        found += [PortNeighbour(names[int(entry)], SOURCE, n) for n in parse_networkd_lldp(data)]
    return tuple(found)
