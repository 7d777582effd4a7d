"""Frames with a chosen source MAC, sent inside a namespace: how a test makes a bridge learn."""

from __future__ import annotations

import socket
import subprocess
import sys

# One broadcast frame (EtherType 0x88b5, local experimental) out of argv[1] from MAC argv[2].
_SEND = r"""
import socket, sys
with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as raw:
    raw.bind((sys.argv[1], 0))
    raw.send(b"\xff" * 6 + bytes.fromhex(sys.argv[2].replace(":", "")) + b"\x88\xb5" + bytes(46))
"""


def send_frame(netns: str, ifname: str, source_mac: str) -> None:
    """The bridge behind `ifname` (through its veth peer) learns `source_mac` on that port."""
    subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", _SEND, ifname, source_mac],
                   check=True, capture_output=True, timeout=30)


def send_frame_from(ifname: str, source_mac: str) -> None:
    """One broadcast frame with `source_mac` out of `ifname`: the bridge behind it learns."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as raw:
        raw.bind((ifname, 0))
        raw.send(b"\xff" * 6 + bytes.fromhex(source_mac.replace(":", "")) + b"\x88\xb5" + bytes(46))
