"""Checks of an intent against the host, each failing with a sentence at the field."""

from __future__ import annotations

import re

from kvmtui.errors import KvmtuiError
from kvmtui.model import Domain, Link, Snapshot
from kvmtui.plan.eligible import BOND_SLAVE, BRIDGE_PORT, guests_device, member_unfit
from kvmtui.vocabulary import word

IFNAMSIZ = 15  # bytes, not characters
MTU_MIN, MTU_MAX = 68, 65535  # the kernel's ETH_MIN_MTU and ETH_MAX_MTU
VID_MIN, VID_MAX = 1, 4094  # 802.1Q reserves 0 (a priority tag, no VLAN) and 4095
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
INTERVAL_MAX = 2**31 - 1  # ms; the bonding driver keeps its intervals in an int
MODEL = re.compile(r"^[A-Za-z0-9_-]+$")  # libvirt's NIC model names: virtio, e1000e, usb-net, rtl8139
# libvirt stores any model name of MODEL's characters; QEMU refuses an unknown one when the
# guest starts or the NIC is hot-plugged ("'bogus' is not a valid device model name"). These
# are the x86 QEMU NIC devices libvirt's qemu driver passes on (virtio: virtio-net-pci);
# igb needs QEMU 8.0.
QEMU_NIC_MODELS = ("virtio", "virtio-transitional", "virtio-non-transitional", "e1000", "e1000e",
                   "e1000-82544gc", "e1000-82545em", "igb", "rtl8139", "vmxnet3", "ne2k_pci", "pcnet", "tulip",
                   "usb-net", "i82550", "i82551", "i82557a", "i82557b", "i82557c", "i82558a", "i82558b", "i82559a",
                   "i82559b", "i82559c", "i82559er", "i82562", "i82801")


class PlanError(KvmtuiError):
    """The intent cannot be planned as given; `field` names the wizard field at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def check_new_name(snapshot: Snapshot, name: str, field: str = "name") -> None:
    if not name:
        raise PlanError(field, "a name is needed")
    size = len(name.encode())
    if size > IFNAMSIZ:
        raise PlanError(field, f"interface names are at most {IFNAMSIZ} bytes; {name!r} has {size}")
    if name in (".", "..") or any(c in name for c in "/:%") or any(c.isspace() for c in name):
        # '%' would not reach the kernel as typed: it expands "br%d" to the first free br<N>
        raise PlanError(field, f"{name!r}: interface names may not contain '/', ':', '%' or white space")
    if name in ("all", "default"):
        raise PlanError(field, f"{name!r} is reserved: /proc/sys/net/ipv4/conf/{name} sets every interface's "
                               "defaults, so no interface can have that name")
    if snapshot.link(name) is not None:
        raise PlanError(field, f"{name!r} already exists")


def check_mtu(mtu: int | None, field: str = "mtu") -> None:
    if mtu is not None and not MTU_MIN <= mtu <= MTU_MAX:
        raise PlanError(field, f"the MTU is {MTU_MIN} to {MTU_MAX} bytes; {mtu} is outside that range")


def check_vid(vid: int, field: str, shown: str | None = None) -> int:
    """A VLAN ID (of a VLAN device, a port's tag, a guest NIC's tag, one end of a range `shown`)."""
    if not VID_MIN <= vid <= VID_MAX:
        raise PlanError(field, f"VLAN ids are {VID_MIN} to {VID_MAX} (0 and 4095 are reserved); "
                               f"{shown or vid} is not one")
    return vid


def check_values(intent: object) -> None:
    """Ranges that hold whatever the host: checked before the host is looked at."""
    check_mtu(getattr(intent, "mtu", None))
    for field in ("miimon", "arp_interval"):
        interval = getattr(intent, field, None)
        if interval is not None and not 0 <= interval <= INTERVAL_MAX:
            raise PlanError(field, f"the interval is 0 to {INTERVAL_MAX} milliseconds; {interval} is outside that range")
    model = getattr(intent, "model", None)
    if model is not None and not MODEL.match(model):
        raise PlanError("model", f"{model!r} is not a NIC model name (letters, digits, '_' and '-'; e.g. virtio, e1000e)")
    if model is not None and model not in QEMU_NIC_MODELS:
        raise PlanError("model", f"QEMU has no NIC model {model!r} (the guest would not start with it); "
                                 f"one of {', '.join(QEMU_NIC_MODELS)}")


def listed(names: tuple[str, ...]) -> str:
    """The valid values with the kernel's numbers, which `ip` takes too: balance-rr (0), ..."""
    return ", ".join(f"{name} ({number})" for number, name in enumerate(names))


def kernel_name(field: str, value: str | None, names: tuple[str, ...], what: str) -> str | None:
    """A bond option by name or by the kernel's number, as iproute2's get_index takes it: the name."""
    if value is None or value in names:
        return value
    if value.isascii() and value.isdigit() and (name := word(names, int(value))) is not None:
        return name
    raise PlanError(field, f"unknown {what} {value!r}; one of {listed(names)}")


def existing_link(snapshot: Snapshot, name: str | None, field: str) -> Link:
    link = snapshot.link(name)
    if link is None:
        raise PlanError(field, f"there is no device {name!r}")
    return link


def ethernet_link(snapshot: Snapshot, name: str | None, field: str) -> Link:
    """A device that frames can go out of: VLANs and macvtap need one below them."""
    link = existing_link(snapshot, name, field)
    if "LOOPBACK" in link.flags:
        raise PlanError(field, f"{link.ifname} is the loopback device: nothing it sends leaves this host")
    return link


def check_not_guests(snapshot: Snapshot, link: Link, field: str, role: str) -> None:
    unfit = guests_device(snapshot, link, role)
    if unfit is not None:
        raise PlanError(field, unfit.reason)


def check_free_port(snapshot: Snapshot, name: str, field: str, seen: set[str]) -> Link:
    """A device that may become a bridge port or bond slave."""
    link = existing_link(snapshot, name, field)
    if name in seen:
        raise PlanError(field, f"{name} is listed twice")
    seen.add(name)
    unfit = member_unfit(snapshot, link, BOND_SLAVE if field == "slaves" else BRIDGE_PORT)
    if unfit is not None:
        raise PlanError(field, unfit.reason)
    return link


def existing_domain(snapshot: Snapshot, name: str) -> Domain:
    if snapshot.libvirt_error:
        raise PlanError("domain", f"libvirt is not reachable, so no guest is known: {snapshot.libvirt_error}")
    if snapshot.host.libvirt_uri is None:
        raise PlanError("domain", "libvirt was not read (--no-libvirt), so no guest is known")
    domain = next((d for d in snapshot.domains if d.name == name), None)
    if domain is None:
        raise PlanError("domain", f"there is no guest {name!r}")
    return domain


def check_mac(snapshot: Snapshot, mac: str) -> None:
    if not MAC.match(mac):
        raise PlanError("mac", f"{mac!r} is not a MAC address like 52:54:00:12:34:56")
    if int(mac[:2], 16) & 1:
        raise PlanError("mac", f"{mac} is a multicast address; a NIC needs a unicast one")
    for domain in snapshot.domains:
        if any(nic.mac == mac for nic in domain.interfaces):
            raise PlanError("mac", f"{mac} is already used by guest {domain.name}")
