"""Desired devices -> edits of /etc/network/interfaces (and the files it sources), pure.

Written in ifupdown2's words (which classic ifupdown with bridge-utils, ifenslave and
vlan reads too): `auto NAME`, `iface NAME inet static|manual|dhcp`, `address A/P`,
`gateway`, `bridge-ports`, `bridge-stp`, `bridge-fd` (and the other bridge-* times),
`hwaddress`, `bond-slaves`, `bond-mode`, `bond-miimon`, `bond-lacp-rate`,
`bond-xmit-hash-policy`, `bond-primary`..., `vlan-raw-device`/`vlan-id` (none for a
dotted name that says both), a vxlan's `vxlan-*` lines (overlay.py), `mtu`, and `up ip
route add ...` for a route that is not a plain default gateway.

The files are edited, not regenerated: a device's stanza is edited where it stands, line
by line. A line that already says what is wanted stays byte for byte (its key spelling,
`bridge_ports` or `bridge-ports`, its indentation, its netmask); a line that says
something else is rewritten in place with the same key spelling and indentation; a line
that no longer applies goes; what is missing is added at the end of the device's first
stanza. Options kvmtui does not manage (post-up scripts, comments; bridge-vids but on a
VLAN-aware bridge's port: vlan_aware.py) stay.
Every other line of every file stays byte for byte. A new device's stanza is appended
to /etc/network/interfaces. A removed device's stanzas and `auto` words go, and its name
leaves other stanzas' bridge-ports and bond-slaves.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field

from kvmtui.collect.netconfig.common import address as norm_address
from kvmtui.collect.netconfig.common import bond_mode as norm_bond_mode
from kvmtui.collect.netconfig.common import bond_value, mac as norm_mac, seconds, truth, vlan_of_name
from kvmtui.model.netconfig import ConfiguredDevice, ConfiguredRoute, SavedConfig
from kvmtui.persist.model import Desired, FileChange, ReadFile
from kvmtui.persist.overlay import ifupdown2_pairs
from kvmtui.persist.vlan_aware import IFUPDOWN2_PORT_KEYS, ifupdown2_port_pairs

MAIN = "/etc/network/interfaces"
BACKENDS = ("ifupdown", "ifupdown2")
STANZA_WORDS = {"iface", "auto", "allow-auto", "allow-hotplug", "mapping", "source", "source-directory", "source-dir",
                "vlan", "rename", "template"}
AUTO_WORDS = ("auto", "allow-auto")
# bridge_options (kernel names, bridge times in seconds) <-> ifupdown2 keys
BRIDGE_KEYS = {"forward_delay": "bridge-fd", "hello_time": "bridge-hello", "max_age": "bridge-maxage",
               "ageing_time": "bridge-ageing", "priority": "bridge-bridgeprio", "mcast_snooping": "bridge-mcsnoop",
               "default_pvid": "bridge-pvid", "vlan_filtering": "bridge-vlan-aware"}
TIMES = {"bridge-fd", "bridge-hello", "bridge-maxage", "bridge-ageing"}
OPTION = re.compile(r"^(\s*)(\S+)(\s*)(.*?)\s*$")
ROUTE_LINE = re.compile(r"^ip\s+(?:-[46]\s+)?route\s+(?:add|replace)\s+(.*)$")
# keys whose lines kvmtui owns in a stanza it edits (besides address/netmask/gateway/routes)
# (bridge times and the like only when the device's record says them: a reader that saw them said them)
OWNED = {"mtu", "bridge-ports", "bond-slaves", "bond-ports", "bond-mode", "bond-master", "vlan-raw-device", "vlan-id",
         "vlan-protocol", "bridge-vlan-aware"}


@dataclass
class Line:
    text: str  # without its newline
    end: str  # "\n", or "" for a last line without one


@dataclass
class Block:
    """One `iface` stanza: its header's index and its option lines' indexes (in a file's lines)."""

    name: str
    family: str | None
    method: str | None
    start: int
    options: list[int] = field(default_factory=list)

    @property
    def last(self) -> int:
        return self.options[-1] if self.options else self.start


@dataclass
class Doc:
    path: str  # absolute under the root
    before: str | None
    lines: list[Line]
    blocks: list[Block]
    dropped: set[int] = field(default_factory=set)
    replaced: dict[int, str] = field(default_factory=dict)
    inserted: dict[int, list[str]] = field(default_factory=dict)  # after line index (-1: at the top)
    why: list[str] = field(default_factory=list)

    def text(self) -> str | None:
        if self.before is None and not self.inserted:
            return None
        out: list[str] = []

        def put(texts: list[str]) -> None:
            if out and not out[-1].endswith("\n"):
                out[-1] += "\n"
            out.extend(t + "\n" for t in texts)

        put(self.inserted.get(-1, []))
        for index, line in enumerate(self.lines):
            if index not in self.dropped:
                text = self.replaced.get(index, line.text)
                if out and not out[-1].endswith("\n"):
                    out[-1] += "\n"
                out.append(text + line.end)
            put(self.inserted.get(index, []))
        return "".join(out)


def render(saved: SavedConfig, desired: Desired, read: ReadFile) -> tuple[FileChange, ...]:
    """The files under saved.root that must change so that they describe `desired`."""
    root = saved.root or "/"
    names = [MAIN]
    for device in saved.devices:
        if device.backend in BACKENDS:
            for where in (device.file, *(m.rsplit(":", 1)[0] for m in device.more_files)):
                if where and where not in names:
                    names.append(where)
    docs = [_doc(_under(root, name), read(_under(root, name))) for name in names]
    docs = [d for d in docs if d.before is not None or d.path == _under(root, MAIN)]
    main = next(d for d in docs if d.path == _under(root, MAIN))
    indent = _indent(docs)
    removed = set(desired.removed)
    for name in desired.removed:
        _remove(docs, name)
    for device in desired.devices:
        blocks = [(doc, block) for doc in docs for block in doc.blocks if block.name == device.name]
        if blocks:
            _edit(docs, blocks, device, indent)
        else:
            _append(main, device, indent)
    for doc in docs:  # names that went: out of the other stanzas' port lists
        for block in doc.blocks:
            if block.name in removed or desired.device(block.name):
                continue
            for index in block.options:
                match = OPTION.match(doc.lines[index].text)
                key = match[2].replace("_", "-")
                if key in ("bridge-ports", "bond-slaves", "bond-ports"):
                    words = match[4].split()
                    kept = [w for w in words if w not in removed]
                    if kept != words:
                        doc.replaced[index] = f"{match[1]}{match[2]}{match[3] or ' '}{' '.join(kept) or 'none'}"
                        doc.why.append(f"{', '.join(sorted(set(words) - set(kept)))} no longer a port of {block.name}")
    backend = next((d.backend for d in saved.devices if d.backend in BACKENDS), "ifupdown2")
    out = []
    for doc in docs:
        after = doc.text()
        if after != doc.before:
            out.append(FileChange(doc.path, doc.before, after, 0o644, backend, "; ".join(doc.why)))
    return tuple(out)


def _under(root: str, name: str) -> str:
    return os.path.join(root, name.lstrip("/")) if root != "/" else name


def _doc(path: str, text: str | None) -> Doc:
    lines = [Line(raw[:-1], "\n") if raw.endswith("\n") else Line(raw, "") for raw in (text or "").splitlines(True)]
    blocks: list[Block] = []
    current: Block | None = None
    index = 0
    while index < len(lines):
        first = index
        logical = lines[index].text
        while logical.endswith("\\") and index + 1 < len(lines):  # a continued line is one option
            index += 1
            logical = logical[:-1] + " " + lines[index].text
        index += 1
        words = logical.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "iface" and len(words) > 1:
            current = Block(words[1], words[2] if len(words) > 2 else None, words[3] if len(words) > 3 else None, first)
            blocks.append(current)
        elif words[0] in STANZA_WORDS or words[0].startswith("allow-") or words[0].startswith(("%", "<%")):
            current = None
        elif current is not None and first == index - 1:
            current.options.append(first)
    return Doc(path, text, lines, blocks)


def _indent(docs: list[Doc]) -> str:
    for doc in docs:
        for block in doc.blocks:
            for index in block.options:
                found = OPTION.match(doc.lines[index].text)[1]
                if found:
                    return found
    return "    "


def _wanted_lines(device: ConfiguredDevice) -> list[tuple[str, str]]:
    """(key, value) in the order a new stanza says them; addresses, gateway and routes too."""
    out: list[tuple[str, str]] = [("address", a) for a in device.addresses]
    gateways = [r for r in device.routes if _is_default(r) and r.via and r.metric is None and r.table is None]
    for route in gateways[:2]:  # one per family
        if not any(ipaddress.ip_address(g.via).version == ipaddress.ip_address(route.via).version
                   for g in gateways[:gateways.index(route)]):
            out.append(("gateway", route.via))
    if device.mac:
        out.append(("hwaddress", device.mac))
    if device.mtu and not (device.kind == "bridge" and device.ports):  # ifupdown2: a bridge takes its ports' MTU
        out.append(("mtu", str(device.mtu)))
    if device.kind == "bridge":
        # ifupdown2 refuses `bridge-ports none` (classic ifupdown's word): a bridge without
        # ports is one without the line, which its bridge-stp line still makes a bridge
        if device.ports:
            out.append(("bridge-ports", " ".join(device.ports)))
        if device.bridge_stp is not None or not device.ports:
            out.append(("bridge-stp", "on" if device.bridge_stp else "off"))
        for option, value in device.bridge_options:
            if option in BRIDGE_KEYS:
                key = BRIDGE_KEYS[option]
                out.append((key, ("yes" if truth(value) else "no") if key == "bridge-vlan-aware" else str(value)))
    elif device.kind == "bond":
        out.append(("bond-slaves", " ".join(device.ports) or "none"))
        out.append(("bond-mode", device.bond_mode or "balance-rr"))
        for option, value in device.bond_options:
            out.append(("bond-" + option.replace("_", "-"), value.replace(",", " ")))
    elif device.kind == "vlan":
        parent, implied = vlan_of_name(device.name)
        if not (parent and parent == device.parent and implied == device.vlan_id):
            out.append(("vlan-raw-device", device.parent or ""))
            out.append(("vlan-id", str(device.vlan_id)))
        if device.vlan_protocol and device.vlan_protocol.lower() == "802.1ad":
            out.append(("vlan-protocol", "802.1ad"))
    elif device.kind == "vxlan":
        out += ifupdown2_pairs(device)
    out += ifupdown2_port_pairs(device)  # a VLAN-aware bridge's port: its VLANs
    said = {v for k, v in out if k == "gateway"}
    for route in device.routes:
        if not (_is_default(route) and route.metric is None and route.table is None and route.via in said):
            out.append(("up", _route_command(device.name, route)))
    return out


def _is_default(route: ConfiguredRoute) -> bool:
    return route.dst in ("default", "0.0.0.0/0", "::/0")


def _route_command(name: str, route: ConfiguredRoute) -> str:
    words = ["ip", "route", "add", route.dst]
    if route.via:
        words += ["via", route.via]
    words += ["dev", name]
    if route.metric is not None:
        words += ["metric", str(route.metric)]
    if route.table is not None:
        words += ["table", str(route.table)]
    return " ".join(words)


def _method(device: ConfiguredDevice) -> str:
    if device.kind == "loopback":
        return "loopback"
    if device.addresses:
        return "static"
    return "dhcp" if "ipv4" in device.dhcp else "manual"


def _stanza(device: ConfiguredDevice, indent: str) -> list[str]:
    lines = [f"auto {device.name}"] if device.autostart else []
    lines.append(f"iface {device.name} inet {_method(device)}")
    lines += [f"{indent}{key} {value}" for key, value in _wanted_lines(device)]
    return lines


def _append(doc: Doc, device: ConfiguredDevice, indent: str) -> None:
    lines = _stanza(device, indent)
    tail = doc.inserted.get(len(doc.lines) - 1)
    if tail:
        last_blank = not tail[-1].strip()
    elif doc.lines and len(doc.lines) - 1 not in doc.dropped:
        last_blank = not doc.lines[-1].text.strip()
    else:
        last_blank = not doc.lines
    if not last_blank:
        lines = [""] + lines
    doc.inserted.setdefault(len(doc.lines) - 1, []).extend(lines)
    doc.why.append(f"a new {device.kind} {device.name}")


def _same(key: str, old: str, new: str) -> bool:
    """Whether an existing option line's value already says `new` (as the reader reads it)."""
    if key in ("bridge-ports", "bond-slaves", "bond-ports"):
        return sorted(w for w in old.split() if w != "none") == sorted(w for w in new.split() if w != "none")
    if key in ("bridge-stp", "bridge-vlan-aware", "bridge-mcsnoop"):
        return truth(old) == truth(new)
    if key in TIMES:
        return seconds(old) == seconds(new)
    if key == "bond-mode":
        return norm_bond_mode(old) == norm_bond_mode(new)
    if key.startswith("bond-"):
        name = key[5:].replace("-", "_")
        return bond_value(name, old).replace(",", " ") == bond_value(name, new).replace(",", " ")
    if key == "hwaddress":
        return norm_mac(old.split()[-1] if old.split() else "") == norm_mac(new)
    if key == "gateway":
        return old.strip() == new.strip()
    return old.strip() == new.strip()


def _edit(docs: list[Doc], blocks: list[tuple[Doc, Block]], device: ConfiguredDevice, indent: str) -> None:
    wanted = _wanted_lines(device)
    addresses = [v for k, v in wanted if k == "address"]
    singles: dict[str, str] = {k: v for k, v in wanted if k not in ("address", "up")}
    routes = [v for k, v in wanted if k == "up"]
    primary_doc, primary = next(((d, b) for d, b in blocks if b.family in (None, "inet")), blocks[0])
    changed = False
    kept_addresses: set[str] = set()
    kept_netmask: list[tuple[Doc, int, Block]] = []
    seen_keys: set[str] = set()
    stanza_indent = None
    for doc, block in blocks:
        netmask = None
        for index in block.options:
            match = OPTION.match(doc.lines[index].text)
            if key_is(match, "netmask"):
                netmask = match[4]
        uses_netmask = False
        for index in block.options:
            match = OPTION.match(doc.lines[index].text)
            stanza_indent = stanza_indent if stanza_indent is not None else match[1]
            key, value = match[2].replace("_", "-"), match[4]
            if key == "address":
                text = norm_address(value, None if "/" in value else netmask)
                if text in addresses and text not in kept_addresses:
                    kept_addresses.add(text)
                    uses_netmask = uses_netmask or "/" not in value
                else:
                    doc.dropped.add(index)
                    changed = True
            elif key == "netmask":
                kept_netmask.append((doc, index, block))
            elif key in ("up", "post-up") and ROUTE_LINE.match(value):
                command = _normal_route(value, device.name)
                if command in [_normal_route(r, device.name) for r in routes] and command not in seen_keys:
                    seen_keys.add(command)
                else:
                    doc.dropped.add(index)
                    changed = True
            elif (key == "gateway" or key in OWNED or key in singles or (device.vlans and key in IFUPDOWN2_PORT_KEYS)
                  or (key.startswith("bond-") and device.kind == "bond")
                  or (key == "hwaddress" and device.kind in ("bridge", "bond"))):
                if key == "bond-ports":
                    key = "bond-slaves"
                if key in singles and key not in seen_keys and _same(key, value, singles[key]):
                    seen_keys.add(key)
                elif key in singles and key not in seen_keys:
                    seen_keys.add(key)
                    doc.replaced[index] = f"{match[1]}{match[2]}{match[3] or ' '}{singles[key]}"
                    changed = True
                else:
                    doc.dropped.add(index)
                    changed = True
        for doc_, index, block_ in kept_netmask:
            if block_ is block and not uses_netmask:
                doc_.dropped.add(index)
                changed = True
    missing = [(k, v) for k, v in wanted
               if (k == "address" and v not in kept_addresses)
               or (k == "up" and _normal_route(v, device.name) not in seen_keys)
               or (k not in ("address", "up") and k not in seen_keys)]
    if missing:
        pad = stanza_indent or indent
        # addresses first, as a new stanza says them: before the stanza's other options
        new_addresses = [f"{pad}{k} {v}" for k, v in missing if k == "address"]
        rest = [f"{pad}{k} {v}" for k, v in missing if k != "address"]
        if new_addresses:
            primary_doc.inserted.setdefault(primary.start, []).extend(new_addresses)
        if rest:
            primary_doc.inserted.setdefault(primary.last, []).extend(rest)
        changed = True
    header = primary_doc.lines[primary.start].text
    method = _method(device)
    if primary.method != method and primary.method != "loopback" and not (primary.method in ("dhcp", "auto")
                                                                          and not device.addresses):
        words = re.match(r"^(\s*iface\s+\S+)(?:(\s+)(\S+))?(?:(\s+)(\S+))?(.*)$", header)
        family = words[3] or "inet"
        primary_doc.replaced[primary.start] = f"{words[1]}{words[2] or ' '}{family}{words[4] or ' '}{method}{words[6]}"
        changed = True
    if device.autostart and not _has_auto(docs, device.name):
        primary_doc.inserted.setdefault(primary.start - 1, []).append(f"auto {device.name}")
        changed = True
    if changed:
        primary_doc.why.append(f"{device.name} changed" if not device.master else
                               f"{device.name} a port of {device.master}")


def key_is(match: re.Match, key: str) -> bool:
    return match[2].replace("_", "-") == key


def _normal_route(value: str, name: str) -> str:
    words = value.split()
    match = ROUTE_LINE.match(" ".join(words))
    return " ".join(match[1].split()) if match else " ".join(words)


def _auto_lines(doc: Doc):
    for index, line in enumerate(doc.lines):
        words = line.text.split()
        if words and words[0] in AUTO_WORDS and index not in doc.dropped:
            yield index, words


def _has_auto(docs: list[Doc], name: str) -> bool:
    return any(name in words[1:] for doc in docs for _, words in _auto_lines(doc)) or \
        any(f"auto {name}" in lines for doc in docs for lines in doc.inserted.values())


def _remove(docs: list[Doc], name: str) -> None:
    for doc in docs:
        removed = False
        for index, words in list(_auto_lines(doc)):
            if name in words[1:]:
                kept = [w for w in words[1:] if w != name]
                if kept:
                    match = re.match(r"^(\s*\S+\s+)", doc.lines[index].text)
                    doc.replaced[index] = match[1] + " ".join(kept)
                else:
                    doc.dropped.add(index)
                removed = True
        for block in doc.blocks:
            if block.name != name:
                continue
            for index in range(block.start, block.last + 1):
                doc.dropped.add(index)
            after = block.last + 1  # and one blank line, so that no double blank is left
            before = block.start - 1
            while before >= 0 and before in doc.dropped:
                before -= 1
            if after < len(doc.lines) and not doc.lines[after].text.strip() and (
                    before < 0 or not doc.lines[before].text.strip()):
                doc.dropped.add(after)
            elif after >= len(doc.lines) and before >= 0 and not doc.lines[before].text.strip():
                doc.dropped.add(before)  # the blank line before a last stanza
            removed = True
        if removed:
            doc.why.append(f"{name} removed")
