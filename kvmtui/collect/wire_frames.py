"""Pure parsers of what a port hears: Ethernet/802.1Q/802.1ad, LLDP, CDP, STP/RSTP BPDUs.

Bytes in, frozen records (kvmtui/model/wire.py) out, no sockets: the listener
(collect/wire.py) feeds them, and tests feed them hand-built frames. A truncated or
malformed frame or TLV yields what could be read, never an exception.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

from kvmtui.model.wire import Bpdu, FrameInfo, MacSeen, Neighbour, VlanSeen, WireReport

ETH_P_8021Q, ETH_P_8021AD, ETH_P_QINQ_OLD = 0x8100, 0x88A8, 0x9100
ETH_P_LLDP = 0x88CC
VLAN_TPIDS = (ETH_P_8021Q, ETH_P_8021AD, ETH_P_QINQ_OLD)
CDP_DESTINATION = bytes.fromhex("01000ccccccc")
STP_DESTINATION = bytes.fromhex("0180c2000000")
LINK_LOCAL_PREFIX = bytes.fromhex("0180c20000")  # 01:80:c2:00:00:0X: never forwarded by a bridge
SNAP_CDP = bytes.fromhex("aaaa0300000c2000")  # LLC AA AA 03, OUI 00000c, protocol 0x2000
LLC_STP = bytes.fromhex("424203")

# auxdata (struct tpacket_auxdata) status bits
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _text(raw: bytes) -> str:
    """A TLV string as the switch meant it; bytes that are not printable text shown as hex."""
    value = raw.rstrip(b"\0").decode("utf-8", errors="replace")
    if value and all(ch.isprintable() for ch in value) and "\ufffd" not in value:
        return value
    return mac_text(raw)


def auxdata_vlan(status: int, vlan_tci: int) -> int | None:
    """The VLAN id the NIC or kernel took off the frame, from PACKET_AUXDATA; None when
    the frame kept its tag or had none (older kernels set the TCI without the status bit)."""
    if status & TP_STATUS_VLAN_VALID or vlan_tci:
        return vlan_tci & 0x0FFF
    return None


def parse_frame(frame: bytes, aux_vlan: int | None = None) -> FrameInfo | None:
    """One Ethernet frame as a packet socket hands it over; None if shorter than a header.
    The VLAN is the auxdata's when the tag was stripped (then any tag still in the frame
    is an inner one), else the outer 802.1Q/802.1ad tag's. VID 0 (a priority tag) is untagged."""
    if len(frame) < 14:
        return None
    destination, source = frame[0:6], frame[6:12]
    vlan = aux_vlan
    offset = 12
    (ethertype,) = struct.unpack_from("!H", frame, offset)
    while ethertype in VLAN_TPIDS and len(frame) >= offset + 6:
        (tci,) = struct.unpack_from("!H", frame, offset + 2)
        if vlan is None and aux_vlan is None:
            vlan = tci & 0x0FFF
        offset += 4
        (ethertype,) = struct.unpack_from("!H", frame, offset)
    payload = frame[offset + 2:]
    neighbour = bpdu = None
    if ethertype == ETH_P_LLDP:
        neighbour = parse_lldp(payload)
    elif ethertype < 0x600:  # 802.3 length: LLC follows
        payload = payload[:ethertype]
        if destination == CDP_DESTINATION and payload.startswith(SNAP_CDP):
            neighbour = parse_cdp(payload[len(SNAP_CDP):])
        elif destination == STP_DESTINATION and payload.startswith(LLC_STP):
            bpdu = parse_bpdu(payload[len(LLC_STP):])
    return FrameInfo(source_mac=mac_text(source), destination_mac=mac_text(destination),
                     vlan=vlan or None, vlan_from_auxdata=aux_vlan is not None, ethertype=ethertype,
                     neighbour=neighbour, bpdu=bpdu)


def is_control_frame(destination_mac: str) -> bool:
    """LLDP, STP and CDP go to link-local groups: every port sends them untagged, so they
    say nothing about the untagged traffic (native VLAN) a port carries."""
    raw = bytes.fromhex(destination_mac.replace(":", ""))
    return raw.startswith(LINK_LOCAL_PREFIX) or raw == CDP_DESTINATION


# ---- LLDP (IEEE 802.1AB) ----

_LLDP_NETWORK_ADDRESS = 5  # chassis id subtype; port id subtype 4
_IEEE_8021_OUI = bytes.fromhex("0080c2")


def _network_address(raw: bytes) -> str | None:
    """An IANA address family number and the address (LLDP's management and id TLVs)."""
    if not raw:
        return None
    family, address = raw[0], raw[1:]
    try:
        if family == 1 and len(address) == 4:
            return str(ipaddress.IPv4Address(address))
        if family == 2 and len(address) == 16:
            return str(ipaddress.IPv6Address(address))
    except ValueError:
        pass
    if family == 6 and len(address) == 6:
        return mac_text(address)
    return mac_text(raw)


def _lldp_id(raw: bytes, mac_subtype: int, address_subtype: int) -> str | None:
    if not raw:
        return None
    subtype, value = raw[0], raw[1:]
    if subtype == mac_subtype and len(value) == 6:
        return mac_text(value)
    if subtype == address_subtype:
        return _network_address(value)
    return _text(value)


def lldp_tlvs(payload: bytes) -> list[tuple[int, bytes]]:
    """(type, value) pairs up to the End TLV or the end of the data."""
    tlvs, offset = [], 0
    while offset + 2 <= len(payload):
        (header,) = struct.unpack_from("!H", payload, offset)
        kind, length = header >> 9, header & 0x1FF
        if kind == 0:
            break
        tlvs.append((kind, payload[offset + 2:offset + 2 + length]))
        offset += 2 + length
    return tlvs


def parse_lldp(payload: bytes) -> Neighbour | None:
    """An LLDPDU (after the 0x88cc ethertype); None without the mandatory chassis id."""
    found: dict[str, object] = {}
    addresses: list[str] = []
    vlans: set[int] = set()
    for kind, value in lldp_tlvs(payload):
        if kind == 1:
            found["chassis_id"] = _lldp_id(value, 4, _LLDP_NETWORK_ADDRESS)
        elif kind == 2:
            found["port_id"] = _lldp_id(value, 3, 4)
        elif kind == 3 and len(value) >= 2:
            found["ttl"] = struct.unpack_from("!H", value)[0]
        elif kind == 4:
            found["port_description"] = _text(value)
        elif kind == 5:
            found["system_name"] = _text(value)
        elif kind == 6:
            found["platform"] = _text(value)
        elif kind == 8 and value:
            length = value[0]  # of subtype + address
            address = _network_address(value[1:1 + length])
            if address:
                addresses.append(address)
        elif kind == 127 and len(value) >= 6 and value[:3] == _IEEE_8021_OUI and value[3] == 1:
            found["native_vlan"] = struct.unpack_from("!H", value, 4)[0] or None  # 0: the port has none
        elif kind == 127 and len(value) >= 6 and value[:3] == _IEEE_8021_OUI and value[3] == 3:
            vid = struct.unpack_from("!H", value, 4)[0]  # a VLAN name TLV: a VLAN the port carries
            if 1 <= vid <= 4094:
                vlans.add(vid)
    if "chassis_id" not in found:
        return None
    return Neighbour(protocol="lldp", chassis_id=found["chassis_id"], port_id=found.get("port_id"),
                     port_description=found.get("port_description"), system_name=found.get("system_name"),
                     platform=found.get("platform"), native_vlan=found.get("native_vlan"),
                     management_addresses=tuple(addresses), ttl=found.get("ttl"),  # type: ignore[arg-type]
                     vlans=tuple(sorted(vlans)))


# ---- CDP (Cisco Discovery Protocol v1/v2) ----

_CDP_IP = (1, b"\xcc")  # NLPID, IP
_CDP_IPV6 = (2, bytes.fromhex("aaaa0300000086dd"))  # 802.2 SNAP, ethertype IPv6


def cdp_addresses(value: bytes) -> list[str]:
    """The Addresses (0x0002) and Management Addresses (0x0016) TLVs: count, then entries."""
    if len(value) < 4:
        return []
    (count,) = struct.unpack_from("!I", value)
    addresses, offset = [], 4
    for _ in range(count):
        if offset + 2 > len(value):
            break
        protocol_type, protocol_length = value[offset], value[offset + 1]
        protocol = value[offset + 2:offset + 2 + protocol_length]
        offset += 2 + protocol_length
        if offset + 2 > len(value):
            break
        (length,) = struct.unpack_from("!H", value, offset)
        address = value[offset + 2:offset + 2 + length]
        offset += 2 + length
        if (protocol_type, protocol) == _CDP_IP and len(address) == 4:
            addresses.append(str(ipaddress.IPv4Address(address)))
        elif (protocol_type, protocol) == _CDP_IPV6 and len(address) == 16:
            addresses.append(str(ipaddress.IPv6Address(address)))
    return addresses


def parse_cdp(payload: bytes) -> Neighbour | None:
    """A CDP packet after its SNAP header: version, TTL, checksum, then type/length/value
    TLVs (the length counts the 4-byte TLV header). None without a device id."""
    if len(payload) < 4:
        return None
    ttl = payload[1]
    found: dict[str, object] = {}
    addresses: list[str] = []
    offset = 4
    while offset + 4 <= len(payload):
        kind, length = struct.unpack_from("!HH", payload, offset)
        if length < 4:
            break
        value = payload[offset + 4:offset + length]
        offset += length
        if kind == 0x0001:
            found["chassis_id"] = _text(value)
        elif kind == 0x0003:
            found["port_id"] = _text(value)
        elif kind == 0x0006:
            found["platform"] = _text(value)
        elif kind == 0x000A and len(value) >= 2:
            found["native_vlan"] = struct.unpack_from("!H", value)[0]
        elif kind in (0x0002, 0x0016):
            addresses += [a for a in cdp_addresses(value) if a not in addresses]
    if "chassis_id" not in found:
        return None
    return Neighbour(protocol="cdp", chassis_id=found["chassis_id"], port_id=found.get("port_id"),  # type: ignore[arg-type]
                     system_name=found["chassis_id"], platform=found.get("platform"),  # type: ignore[arg-type]
                     native_vlan=found.get("native_vlan"), management_addresses=tuple(addresses), ttl=ttl)  # type: ignore[arg-type]


# ---- STP / RSTP / MSTP BPDUs (IEEE 802.1D/802.1Q) ----

_BPDU_PROTOCOLS = {0: "stp", 2: "rstp", 3: "mstp"}


def bridge_id_text(raw: bytes) -> str:
    """An 8-byte bridge id as `ip -d link` and brctl print it: priority (hex) . MAC."""
    return f"{raw[:2].hex()}.{mac_text(raw[2:8])}"


def parse_bpdu(payload: bytes) -> Bpdu | None:
    """A BPDU after its LLC header (42 42 03): protocol id 0, version, type; config and
    RST/MST BPDUs carry root id, root path cost, bridge id and port id (MSTP's are the CIST's)."""
    if len(payload) < 4 or payload[0:2] != b"\0\0":
        return None
    version, kind = payload[2], payload[3]
    if kind == 0x80:
        return Bpdu(protocol="tcn", root_id=None, root_path_cost=None, bridge_id=None, port_id=None)
    if len(payload) < 35:
        return None
    root, cost, bridge, port = struct.unpack_from("!8sI8sH", payload, 5)
    return Bpdu(protocol=_BPDU_PROTOCOLS.get(version, f"stp-v{version}"), root_id=bridge_id_text(root),
                root_path_cost=cost, bridge_id=bridge_id_text(bridge), port_id=f"{port:04x}")


# ---- the tally: frames in, one WireReport out ----

@dataclass
class WireTally:
    """Counts of the frames heard so far (mutable, one listener's; `report()` freezes it)."""

    frames: int = 0
    untagged: int = 0
    tags_in_auxdata: int = 0
    vlans: dict[int, int] = field(default_factory=dict)
    macs: dict[tuple[str, int | None], int] = field(default_factory=dict)
    neighbours: dict[tuple[str, str | None, str | None], Neighbour] = field(default_factory=dict)
    bpdus: dict[Bpdu, None] = field(default_factory=dict)

    def add(self, frame: FrameInfo) -> None:
        self.frames += 1
        self.tags_in_auxdata += int(frame.vlan_from_auxdata and frame.vlan is not None)
        if frame.neighbour is not None:  # the latest announcement of each neighbour port wins
            key = (frame.neighbour.protocol, frame.neighbour.chassis_id, frame.neighbour.port_id)
            self.neighbours.pop(key, None)
            self.neighbours[key] = frame.neighbour
        if frame.bpdu is not None:
            self.bpdus[frame.bpdu] = None
        if frame.vlan is None and is_control_frame(frame.destination_mac):
            return  # link-local control traffic: not the port's untagged traffic, not a host
        if frame.vlan is None:
            self.untagged += 1
        else:
            self.vlans[frame.vlan] = self.vlans.get(frame.vlan, 0) + 1
        key = (frame.source_mac, frame.vlan)
        self.macs[key] = self.macs.get(key, 0) + 1

    def report(self, interface: str, seconds: float, kind: str | None = None, stopped_early: bool = False,
               dropped: int = 0) -> WireReport:
        return WireReport(
            interface=interface, seconds=round(seconds, 1), frames=self.frames, untagged=self.untagged,
            vlans=tuple(VlanSeen(vlan, count) for vlan, count in sorted(self.vlans.items())),
            neighbours=tuple(self.neighbours.values()), bpdus=tuple(self.bpdus),
            macs=tuple(MacSeen(mac, vlan, count) for (mac, vlan), count
                       in sorted(self.macs.items(), key=lambda item: (item[0][1] or 0, item[0][0]))),
            tags_in_auxdata=self.tags_in_auxdata, stopped_early=stopped_early, dropped=dropped, kind=kind)
