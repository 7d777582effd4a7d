"""Traffic between namespaces without `ping` (not installed everywhere): ICMP echo over a raw
socket, run by this Python inside the namespace."""

from __future__ import annotations

import subprocess
import sys

_ECHO = r"""
import os, socket, struct, sys, time
target = sys.argv[1]
def checksum(data):
    data += b"\0" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xffff)
    return ~(total + (total >> 16)) & 0xffff
ident = os.getpid() & 0xffff
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sock.settimeout(0.5)
deadline = time.monotonic() + float(sys.argv[2])
seq = 0
while time.monotonic() < deadline:
    seq += 1
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    sock.sendto(struct.pack("!BBHHH", 8, 0, checksum(header + b"kvmtui"), ident, seq) + b"kvmtui", (target, 0))
    try:
        while True:
            packet, (source, _) = sock.recvfrom(2048)
            icmp = packet[(packet[0] & 0x0f) * 4:]
            if source == target and icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
                sys.exit(0)
    except (socket.timeout, OSError):
        pass
sys.exit(1)
"""


def ping(netns: str, address: str, seconds: float = 5.0) -> bool:
    """Does `address` answer an ICMP echo from namespace `netns` within `seconds`?"""
    proc = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", _ECHO, address, str(seconds)],
                          capture_output=True, text=True, timeout=seconds + 30)
    return proc.returncode == 0
