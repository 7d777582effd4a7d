"""Reachability probes: can this host still reach its default gateway and the SSH
client? Recorded before a guarded change (only probes that answered then count), asked
again while the guard counts down: a path that stopped answering is reverted early.

An ICMP echo on a raw socket (the guard runs as root: it applies changes), opened in
the plan's namespace. No `ping` binary and no ping socket: ping sockets need
net.ipv4.ping_group_range, which a new namespace leaves empty.
"""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass

from kvmtui.model import Snapshot

ECHO_REQUEST = {4: 8, 6: 128}
ECHO_REPLY = {4: 0, 6: 129}


@dataclass(frozen=True, slots=True)
class Probe:
    name: str  # "default gateway", "SSH client"
    address: str

    def to_data(self, passed: bool | None = None) -> dict:
        return {"name": self.name, "address": self.address, "passed": passed}


def probe_targets(snapshot: Snapshot, ssh_connection: str | None) -> tuple[Probe, ...]:
    """The gateways of the main table's default routes and the SSH client's address."""
    probes = [Probe("default gateway", r.gateway) for r in snapshot.routes
              if r.dst == "default" and r.gateway and r.table == 254]
    client = (ssh_connection or "").split()[:1]
    if client and _is_address(client[0]) and not ipaddress.ip_address(client[0]).is_loopback:
        probes.append(Probe("SSH client", client[0]))
    return tuple(dict.fromkeys(probes))


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def answers(address: str, timeout: float) -> bool:
    """One ICMP echo request; True when the reply comes within `timeout` seconds."""
    ip = ipaddress.ip_address(address.split("%")[0])
    family, proto = (socket.AF_INET, socket.IPPROTO_ICMP) if ip.version == 4 else (socket.AF_INET6, socket.IPPROTO_ICMPV6)
    ident, seq = os.getpid() & 0xFFFF, int(time.monotonic() * 1000) & 0xFFFF
    request = struct.pack("!BBHHH", ECHO_REQUEST[ip.version], 0, 0, ident, seq) + b"kvmtui-guard"
    if ip.version == 4:  # the kernel fills in the ICMPv6 checksum itself
        request = request[:2] + struct.pack("!H", _checksum(request)) + request[4:]
    try:
        with socket.socket(family, socket.SOCK_RAW, proto) as sock:
            sock.sendto(request, (address, 0))
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                if not select.select([sock], [], [], left)[0]:
                    return False
                data, source = sock.recvfrom(2048)
                if ip.version == 4:
                    data = data[(data[0] & 0x0F) * 4:]  # past the IPv4 header raw sockets hand over
                if len(data) >= 8 and ipaddress.ip_address(source[0].split("%")[0]) == ip:
                    kind, _code, _sum, rid, rseq = struct.unpack("!BBHHH", data[:8])
                    if kind == ECHO_REPLY[ip.version] and (rid, rseq) == (ident, seq):
                        return True
    except OSError:  # no route, network unreachable, no address left to send from
        return False
    return False


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def run_probes(probes: tuple[Probe, ...], netns: str | None, timeout: float = 1.0) -> dict[Probe, bool]:
    """All at once, each in the namespace (a thread of its own: run_in_netns enters per thread)."""
    from kvmtui.collect.netns import run_in_netns

    results: dict[Probe, bool] = {}

    def one(probe: Probe) -> None:
        try:
            results[probe] = run_in_netns(netns, lambda: answers(probe.address, timeout))
        except Exception:  # noqa: BLE001 - a namespace gone is a probe that failed
            results[probe] = False

    threads = [threading.Thread(target=one, args=(probe,), daemon=True) for probe in probes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 1)
    return {probe: results.get(probe, False) for probe in probes}
