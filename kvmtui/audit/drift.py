"""Drift rules: where the running network and the saved configuration (NetworkManager,
netplan, systemd-networkd, ifupdown) disagree, so the next reboot changes the host.

Judged only when the snapshot holds the saved configuration (`Snapshot.netconfig`: the
host's own namespace, read live; not `--netns`, not an older recording). Every finding
names the file and line, says which state a reboot applies (the file's), and how to make
either side match the other: the `ip` commands make the running state match the file (what
a reboot would do), the words say what to change in the file to keep what runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kvmtui.audit.drift_config import (
    MASTER_KINDS, View, interface, live_kind, resolve_parent, same_kind, save_hint, transient, view_of, where,
)
from kvmtui.audit.findings import Finding
from kvmtui.facts import global_addresses, is_nic, ports
from kvmtui.model import ConfigProblem, Link, Snapshot, VlanInfo
from kvmtui.node_keys import link_key

RULES = {
    "drift-unsaved": "a device made at run time that no saved configuration creates, lost at reboot "
                     "(info: a NIC whose IPv4 addresses no configuration sets)",
    "drift-unsaved-member": "a bridge port or bond slave that no saved configuration puts there",
    "drift-member": "a saved port or slave that is not one live (in another master, in none, or missing)",
    "drift-kind": "a saved configuration that describes another kind of device than runs",
    "drift-bond-mode": "a bond whose saved mode differs from the running one",
    "drift-vlan": "a VLAN whose saved id, parent or protocol differs from the running one",
    "drift-address": "an address saved on one device and live on another, saved and not live, or live and not saved",
    "drift-mtu": "a saved MTU that differs from the running one",
    "drift-two-owners": "two backends claim one interface",
    "drift-config-problem": "a line of a saved configuration its backend ignores or kvmtui cannot read",
}

REBOOT = "a reboot applies the saved configuration"


def _now(count: int) -> str:
    return f"{REBOOT}: the command{'s do' if count > 1 else ' does'} the same now"


def unsaved(snapshot: Snapshot) -> Iterator[Finding]:
    """A device no saved configuration creates. A virtual device (bridge, bond, VLAN, vxlan,
    macvlan, veth...) is gone after a reboot, and what runs on it with it: a warning. A NIC
    exists anyway; only its IPv4 addresses are lost, and the host may get them by means the
    files do not show (cloud-init, DHCP from the initramfs, ip= on the kernel command line):
    info. IPv6 addresses are not judged (SLAAC gives them back). A device that is down and
    carries nothing (no port, address or device on it: the bond0 or dummy0 a module makes
    when it loads) loses nothing."""
    view = view_of(snapshot)
    above = snapshot.links_on
    for link in view.judged():
        if view.saved(link):
            continue
        owner = view.owners.get(link.ifname)
        dev = view.applied.get(link.ifname)
        note = f" ({owner.why})" if owner is not None and owner.backend is None and owner.why else ""
        if dev is not None and transient(dev):
            note = f" (only {dev.file} describes it, and a reboot empties /run)"
        elif dev is not None:
            note = f" ({where(dev)} configures whatever matches it, and creates nothing)"
        if is_nic(link):
            v4 = [a for a in global_addresses(link) if (i := interface(a)) is not None and i.version == 4]
            if not v4 or link.master:
                continue
            yield Finding(
                "drift-unsaved", "info", link_key(link.ifname), link.ifname,
                f"{link.ifname} has {', '.join(v4)} but no saved configuration sets it{note}",
                "after a reboot the NIC comes up without the address, unless something outside NetworkManager, "
                "netplan, systemd-networkd and ifupdown sets it (cloud-init, the initramfs, ip= on the kernel "
                "command line)",
                save_hint(snapshot, link) + f"; {_now(len(v4))}",
                tuple(f"ip addr del {a} dev {link.ifname}" for a in v4))
            continue
        carries = ports(snapshot, link.ifname) or above.get(link.ifname) or global_addresses(link)
        if not link.is_up and not carries:
            continue
        yield Finding(
            "drift-unsaved", "warning", link_key(link.ifname), link.ifname,
            f"{live_kind(link)} {link.ifname} runs but no saved configuration creates it{note}",
            "it was made at run time (ip, a wizard, kvmtui apply): the next reboot deletes it, and what runs "
            "on it with it (its ports, addresses, the VLANs and guests on it)",
            save_hint(snapshot, link) + "; if it is a leftover, delete it (a reboot will)",
            (f"ip -d link show dev {link.ifname}",))


def _membership(view: View, link: Link) -> tuple[Link, str] | None:
    master = view.snapshot.link(link.master)
    if master is None or master.kind not in MASTER_KINDS or master.ifname in view.skipped:
        return None
    return master, MASTER_KINDS[master.kind]


def unsaved_member(snapshot: Snapshot) -> Iterator[Finding]:
    """A port or slave live whose master is saved but whose membership no configuration
    says: at boot it stays out. (A master that is not saved at all says it for its ports.)"""
    view = view_of(snapshot)
    for link in view.judged():
        found = _membership(view, link)
        if found is None:
            continue
        master, role = found
        if not view.saved(master):
            continue
        saved_master, said = view.saved_master(link)
        if saved_master is not None:
            continue  # in the same master (fine), or another: drift-member
        mdev = view.applied.get(master.ifname)
        listed = ", ".join(mdev.ports) if mdev is not None and mdev.ports else "none"
        yield Finding(
            "drift-unsaved-member", "warning", link_key(link.ifname), f"{master.ifname} {role} {link.ifname}",
            f"{link.ifname} is a {role} of {master.ifname}, but no saved configuration puts it there"
            + (f" ({where(mdev)} gives {master.ifname} the {role}s: {listed})" if mdev is not None else ""),
            f"after a reboot {link.ifname} is outside {master.ifname}: "
            + ("traffic through that port stops" if master.kind == "bridge" else
               f"{master.ifname} has one {role} less" if master.kind == "bond" else "it is in another table"),
            f"to keep it, add {link.ifname} to {master.ifname}'s {role}s"
            + (f" in {where(mdev)}" if mdev is not None else "")
            + f"; {_now(1)}",
            (f"ip link set dev {link.ifname} nomaster",))


def _join(master: Link, name: str) -> tuple[str, ...]:
    if master.kind == "bond":
        return (f"ip link set dev {name} down", f"ip link set dev {name} master {master.ifname}",
                f"ip link set dev {name} up")
    return (f"ip link set dev {name} master {master.ifname}",)


def member(snapshot: Snapshot) -> Iterator[Finding]:
    """A saved port or slave that is not one live: the link is in another master, in none,
    or does not exist. A reboot puts it where the file says."""
    view = view_of(snapshot)
    reported: set[str] = set()
    for link in view.judged():
        target, said = view.saved_master(link)
        if target is None or target == link.master:
            continue
        master, current = snapshot.link(target), snapshot.link(link.master)
        now = f"is a {MASTER_KINDS.get(current.kind or '', 'port')} of {current.ifname}" if current is not None \
            else "is in no bridge or bond"
        role = MASTER_KINDS.get(master.kind or "", "port") if master is not None else "port"
        reported.add(link.ifname)
        yield Finding(
            "drift-member", "warning", link_key(link.ifname), f"{target} {role} {link.ifname}",
            f"{said} makes {link.ifname} a {role} of {target}, but live it {now}"
            + ("" if master is not None else f", and {target} does not run"),
            f"{REBOOT}: {link.ifname} then moves into {target}, and what it carries now stops",
            f"to keep what runs, change {said}; to have now what a reboot brings, run the commands",
            (f"ip link set dev {link.ifname} nomaster",) * bool(link.master)
            + (_join(master, link.ifname) if master is not None else ()))
    for name, dev in view.applied.items():
        master = snapshot.link(name)
        if master is None or master.kind not in MASTER_KINDS:
            continue
        for port in dev.ports:
            if port in reported or snapshot.link(port) is not None:
                continue  # a live port is judged above, from its own side
            role = MASTER_KINDS[master.kind]
            yield Finding(
                "drift-member", "warning", link_key(name), f"{name} {role} {port}",
                f"{where(dev)} gives {name} the {role} {port}, which does not exist",
                f"{name} runs with fewer {role}s than saved; a reboot does not add {port} either, unless it "
                "appears (a NIC that was renamed or removed, a device another file makes)",
                f"remove {port} from {where(dev)}, or give the {role} its name back", ())


def kind(snapshot: Snapshot) -> Iterator[Finding]:
    """The saved device of this name is another kind: a file that configures `br0` as an
    existing device creates no bridge, and a NIC's name saved as a bond makes a bond."""
    view = view_of(snapshot)
    for name, dev in view.applied.items():
        link = snapshot.link(name)
        if link is None or dev.name != name or same_kind(link, dev) is not False:
            continue
        saved = "an existing device (it configures it, nothing creates it)" if dev.kind == "ethernet" \
            else f"a {dev.kind}"
        yield Finding(
            "drift-kind", "warning", link_key(name), name,
            f"{name} runs as a {live_kind(link)}, but {where(dev)} ({dev.why}) describes it as {saved}",
            f"{REBOOT}: there is no {live_kind(link)} {name} after it, and what runs on it is cut off",
            f"describe {name} as a {live_kind(link)} in {where(dev)} to keep what runs, or rebuild it as the "
            "file says", (f"ip -d link show dev {name}",))


def bond_mode(snapshot: Snapshot) -> Iterator[Finding]:
    view = view_of(snapshot)
    for name, dev in view.applied.items():
        link = snapshot.link(name)
        if link is None or link.kind != "bond" or dev.kind != "bond" or not dev.bond_mode:
            continue
        bond = snapshot.bonds_by_name.get(name)
        running = bond.mode if bond is not None else getattr(link.info_data, "mode", None)
        if running is None or running == dev.bond_mode:
            continue
        yield Finding(
            "drift-bond-mode", "warning", link_key(name), name,
            f"{name} runs in mode {running}, but {where(dev)} says mode {dev.bond_mode}",
            f"{REBOOT}: {name} comes back in mode {dev.bond_mode}, which the switch ports may not be set up for "
            "(802.3ad needs an LACP port-channel, the others must not have one)",
            f"write mode {running} in {where(dev)} to keep what runs; the kernel changes a bond's mode only "
            "while it is down and has no slaves", (f"cat /proc/net/bonding/{name}",))


def vlan(snapshot: Snapshot) -> Iterator[Finding]:
    view = view_of(snapshot)
    for name, dev in view.applied.items():
        link = snapshot.link(name)
        info = getattr(link, "info_data", None)
        if link is None or not isinstance(info, VlanInfo) or dev.kind != "vlan":
            continue
        parent = resolve_parent(snapshot, dev.parent)
        differ = []
        if dev.vlan_id is not None and dev.vlan_id != info.id:
            differ.append(f"id {info.id} live, {dev.vlan_id} saved")
        if parent and link.link and parent != link.link:
            differ.append(f"parent {link.link} live, {parent} saved")
        if dev.vlan_protocol and dev.vlan_protocol.lower() != info.protocol.lower():
            differ.append(f"protocol {info.protocol} live, {dev.vlan_protocol} saved")
        if not differ:
            continue
        new_id, new_parent = dev.vlan_id if dev.vlan_id is not None else info.id, parent or link.link
        again = (f"ip link del dev {name}", f"ip link add link {new_parent} name {name} type vlan id {new_id}") \
            + ((f"ip link set dev {name} master {link.master}",) if link.master else ()) \
            + (f"ip link set dev {name} up",)
        yield Finding(
            "drift-vlan", "warning", link_key(name), name,
            f"VLAN {name} differs from {where(dev)}: {'; '.join(differ)}",
            f"{REBOOT}: {name} then tags other frames or sends them out another device, and what uses it "
            "lands in another network",
            f"change {where(dev)} to what runs, or rebuild {name} as saved (the commands; it drops its "
            "addresses)", again)


def address(snapshot: Snapshot) -> Iterator[Finding]:
    """Addresses compared by IP: saved on X and live on Y (the classic after moving an
    address onto a new bridge: a reboot puts it back on the port), saved and not live,
    a different prefix, and IPv4 live on a device whose static configuration lacks it."""
    view = view_of(snapshot)
    live_at: dict[str, list[tuple[str, str]]] = {}
    for link in snapshot.links:
        for text in global_addresses(link):
            if (one := interface(text)) is not None:
                live_at.setdefault(str(one.ip), []).append((link.ifname, text))
    saved_at = {str(i.ip) for dev in view.applied.values() for a in dev.addresses if (i := interface(a))}
    for name, dev in view.applied.items():
        link = snapshot.link(name)
        live = {str(i.ip): t for t in global_addresses(link) if (i := interface(t)) is not None}
        for text in dev.addresses:
            one = interface(text)
            if one is None:
                continue
            ip = str(one.ip)
            at = where(dev, "addresses")
            if ip in live and interface(live[ip]) != one:
                yield _address(name, text, f"{name} has {live[ip]} live, but {at} saves {text}",
                               (f"ip addr del {live[ip]} dev {name}", f"ip addr add {text} dev {name}"), at)
            elif ip not in live:
                others = [(other, t) for other, t in live_at.get(ip, ()) if other != name]
                if others:
                    other, now = others[0]
                    yield _address(name, text, f"{at} saves {text} on {name}, but it is live on {other}",
                                   (f"ip addr del {now} dev {other}", f"ip addr add {text} dev {name}"), at,
                                   f"it lands on {name} again after a reboot, and {other} loses it")
                else:
                    yield _address(name, text, f"{at} saves {text} on {name}, but it is not live",
                                   (f"ip addr add {text} dev {name}",), at)
        if "ipv4" in dev.dhcp or dev.name != name:
            continue
        for ip, text in live.items():
            if ip in saved_at or interface(text).version != 4:
                continue
            at = where(dev, "addresses")
            yield _address(name, text, f"{name} has {text} live, but {at} does not save it",
                           (f"ip addr del {text} dev {name}",), at, "it is gone after a reboot")


def _address(name: str, text: str, what: str, commands: tuple[str, ...], at: str,
             why: str = "a reboot changes the host's addresses to the saved ones") -> Finding:
    return Finding(
        "drift-address", "warning", link_key(name), f"{name} address {text}", what,
        f"{why}: whoever reaches the host at this address (SSH, guests, clients) loses it",
        f"to keep what runs, change the addresses in {at}; {_now(len(commands))}", commands)


def mtu(snapshot: Snapshot) -> Iterator[Finding]:
    """A bond slave's MTU follows its bond, whatever its own file says: not judged."""
    view = view_of(snapshot)
    for name, dev in view.applied.items():
        link = snapshot.link(name)
        if link is None or dev.mtu is None or dev.mtu == link.mtu or link.slave_kind == "bond":
            continue
        at = where(dev, "mtu")
        yield Finding(
            "drift-mtu", "warning", link_key(name), name,
            f"{name} runs with MTU {link.mtu}, but {at} says {dev.mtu}",
            f"{REBOOT}: with MTU {dev.mtu}, frames the other devices on the path or the network do not "
            "expect are dropped (jumbo frames on storage or vxlan underlays)",
            f"write mtu {link.mtu} in {at} to keep what runs; {_now(1)}",
            (f"ip link set dev {name} mtu {dev.mtu}",))


def two_owners(snapshot: Snapshot) -> Iterator[Finding]:
    view = view_of(snapshot)
    for name, owner in view.owners.items():
        if not owner.also or owner.backend is None or name in view.skipped:
            continue
        first = f"{owner.backend} ({owner.file}" + (f" line {owner.line})" if owner.line else ")")
        others = [f"{c.backend} ({c.file}" + (f" line {c.line})" if c.line else ")") for c in owner.also]
        yield Finding(
            "drift-two-owners", "warning", link_key(name), name,
            f"{name} is claimed by {first} and by {', '.join(others)}",
            "at boot each brings it up its own way, and which one wins depends on the order they start in; "
            "each may undo what the other set (addresses, ports, MTU)",
            f"remove {name} from all but one; kvmtui takes {owner.backend} for its owner ({owner.why})", ())


IGNORED = ("ignores", "refuses", "never applies", "not YAML", "not a netplan file")


def _problem_key(snapshot: Snapshot, view: View, problem: ConfigProblem) -> str:
    """The link a problem is about: the device named before its message's colon, the one
    defined in its file right above its line, one the file describes, owns or is named
    after; else the uplink (a file nothing can be read of may be what configures it)."""
    config = snapshot.netconfig

    def judged(name: str | None) -> bool:
        return name is not None and snapshot.link(name) is not None and name not in view.skipped

    head = problem.message.split(":", 1)[0]
    in_file = sorted((d.line, d.name) for d in (config.devices if config else ()) if d.file == problem.file and d.name)
    above = [name for line, name in in_file if problem.line is not None and line <= problem.line][-1:]
    stem = re.sub(r"^(ifcfg|route6?)-|\.(nmconnection|network|netdev|yaml)$", "", problem.file.rsplit("/", 1)[-1])
    owned = [name for name, owner in view.owners.items() if owner.file == problem.file]
    for name in [head, *above, *(n for _, n in in_file), *owned, stem]:
        if judged(name):
            return link_key(name)
    uplink = next((r.dev for r in snapshot.routes if r.dst == "default" and r.dev), None)
    return link_key(uplink or "lo")


def config_problem(snapshot: Snapshot) -> Iterator[Finding]:
    """What its backend ignores or refuses is a warning (the file does not do what it says at
    boot); what only kvmtui cannot read (a template placeholder) is info."""
    if snapshot.netconfig is None:
        return
    view = view_of(snapshot)
    in_use = {b.backend for b in snapshot.netconfig.backends if b.in_use}
    for problem in snapshot.netconfig.problems:
        ignored = any(word in problem.message for word in IGNORED)
        runs = problem.backend in in_use
        yield Finding(
            "drift-config-problem", "warning" if ignored and runs else "info", _problem_key(snapshot, view, problem),
            problem.file + (f" line {problem.line}" if problem.line else ""), problem.text,
            (f"{problem.backend} does not apply it as written at boot" if ignored else
             "kvmtui cannot compare what this line describes with what runs")
            + ("" if runs or problem.backend == "kvmtui" else f" ({problem.backend} is not in use here)"),
            f"correct {problem.file}" + (f" line {problem.line}" if problem.line else "")
            + ("" if ignored else ", or ignore this if the line is right for its backend"), ())


CHECKS = (unsaved, unsaved_member, member, kind, bond_mode, vlan, address, mtu, two_owners, config_problem)
