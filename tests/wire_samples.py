"""Hand-built frames for the port identification tests (plain struct, no scapy), and a
sender that writes them out of a veth inside a namespace through a packet socket."""

from __future__ import annotations

import struct
import subprocess
import sys

SWITCH_MAC = "00:11:22:33:44:55"
ROOT_MAC = "00:aa:bb:cc:dd:01"
BRIDGE_MAC = "00:aa:bb:cc:dd:02"


def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def ether(destination: str, source: str, ethertype: int, payload: bytes, vlan: int | None = None,
          tpid: int = 0x8100, inner_vlan: int | None = None) -> bytes:
    """An Ethernet frame, with an 802.1Q/802.1ad tag (and an inner one) when asked, padded to 60 bytes."""
    tags = b""
    if vlan is not None:
        tags += struct.pack("!HH", tpid, vlan)
    if inner_vlan is not None:
        tags += struct.pack("!HH", 0x8100, inner_vlan)
    frame = mac(destination) + mac(source) + tags + struct.pack("!H", ethertype) + payload
    return frame.ljust(60, b"\0")


def llc(destination: str, source: str, llc_payload: bytes) -> bytes:
    """An 802.3 frame: the length field in place of the ethertype."""
    return ether(destination, source, len(llc_payload), llc_payload)


def tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("!H", kind << 9 | len(value)) + value


def lldp_frame(source: str = SWITCH_MAC, *, vlan: int | None = None) -> bytes:
    """What a switch port sends: chassis (MAC), port id (interface name), TTL, port
    description, system name, management address 192.0.2.10, IEEE 802.1 port VLAN id 10."""
    payload = (tlv(1, b"\x04" + mac(SWITCH_MAC)) + tlv(2, b"\x05Gi1/0/7") + tlv(3, struct.pack("!H", 120))
               + tlv(4, b"uplink to kvm07") + tlv(5, b"sw-core-1") + tlv(6, b"Test switch OS 1.0")
               + tlv(8, bytes([5, 1, 192, 0, 2, 10]) + b"\x02" + struct.pack("!I", 7) + b"\x00")
               + tlv(127, bytes.fromhex("0080c2") + b"\x01" + struct.pack("!H", 10)) + tlv(0, b""))
    return ether("01:80:c2:00:00:0e", source, 0x88CC, payload, vlan=vlan)


def cdp_tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value) + 4) + value


def cdp_frame(source: str = "00:11:22:33:44:66") -> bytes:
    """CDPv2 from "sw-cdp-2" port "GigabitEthernet0/3", platform, native VLAN 10, address 192.0.2.20."""
    addresses = struct.pack("!I", 1) + bytes([1, 1, 0xCC]) + struct.pack("!H", 4) + bytes([192, 0, 2, 20])
    body = (cdp_tlv(0x0001, b"sw-cdp-2") + cdp_tlv(0x0002, addresses) + cdp_tlv(0x0003, b"GigabitEthernet0/3")
            + cdp_tlv(0x0006, b"cisco WS-C2960") + cdp_tlv(0x000A, struct.pack("!H", 10)))
    return llc("01:00:0c:cc:cc:cc", source, bytes.fromhex("aaaa0300000c2000") + bytes([2, 180]) + b"\0\0" + body)


def rstp_bpdu(source: str = BRIDGE_MAC) -> bytes:
    """An RST BPDU: root 1000.00:aa:bb:cc:dd:01, cost 20000, bridge 8000.00:aa:bb:cc:dd:02, port 8003."""
    bpdu = (b"\0\0\x02\x02\x3c" + struct.pack("!H", 0x1000) + mac(ROOT_MAC) + struct.pack("!I", 20000)
            + struct.pack("!H", 0x8000) + mac(BRIDGE_MAC) + struct.pack("!H", 0x8003)
            + struct.pack("!HHHH", 1 << 8, 20 << 8, 2 << 8, 15 << 8) + b"\0")
    return llc("01:80:c2:00:00:00", source, b"\x42\x42\x03" + bpdu)


def data_frame(source: str, vlan: int | None = None) -> bytes:
    """A broadcast frame (local experimental ethertype 0x88b5), tagged when `vlan` is given."""
    return ether("ff:ff:ff:ff:ff:ff", source, 0x88B5, bytes(46), vlan=vlan)


def sample_traffic() -> list[bytes]:
    """What the integration test sends: VLAN 10 x3, 20 x5, 4094 x1, untagged x2, LLDP, CDP, RSTP."""
    frames = [data_frame("02:00:00:00:00:0a", 10) for _ in range(3)]
    frames += [data_frame("02:00:00:00:00:14", 20) for _ in range(5)]
    frames += [data_frame("02:00:00:00:0f:fe", 4094), data_frame("02:00:00:00:00:01"), data_frame("02:00:00:00:00:01")]
    return frames + [lldp_frame(), cdp_frame(), rstp_bpdu()]


_SEND = r"""
import socket, sys
with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as raw:
    raw.bind((sys.argv[1], 0))
    for hex_frame in sys.stdin.read().split():
        raw.send(bytes.fromhex(hex_frame))
"""


def send_frames(netns: str, ifname: str, frames: list[bytes]) -> None:
    """Write `frames` as they are (tags included) out of `ifname` in `netns`."""
    subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", _SEND, ifname],
                   input="\n".join(frame.hex() for frame in frames), text=True, check=True,
                   capture_output=True, timeout=30)


def wire_pair(make_netns) -> tuple[str, str]:
    """(sending namespace, receiving namespace): kt-tx and kt-rx, a veth pair, up, with IPv6
    off so that nothing but the test's frames crosses it."""
    from tests.helpers import sh

    sender, receiver = make_netns(), make_netns()
    for ns in (sender, receiver):
        for knob in ("all", "default"):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{knob}.disable_ipv6=1")
    sh("ip", "-n", sender, "link", "add", "kt-tx", "type", "veth", "peer", "name", "kt-rx", "netns", receiver)
    sh("ip", "-n", sender, "link", "set", "kt-tx", "up")
    sh("ip", "-n", receiver, "link", "set", "kt-rx", "up")
    return sender, receiver


def listening(receiver: str) -> bool:
    """A packet socket bound to ETH_P_ALL (proto 0003) exists in the namespace: kvmtui's
    listener, which binds only once auxdata and promiscuity are set."""
    from tests.helpers import sh

    lines = sh("ip", "netns", "exec", receiver, "cat", "/proc/net/packet").splitlines()[1:]
    return any(line.split()[3] == "0003" for line in lines)
