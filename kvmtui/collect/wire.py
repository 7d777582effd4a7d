"""Listen to one port for a few seconds: a packet socket, promiscuous while it is open.

Read-only: the one thing it changes is a promiscuous *membership* of its own socket
(PACKET_ADD_MEMBERSHIP), which the kernel drops when the socket closes, even if kvmtui
is killed; the interface's own promisc flag and everything else stay as they were.
PACKET_AUXDATA gives each frame's VLAN where the NIC stripped the tag (rx VLAN offload):
without it a trunk on such a NIC looks all untagged.
"""

from __future__ import annotations

import errno
import socket
import struct
import time
from collections.abc import Callable

from kvmtui.collect.netns import run_in_netns
from kvmtui.collect.wire_frames import WireTally, auxdata_vlan, parse_frame
from kvmtui.errors import InterfaceNotFound, KvmtuiError
from kvmtui.model.wire import WireReport

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP, PACKET_STATISTICS, PACKET_AUXDATA = 1, 6, 8
PACKET_MR_PROMISC = 1
PACKET_OUTGOING = 4  # sll_pkttype of a frame this host sent
AUXDATA = struct.Struct("IIIHHHH")  # tp_status, tp_len, tp_snaplen, tp_mac, tp_net, tp_vlan_tci, tp_vlan_tpid
SNAP_BYTES = 4096  # headers and discovery TLVs fit; a longer frame is read truncated


class ListenRefused(KvmtuiError):
    """The packet socket could not be had: not root, or the interface cannot be listened on."""


def open_listener(interface: str) -> socket.socket:
    """A promiscuous packet socket on `interface` with auxdata on, in the calling thread's
    namespace (a socket stays in the namespace it was created in). Made with protocol 0,
    which receives nothing, and bound to ETH_P_ALL last: no frame arrives before auxdata is on."""
    try:
        index = socket.if_nametoindex(interface)
    except OSError:
        raise InterfaceNotFound(interface) from None
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError:
        raise ListenRefused("listening on the wire needs root (CAP_NET_RAW)") from None
    try:
        sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, struct.pack("iHH8s", index, PACKET_MR_PROMISC, 0, b""))
        sock.bind((interface, ETH_P_ALL))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.ENODEV:
            raise InterfaceNotFound(interface) from None
        raise ListenRefused(f"cannot listen on {interface}: {exc.strerror or exc}") from None
    return sock


def read_frames(sock: socket.socket, seconds: float, tally: WireTally,
                stop: Callable[[], bool] = lambda: False) -> tuple[float, bool]:
    """Feed every frame received for `seconds` into `tally` (frames this host sent are left
    out); returns the seconds actually listened and whether Ctrl-C or `stop()` ended it early."""
    start = time.monotonic()
    early = False
    deadline = start + seconds
    try:
        while not (early := stop()):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(min(left, 0.25))
            try:
                data, ancillary, _flags, address = sock.recvmsg(SNAP_BYTES, socket.CMSG_SPACE(AUXDATA.size))
            except TimeoutError:
                continue
            if address[2] == PACKET_OUTGOING:
                continue
            vlan = None
            for level, kind, value in ancillary:
                if level == SOL_PACKET and kind == PACKET_AUXDATA and len(value) >= AUXDATA.size:
                    status, _len, _snap, _mac, _net, tci, _tpid = AUXDATA.unpack_from(value)
                    vlan = auxdata_vlan(status, tci)
            frame = parse_frame(data, vlan)
            if frame is not None:
                tally.add(frame)
    except KeyboardInterrupt:
        early = True  # what was heard so far is the answer
    return time.monotonic() - start, early


def dropped_frames(sock: socket.socket) -> int:
    """Frames the kernel dropped for this socket since the last ask (struct tpacket_stats)."""
    try:
        _received, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    except OSError:
        return 0
    return drops


def listen(interface: str, seconds: float, netns: str | None = None, kind: str | None = None) -> WireReport:
    """Listen on `interface` (in namespace `netns`) for `seconds` and say what was heard.
    The socket is opened in the namespace and read here; closing it ends promiscuity."""
    try:
        sock = run_in_netns(netns, lambda: open_listener(interface))
    except InterfaceNotFound:
        raise InterfaceNotFound(interface, netns) from None
    tally = WireTally()
    with sock:
        listened, early = read_frames(sock, seconds, tally)
        dropped = dropped_frames(sock)
    return tally.report(interface, listened if early else seconds, kind, early, dropped)  # not 3.1 s on a busy machine
