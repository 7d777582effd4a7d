"""Desired devices -> systemd-networkd .netdev/.network files (pure: reads through `read`).

Plain text, line by line, never configparser: several Address= lines are normal and a
file kvmtui edits keeps every line it does not have to change byte for byte.

Which file: a .network whose [Match] Name= is the interface's own name (the saved
configuration's `file` or `more_files`) is EDITED in place, since networkd applies only
the first matching .network in file-name order and a second one would never apply. A
device no file describes gets kvmtui's own `10-kvmtui-<name>.netdev` / `.network`.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import replace
from fnmatch import fnmatchcase
from collections.abc import Iterable

from kvmtui.collect.netconfig.networkd import BOND_NAMES, BRIDGE_NAMES, sections
from kvmtui.model.netconfig import ConfiguredDevice, ConfiguredRoute, SavedConfig
from kvmtui.persist.model import Desired, FileChange, ReadFile
from kvmtui.persist.overlay import KINDS as OVERLAY_KINDS, NETWORKD_STACKED, networkd_fdb, networkd_netdev
from kvmtui.persist.vlan_aware import networkd_bridge, networkd_vlans

BACKEND = "systemd-networkd"
DIRECTORY = "etc/systemd/network"
# networkd reads all its files in lexical order of their names and the first .network whose
# [Match] takes an interface wins. "10-" sorts before the usual 20-wired, 50-cloud-init,
# 80-container-*, 99-default files (and "10-kvmtui" before netplan's "10-netplan-"), so a
# catch-all such as `Name=en*` in one of those never shadows what kvmtui writes.
PREFIX = "10-kvmtui-"
MODE = 0o644  # networkd drops to the systemd-network user: 0600 root files would be unreadable
HEADER = "# Written by kvmtui. Edit freely: kvmtui edits files in place and keeps what it does not change.\n"
BOND_KEYS = {sysfs: key for key, sysfs in BOND_NAMES.items()}
BRIDGE_KEYS = {sysfs: key for key, sysfs in BRIDGE_NAMES.items()}
OWN_SECTIONS = ("Address", "Route")  # sections kvmtui replaces whole when addresses/routes change


def render(saved: SavedConfig, desired: Desired, read: ReadFile) -> tuple[FileChange, ...]:
    files = _Files(saved.root, read)
    by_name = _saved_by_name(saved)
    for dev in desired.devices:
        _render_device(files, saved, by_name, desired, dev)
    for name in desired.removed:
        _remove_device(files, saved, by_name, desired, name)
    return files.changes()


# --- which saved file says what --------------------------------------------------------------

def _saved_by_name(saved: SavedConfig) -> dict[str, list[ConfiguredDevice]]:
    out: dict[str, list[ConfiguredDevice]] = {}
    for dev in saved.devices:
        if dev.backend == BACKEND and dev.name:
            out.setdefault(dev.name, []).append(dev)
    return out


def _network_file(saved_devs: list[ConfiguredDevice]) -> tuple[str | None, ConfiguredDevice | None]:
    """The .network (host path) that configures the device by its own name, and its record."""
    for dev in saved_devs:
        if dev.file.endswith(".network"):
            return dev.file, dev
        for more in dev.more_files:
            path = more.rsplit(":", 1)[0]
            if path.endswith(".network"):
                return path, dev
    return None, None


def _netdev_file(saved_devs: list[ConfiguredDevice]) -> str | None:
    return next((d.file for d in saved_devs if d.file.endswith(".netdev")), None)


def _own_network(saved: SavedConfig, name: str) -> str:
    """kvmtui's .network for `name`; "00-kvmtui-" when a catch-all .network (Name=en*) that
    sorts before "10-kvmtui-" would take the interface first."""
    own = f"{PREFIX}{name}.network"
    for dev in saved.devices:
        if dev.backend == BACKEND and dev.name is None and dev.file.endswith(".network") \
                and posixpath.basename(dev.file) < own and _glob_takes(dev.match_names, name):
            return f"/{DIRECTORY}/00-kvmtui-{name}.network"
    return f"/{DIRECTORY}/{own}"


def _glob_takes(words: tuple[str, ...], name: str) -> bool:
    if not words:
        return False
    invert = words[0].startswith("!")
    return any(fnmatchcase(name, w.lstrip("!")) for w in words) != invert


def _in_etc(path: str) -> str:
    """A vendor file (/usr/lib, /run) is overridden by a copy of the same name in /etc."""
    return path if path.startswith("/" + DIRECTORY + "/") else "/" + DIRECTORY + "/" + posixpath.basename(path)


class _Files:
    """Texts read once, edited in memory, handed back as FileChanges."""

    def __init__(self, root: str, read: ReadFile) -> None:
        self.root, self.read = root, read
        self.before: dict[str, str | None] = {}
        self.after: dict[str, str | None] = {}
        self.why: dict[str, list[str]] = {}

    def absolute(self, host_path: str) -> str:
        return posixpath.join(self.root, host_path.lstrip("/"))

    def text(self, host_path: str, source: str | None = None) -> str | None:
        """The text as edited so far; `source`: read it from there first (a vendor file copied to /etc)."""
        path = self.absolute(host_path)
        if path not in self.before:
            self.before[path] = self.read(path)
            self.after[path] = self.before[path] if self.before[path] is not None or source is None \
                else self.read(self.absolute(source))
        return self.after[path]

    def put(self, host_path: str, text: str | None, why: str) -> None:
        self.text(host_path)
        path = self.absolute(host_path)
        self.after[path] = text
        if why not in self.why.setdefault(path, []):
            self.why[path].append(why)

    def changes(self) -> tuple[FileChange, ...]:
        return tuple(FileChange(path, self.before[path], self.after[path], MODE, BACKEND, "; ".join(self.why.get(path, ())))
                     for path in sorted(self.after) if self.before[path] != self.after[path])


# --- one device ------------------------------------------------------------------------------

def _render_device(files: _Files, saved: SavedConfig, by_name: dict, desired: Desired, dev: ConfiguredDevice) -> None:
    name = dev.name or ""
    mine = by_name.get(name, [])
    why = _why(dev)
    if dev.kind == "vxlan" and dev.parent and _network_file(by_name.get(dev.parent, []))[0] is None \
            and desired.device(dev.parent) is None and not dict(dev.options).get("group"):
        # a .network of kvmtui's for the underlay would take it over (its addresses are in none)
        dev, why = replace(dev, parent=None), f"{why} (Independent=: no .network of {dev.parent}'s to name it in)"
    if dev.kind in ("bridge", "bond", "vlan", *OVERLAY_KINDS):
        netdev = _netdev_file(mine)
        if netdev is None:
            files.put(f"/{DIRECTORY}/{PREFIX}{name}.netdev", _new_netdev(dev), why)
        else:
            host = _in_etc(netdev)
            text = files.text(host, source=netdev) or ""
            files.put(host, _edit(text, _netdev_values(dev)), why)
    if dev.kind in NETWORKD_STACKED and dev.parent:
        _add_vlan_to_parent(files, by_name, dev)
    network, record = _network_file(mine)
    values = _network_values(dev, desired, record)
    link = {"MTUBytes": [str(dev.mtu)] if dev.mtu else []}
    host = _in_etc(network) if network else _own_network(saved, name)
    text = files.text(host, source=network)
    fdb = networkd_fdb(dev) if dev.kind == "vxlan" else ""
    vlans = networkd_vlans(dev)  # None: its [BridgeVLAN] sections stay as they are
    if text is None:
        files.put(host, _new_network(name, values, link, dev) + fdb + (vlans or ""), why)
        return
    replace_ip = record is None or set(record.addresses) != set(dev.addresses) or \
        set(record.routes) != set(_plain_routes(dev.routes))
    if not replace_ip:
        values.pop("Address"), values.pop("Gateway")
    text = _edit(text, {"Network": values, "Link": link}, drop_sections=OWN_SECTIONS if replace_ip else ())
    if replace_ip:
        text = _append_routes(text, dev.routes)
    if dev.kind == "vxlan":  # its static FDB entries, whole
        text = _drop_section(text, "BridgeFDB") + fdb
    if vlans is not None:  # its VLANs, whole
        kept = _drop_section(text, "BridgeVLAN")
        text = kept.rstrip("\n") + "\n" + vlans if vlans else kept
    files.put(host, text, why)


def _why(dev: ConfiguredDevice) -> str:
    if dev.master:
        return f"{dev.name} becomes a port of {dev.master}"
    if dev.kind in ("bridge", "bond", "vlan", *OVERLAY_KINDS):
        return f"the {dev.kind} {dev.name}"
    return f"{dev.name} as kvmtui leaves it"


def _netdev_values(dev: ConfiguredDevice) -> dict[str, dict[str, list[str]]]:
    """[Section] -> Key -> values a .netdev must say (an empty list: the key goes)."""
    if dev.kind in OVERLAY_KINDS:
        return networkd_netdev(dev)
    netdev: dict[str, list[str]] = {"Name": [dev.name or ""], "Kind": [dev.kind]}
    if dev.kind == "bridge":
        netdev["MACAddress"] = [dev.mac] if dev.mac else []
        bridge = {"STP": ["yes" if dev.bridge_stp else "no"]}
        for sysfs, value in dev.bridge_options:
            key = BRIDGE_KEYS.get(sysfs)
            if key:
                bridge[key] = [value]
        return {"NetDev": netdev, "Bridge": bridge | networkd_bridge(dev)}
    if dev.kind == "bond":
        if dev.mac:
            netdev["MACAddress"] = [dev.mac]
        bond = {"Mode": [dev.bond_mode or "balance-rr"]}
        for sysfs, value in dev.bond_options:
            key = BOND_KEYS.get(sysfs)
            if key is None:
                continue  # `primary` is PrimarySlave= in the slave's .network
            if key.endswith("Sec"):
                value = f"{value}ms"  # kvmtui keeps bond times in milliseconds, networkd reads a time span
            elif sysfs == "arp_ip_target":
                value = " ".join(value.split(","))
            bond[key] = [value]
        return {"NetDev": netdev, "Bond": bond}
    vlan = {"Id": [str(dev.vlan_id)]}
    if dev.vlan_protocol and dev.vlan_protocol != "802.1Q":
        vlan["Protocol"] = [dev.vlan_protocol]
    return {"NetDev": netdev, "VLAN": vlan}


def _plain_routes(routes: Iterable[ConfiguredRoute]) -> list[ConfiguredRoute]:
    return [ConfiguredRoute(r.dst, r.via, r.metric, r.table) for r in routes]


def _gateway(route: ConfiguredRoute) -> bool:
    """A route Gateway= in [Network] says: default, via a gateway, no metric or table."""
    return route.dst == "default" and route.via is not None and route.metric is None and route.table in (None, 254)


def _network_values(dev: ConfiguredDevice, desired: Desired, record: ConfiguredDevice | None) -> dict[str, list[str]]:
    master = desired.device(dev.master) if dev.master else None
    values = {
        "Address": list(dev.addresses),
        "Gateway": [r.via for r in dev.routes if _gateway(r)],
        "Bridge": [dev.master] if dev.master and (master is None or master.kind == "bridge") else [],
        "Bond": [dev.master] if master is not None and master.kind == "bond" else [],
    }
    if master is not None and master.kind == "bond":
        primary = dict(master.bond_options).get("primary")
        values["PrimarySlave"] = ["yes"] if primary == dev.name else []
    elif record is not None and any(k == "primary" for k, _ in record.port_options):
        values["PrimarySlave"] = []
    if dev.master:
        values["DHCP"] = []  # a port holds no address of its own
    elif dev.dhcp:
        values["DHCP"] = ["yes" if len(dev.dhcp) == 2 else dev.dhcp[0]]
    return values


def _new_netdev(dev: ConfiguredDevice) -> str:
    text = HEADER
    for section, values in _netdev_values(dev).items():
        text += _section(section, values)
    return text


def _new_network(name: str, values: dict[str, list[str]], link: dict[str, list[str]], dev: ConfiguredDevice) -> str:
    text = HEADER + _section("Match", {"Name": [name]})
    if link["MTUBytes"]:
        text += _section("Link", link)
    text += _section("Network", values)
    return _append_routes(text, dev.routes)


def _section(name: str, values: dict[str, list[str]]) -> str:
    lines = [f"{key}={value}\n" for key, vs in values.items() for value in vs]
    return f"\n[{name}]\n" + "".join(lines) if lines or name in ("Match", "NetDev") else ""


def _append_routes(text: str, routes: Iterable[ConfiguredRoute]) -> str:
    for route in routes:
        if _gateway(route):
            continue
        values = {"Destination": [route.dst if route.dst != "default" else "0.0.0.0/0"] if route.dst != "default"
                  or route.via is None else []}
        if route.dst == "default" and route.via and ":" in route.via:
            values["Destination"] = ["::/0"]
        values |= {"Gateway": [route.via] if route.via else [], "Metric": [str(route.metric)] if route.metric else [],
                   "Table": [str(route.table)] if route.table and route.table != 254 else []}
        text = (text if text.endswith("\n") or not text else text + "\n") + _section("Route", values)
    return text


def _add_vlan_to_parent(files: _Files, by_name: dict, dev: ConfiguredDevice) -> None:
    """VLAN= (VXLAN=, MACVLAN=) in the parent's .network: networkd makes the device when the parent comes."""
    parent, key = dev.parent or "", NETWORKD_STACKED[dev.kind]
    network, _ = _network_file(by_name.get(parent, []))
    host = _in_etc(network) if network else f"/{DIRECTORY}/{PREFIX}{parent}.network"
    text = files.text(host, source=network)
    if text is None:
        text = HEADER + _section("Match", {"Name": [parent]}) + "\n[Network]\n"
    found, _ = sections(text, host)
    words = [w for s, _, pairs in found if s == "Network" for k, v, _ in pairs if k == key for w in v.split()]
    if dev.name not in words:
        text = _edit(text, {"Network": {key: words + [dev.name or ""]}})
    files.put(host, text, f"{parent} carries the {key if dev.kind == 'vlan' else dev.kind} {dev.name}")


# --- removal ---------------------------------------------------------------------------------

def _remove_device(files: _Files, saved: SavedConfig, by_name: dict, desired: Desired, name: str) -> None:
    why = f"{name} is deleted"
    for dev in by_name.get(name, []):
        paths = [dev.file] + [m.rsplit(":", 1)[0] for m in dev.more_files]
        for path in paths:
            if not path.startswith("/" + DIRECTORY + "/"):
                continue  # a vendor file: kvmtui never wrote it; an admin's mask would be needed (rare)
            text = files.text(path) or ""
            if posixpath.basename(path).startswith(PREFIX) or path.endswith(".netdev") or _only_match(text, name):
                files.put(path, None, why)
    for dev in saved.devices:  # ports and VLANs the deleted device leaves behind, not re-described
        if dev.backend != BACKEND or not dev.file.startswith("/" + DIRECTORY + "/") or dev.name == name:
            continue
        path, _ = _network_file([dev])
        if path is None or (dev.name and desired.device(dev.name) is not None and dev.master == name):
            continue
        text = files.text(path)
        if text is None:
            continue
        found, _ = sections(text, path)
        network = {k: [v for s, _, p in found if s == "Network" for kk, v, _ in p if kk == k]
                   for k in ("Bridge", "Bond", *NETWORKD_STACKED.values())}
        edits = {k: [] for k in ("Bridge", "Bond") if name in network[k]}
        for key in NETWORKD_STACKED.values():
            stacked = [w for v in network[key] for w in v.split()]
            if name in stacked:
                edits[key] = [w for w in stacked if w != name]
        if edits:
            files.put(path, _edit(text, {"Network": edits}), f"{dev.name or path} no longer names {name}")


def _only_match(text: str, name: str) -> bool:
    found, _ = sections(text, "")
    match = [(k, v) for s, _, p in found if s == "Match" for k, v, _ in p]
    return match == [("Name", name)]


# --- editing text, line by line --------------------------------------------------------------

_HEADER_RE = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_KEY_RE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=")


def _edit(text: str, values: dict[str, dict[str, list[str]]], drop_sections: tuple[str, ...] = ()) -> str:
    """Set each [Section] Key to its values (all its lines replaced by new ones where the first
    one was, or added at the end of the section; the section added at the end when missing);
    drop whole sections named in `drop_sections`. Lines not concerned stay byte for byte, and
    a key whose values are already those is not touched at all."""
    found, _ = sections(text, "")
    for section, keys in values.items():
        for key, wanted in keys.items():
            have = [v for s, _, p in found if s == section for k, v, _ in p if k == key]
            if have == wanted:
                continue
            text = _set_key(text, section, key, wanted)
    for section in drop_sections:
        text = _drop_section(text, section)
    return text


def _blocks(lines: list[str]) -> list[tuple[str | None, int, int]]:
    """(section, first line index, end index) for each section, the part before any header as None."""
    out: list[tuple[str | None, int, int]] = []
    current, start = None, 0
    for index, line in enumerate(lines):
        match = _HEADER_RE.match(line)
        if match:
            out.append((current, start, index))
            current, start = match.group(1), index
    out.append((current, start, len(lines)))
    return out


def _set_key(text: str, section: str, key: str, wanted: list[str]) -> str:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    new = [f"{key}={value}\n" for value in wanted]
    blocks = [b for b in _blocks(lines) if b[0] == section]
    if not blocks:
        if not new:
            return text
        return "".join(lines) + ("\n" if lines and lines[-1].strip() else "") + f"[{section}]\n" + "".join(new)
    removed: list[int] = []
    for _, start, end in blocks:
        for index in range(start + 1, end):
            match = _KEY_RE.match(lines[index])
            if match and match.group(1) == key:
                removed.append(index)
    if removed:
        at = removed[0]
        keep = [line for index, line in enumerate(lines) if index not in removed]
        return "".join(keep[:at] + new + keep[at:])
    _, start, end = blocks[0]
    at = end
    while at > start + 1 and not lines[at - 1].strip():  # before the blank lines ending the section
        at -= 1
    return "".join(lines[:at] + new + lines[at:])


def _drop_section(text: str, section: str) -> str:
    lines = text.splitlines(keepends=True)
    keep: list[str] = []
    for name, start, end in _blocks(lines):
        if name != section:
            keep += lines[start:end]
    return "".join(keep)
