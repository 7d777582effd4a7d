"""What the driver says about a NIC, through the ethtool ioctl (SIOCETHTOOL) and sysfs.

The ioctl is asked on a socket opened in the NIC's namespace, which is all it needs
(no ethtool binary, no parsing of its text). Each question is asked alone: a driver
that does not answer one (EOPNOTSUPP) leaves that value None ("n/a"), not an error.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct

from kvmtui.collect.netns import run_in_netns
from kvmtui.errors import InterfaceNotFound
from kvmtui.model.wire import NicFacts, SriovVf

SIOCETHTOOL = 0x8946
ETHTOOL_GSET, ETHTOOL_GDRVINFO, ETHTOOL_GRINGPARAM = 0x01, 0x03, 0x10
ETHTOOL_PHYS_ID, ETHTOOL_GTSO, ETHTOOL_GPERMADDR = 0x1C, 0x1E, 0x20
ETHTOOL_GGSO, ETHTOOL_GFLAGS, ETHTOOL_GGRO = 0x23, 0x25, 0x2B
ETH_FLAG_TXVLAN, ETH_FLAG_RXVLAN = 1 << 7, 1 << 8
DRVINFO = struct.Struct("I32s32s32s32s32s12s5I")
ETHTOOL_CMD = struct.Struct("IIIHBBBBBBIIHBBI8x")  # struct ethtool_cmd (legacy GSET, still answered)
SPEED_UNKNOWN, DUPLEX_UNKNOWN = 0xFFFFFFFF, 0xFF
# the legacy `supported` bits that are link modes (25G and faster have no legacy bit)
LEGACY_LINK_MODES = {0: "10baseT/Half", 1: "10baseT/Full", 2: "100baseT/Half", 3: "100baseT/Full",
                     4: "1000baseT/Half", 5: "1000baseT/Full", 12: "10000baseT/Full", 15: "2500baseX/Full",
                     17: "1000baseKX/Full", 18: "10000baseKX4/Full", 19: "10000baseKR/Full",
                     23: "40000baseKR4/Full", 24: "40000baseCR4/Full", 25: "40000baseSR4/Full",
                     26: "40000baseLR4/Full"}
PCI_DEVICES = "/sys/bus/pci/devices"


def ethtool_ioctl(sock: socket.socket, interface: str, request: bytes) -> bytes:
    """One SIOCETHTOOL call: `request` is the ethtool struct (its first u32 the command);
    returns the struct as the kernel filled it. Raises OSError as the kernel refused."""
    buffer = ctypes.create_string_buffer(request, len(request))
    ifreq = struct.pack("16sP", interface.encode()[:15], ctypes.addressof(buffer)).ljust(40, b"\0")
    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    return buffer.raw


def _ask(sock: socket.socket, interface: str, request: bytes) -> bytes | None:
    """The answer, or None where the driver has none; a vanished interface still raises."""
    try:
        return ethtool_ioctl(sock, interface, request)
    except OSError as exc:
        if exc.errno == errno.ENODEV:
            raise InterfaceNotFound(interface) from None
        return None


def _string(raw: bytes) -> str | None:
    """A C string of the driver's; "" and the "N/A" some drivers (bridge, bonding) fill in are None."""
    value = raw.split(b"\0", 1)[0].decode(errors="replace").strip()
    return None if value.lower() in ("", "n/a") else value


def _value(sock: socket.socket, interface: str, command: int) -> int | None:
    answer = _ask(sock, interface, struct.pack("II", command, 0))
    return None if answer is None else struct.unpack("II", answer)[1]


def _sysfs_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as file:
            return int(file.read().strip())
    except (OSError, ValueError):
        return None


def control_socket() -> socket.socket:
    """Any socket serves the ethtool ioctl; it acts in the namespace the socket was made in."""
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def facts_from(sock: socket.socket, interface: str) -> NicFacts:
    """Every fact the driver gives, asked on `sock` (made in the NIC's namespace)."""
    if len(interface.encode()) > 15:
        raise InterfaceNotFound(interface)
    driver = version = firmware = bus = None
    answer = _ask(sock, interface, DRVINFO.pack(ETHTOOL_GDRVINFO, *(b"",) * 6, 0, 0, 0, 0, 0))
    if answer is None:  # every netdev answers GDRVINFO (the core fills it in): the interface is not there
        raise InterfaceNotFound(interface)
    fields = DRVINFO.unpack(answer)
    driver, version, firmware, bus = (_string(raw) for raw in fields[1:5])
    speed = duplex = autoneg = None
    modes: tuple[str, ...] = ()
    answer = _ask(sock, interface, ETHTOOL_CMD.pack(ETHTOOL_GSET, *(0,) * 15))
    if answer is not None:
        cmd = ETHTOOL_CMD.unpack(answer)
        supported, low, duplex_code, autoneg_code, high = cmd[1], cmd[3], cmd[4], cmd[8], cmd[12]
        raw_speed = low | high << 16
        speed = None if raw_speed in (SPEED_UNKNOWN, 0xFFFF, 0) else raw_speed
        duplex = {0: "half", 1: "full"}.get(duplex_code) if duplex_code != DUPLEX_UNKNOWN else None
        autoneg = bool(autoneg_code)
        modes = tuple(name for bit, name in LEGACY_LINK_MODES.items() if supported & (1 << bit))
    permanent = None
    answer = _ask(sock, interface, struct.pack("II32s", ETHTOOL_GPERMADDR, 32, b""))
    if answer is not None:
        size = struct.unpack_from("I", answer, 4)[0]
        raw = answer[8:8 + size]
        permanent = ":".join(f"{b:02x}" for b in raw) if raw.strip(b"\0") else None
    offloads = []
    flags = _value(sock, interface, ETHTOOL_GFLAGS)
    if flags is not None:
        offloads += [("rx-vlan-offload", bool(flags & ETH_FLAG_RXVLAN)), ("tx-vlan-offload", bool(flags & ETH_FLAG_TXVLAN))]
    for name, command in (("tcp-segmentation-offload", ETHTOOL_GTSO), ("generic-segmentation-offload", ETHTOOL_GGSO),
                          ("generic-receive-offload", ETHTOOL_GGRO)):
        value = _value(sock, interface, command)
        if value is not None:
            offloads.append((name, bool(value)))
    rx_ring = tx_ring = None
    answer = _ask(sock, interface, struct.pack("9I", ETHTOOL_GRINGPARAM, *(0,) * 8))
    if answer is not None:
        ring = struct.unpack("9I", answer)
        rx_ring, tx_ring = ring[5] or None, ring[8] or None
    device = os.path.join(PCI_DEVICES, bus) if bus and "/" not in bus and bus not in (".", "..") else None
    return NicFacts(
        interface=interface, driver=driver, driver_version=version, firmware_version=firmware, bus_address=bus,
        speed_mbps=speed, duplex=duplex, autoneg=autoneg, link_modes=modes, permanent_mac=permanent,
        offloads=tuple(offloads), rx_ring=rx_ring, tx_ring=tx_ring,
        sriov_numvfs=_sysfs_int(os.path.join(device, "sriov_numvfs")) if device else None,
        sriov_totalvfs=_sysfs_int(os.path.join(device, "sriov_totalvfs")) if device else None,
        sriov_vfs=sriov_vfs(device) if device else ())


def sriov_vfs(device: str) -> tuple[SriovVf, ...]:
    """The PF's enabled VFs (its virtfnN links), with the netdev each has while the host holds it."""
    found = []
    try:
        names = os.listdir(device)
    except OSError:
        return ()
    for name in names:
        if not (name.startswith("virtfn") and name[6:].isdigit()):
            continue
        path = os.path.join(device, name)
        try:
            address = os.path.basename(os.readlink(path))
        except OSError:
            continue
        try:
            netdevs = sorted(os.listdir(os.path.join(path, "net")))
        except OSError:  # bound to vfio-pci (a guest's) or to no driver: no netdev
            netdevs = []
        found.append(SriovVf(int(name[6:]), address, netdevs[0] if netdevs else None))
    return tuple(sorted(found, key=lambda vf: vf.index))


def facts_of_ports(names: list[str]) -> tuple[NicFacts, ...]:
    """The facts of each named NIC or veth, asked in the calling thread's namespace; one gone
    meanwhile is left out (the next read drops its link too)."""
    found = []
    with control_socket() as sock:
        for name in names:
            try:
                found.append(facts_from(sock, name))
            except (InterfaceNotFound, OSError):
                continue
    return tuple(found)


def read_nic_facts(interface: str, netns: str | None = None) -> NicFacts:
    """The facts of `interface` in namespace `netns` (None: this one)."""
    with run_in_netns(netns, control_socket) as sock:
        try:
            return facts_from(sock, interface)
        except InterfaceNotFound:
            raise InterfaceNotFound(interface, netns) from None
