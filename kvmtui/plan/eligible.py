"""Which devices can become a bridge port, a bond slave or a macvtap's lower device, and
why not: one answer for the planner (it refuses with the sentence) and the wizards (they
offer only the devices that can, and list the others with the short reason).

The kernel hands each device's received frames to one taker (its rx_handler): the bridge,
bond, team or Open vSwitch it is in, or the macvlans, macvtaps, ipvlans or macsec devices
stacked on it (macvlans and macvtaps share one). A second taker gets EBUSY. A VRF takes no
frames that way, so its members are free for a macvtap.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from kvmtui.foreign import not_libvirts
from kvmtui.model import Link, Snapshot

FRAME_TAKING_UPPERS = frozenset({"macvlan", "macvtap", "ipvlan", "ipvtap", "macsec"})
MACVTAP_SHARES = frozenset({"macvlan", "macvtap"})  # one macvlan port on the lower serves them all
BOND_SLAVE_KINDS = (None, "dummy", "veth")  # NICs; dummies and veths stand in for them in labs and tests
BRIDGE_PORT, BOND_SLAVE = "a bridge port", "a bond slave"

# Test-only: off, the refusals that only restate the kernel's are skipped, so that a test
# can force such a plan through apply and see the kernel refuse it (make_plan(kernel_checks=False)).
_KERNEL_CHECKS: ContextVar[bool] = ContextVar("kernel_checks", default=True)


@contextmanager
def kernel_checks_off() -> Iterator[None]:
    """For tests only: plan what the kernel would refuse, to prove that it does."""
    token = _KERNEL_CHECKS.set(False)
    try:
        yield
    finally:
        _KERNEL_CHECKS.reset(token)


@dataclass(frozen=True, slots=True)
class Unfit:
    brief: str  # for a wizard's list of what it leaves out: "slave of bond0"
    reason: str  # the planner's sentence: what is wrong and what to do


def cidrs(link: Link) -> list[str]:
    return [f"{a.local}/{a.prefixlen}" for a in link.addresses if a.scope != "link"]


def guest_owner(snapshot: Snapshot, link: Link) -> str | None:
    """The running guest whose NIC this tap or macvtap is, by its target device name."""
    return snapshot.running_guest_devices.get(link.ifname)


def guests_device(snapshot: Snapshot, link: Link, role: str) -> Unfit | None:
    """A guest's tap or macvtap is libvirt's: it goes when the guest stops, and a macvtap
    only carries the frames of the guest that opened it."""
    owner = guest_owner(snapshot, link)
    if owner is not None:
        what = getattr(link.info_data, "type", None) or link.kind  # a tun device's type: tap
        return Unfit(f"guest {owner}'s {what}", f"{link.ifname} is guest {owner}'s {what} (libvirt made it and "
                                                f"removes it): it cannot be {role}")
    if link.kind == "macvtap":
        return Unfit("a macvtap", f"{link.ifname} is a macvtap, a guest's end of {link.link or 'its lower device'}: "
                                  f"it cannot be {role}")
    return None


def others_device(snapshot: Snapshot, link: Link, role: str) -> Unfit | None:
    """A device another program made (VirtualBox's vboxnet0, a docker veth): taken over, it
    breaks that program, which may also delete it under the new bridge or bond."""
    owner = not_libvirts(snapshot, link.ifname)
    if owner is None:
        return None
    return Unfit(f"{owner.owner}'s", f"{link.ifname} belongs to {owner.text}: it cannot be {role}")


def _master(snapshot: Snapshot, link: Link) -> tuple[str, str]:
    """(kind, role) of the device's master: ("bond", "slave"), ("bridge", "port"), ..."""
    kind = getattr(snapshot.link(link.master), "kind", None) or ""
    return kind, "slave" if kind == "bond" else "port"


def _takers(snapshot: Snapshot, link: Link, kinds: frozenset[str]) -> list[Link]:
    return [other for other in snapshot.links_on.get(link.ifname, ()) if other.kind in kinds]


def _named(snapshot: Snapshot, takers: list[Link]) -> str:
    return ", ".join(other.ifname + (f" (guest {owner}'s)" if (owner := guest_owner(snapshot, other)) else "")
                     for other in takers)


def member_unfit(snapshot: Snapshot, link: Link, role: str) -> Unfit | None:
    """Why `link` cannot be `role` (BRIDGE_PORT or BOND_SLAVE) of a new bridge or bond."""
    if "LOOPBACK" in link.flags:
        return Unfit("the loopback", f"{link.ifname} is the loopback device")
    unfit = guests_device(snapshot, link, role)
    if unfit is not None:
        return unfit
    if link.master:
        kind, was = _master(snapshot, link)
        return Unfit(f"{was} of {link.master}", f"{link.ifname} is already a {was} of {link.master}")
    if role == BRIDGE_PORT and link.kind == "bridge":
        return Unfit("a bridge", f"{link.ifname} is a bridge; a bridge cannot be a port of another")
    if role == BOND_SLAVE and link.kind not in BOND_SLAVE_KINDS:
        return Unfit(f"a {link.kind}", f"{link.ifname} is a {link.kind}; bond slaves are NICs without addresses")
    if role == BOND_SLAVE and cidrs(link):
        return Unfit("has addresses", f"{link.ifname} has {', '.join(cidrs(link))}; bond slaves are NICs without "
                                      "addresses: remove them, or put them on the bond once it exists")
    unfit = others_device(snapshot, link, role)
    if unfit is not None:
        return unfit
    takers = _takers(snapshot, link, FRAME_TAKING_UPPERS)
    if takers and _KERNEL_CHECKS.get():
        master = "bridge" if role == BRIDGE_PORT else "bond"
        return Unfit(f"carries {', '.join(t.ifname for t in takers)}",
                     f"{link.ifname} carries {_named(snapshot, takers)}, which take the frames it receives: the kernel "
                     f"refuses to make it {role} (EBUSY). Detach or delete those first; a guest's NIC can then go "
                     f"on the new {master}")
    return None


def macvtap_lower_unfit(snapshot: Snapshot, link: Link) -> Unfit | None:
    """Why a guest's macvtap cannot sit on `link` (whatever the mode; passthrough asks more)."""
    if "LOOPBACK" in link.flags:
        return Unfit("the loopback", f"{link.ifname} is the loopback device: nothing it sends leaves this host")
    unfit = guests_device(snapshot, link, "a macvtap's lower device")
    if unfit is not None:
        return unfit
    if link.kind == "bridge":
        return Unfit("a bridge", f"{link.ifname} is a bridge: attach to the bridge instead (--bridge {link.ifname}); "
                                 "a bridge interface also lets the host reach the guest")
    unfit = others_device(snapshot, link, "a macvtap's lower device")
    if unfit is not None:
        return unfit
    kernel = _KERNEL_CHECKS.get()
    if link.master and kernel:
        kind, was = _master(snapshot, link)
        if kind == "bridge":
            return Unfit(f"port of {link.master}", f"{link.ifname} is a port of bridge {link.master}, which takes its "
                         f"frames (the kernel refuses a macvtap on it: EBUSY): attach to the bridge instead "
                         f"(--bridge {link.master})")
        if kind != "vrf":
            instead = f"put the macvtap on {link.master}" if kind == "bond" else f"use {link.master} or a free NIC"
            return Unfit(f"{was} of {link.master}", f"{link.ifname} is a {was} of {kind or 'device'} {link.master}, "
                         f"which takes its frames: the kernel refuses a macvtap on it (EBUSY); {instead}")
    takers = _takers(snapshot, link, FRAME_TAKING_UPPERS - MACVTAP_SHARES)
    if takers and kernel:
        return Unfit(f"carries {', '.join(t.ifname for t in takers)}",
                     f"{link.ifname} carries {_named(snapshot, takers)}, which take its frames: the kernel refuses a "
                     "macvtap on it (EBUSY); choose another lower device")
    return None


def left_out(unfit: list[tuple[Link, Unfit]]) -> str:
    """A wizard's help line: the devices it does not offer, grouped by why."""
    groups: dict[str, list[str]] = {}
    for link, why in unfit:
        groups.setdefault(why.brief, []).append(link.ifname)
    return "not offered: " + "; ".join(f"{', '.join(names)} ({brief})" for brief, names in groups.items()) if groups else ""


def sort_members(snapshot: Snapshot, role: str) -> tuple[list[Link], list[tuple[Link, Unfit]]]:
    """The devices that can be `role`, and the others with why not (the loopback unlisted)."""
    fit, unfit = [], []
    for link in snapshot.links:
        why = member_unfit(snapshot, link, role)
        if why is None:
            fit.append(link)
        elif "LOOPBACK" not in link.flags:
            unfit.append((link, why))
    return fit, unfit
