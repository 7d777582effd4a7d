"""ifupdown and ifupdown2: /etc/network/interfaces with its `source` and
`source-directory` includes (interfaces.d/ on Debian, Proxmox).

Stanzas of one name merge (an `inet` and an `inet6` stanza, or ifupdown2's repeated
`bridge-ports` lines); `bridge_ports` is `bridge-ports`, as ifupdown reads both.
ifupdown2 renders the file with Mako first: what a `%for` loop, a `<% %>` block or a
`${...}` makes is known only then, so each is a "template placeholder" problem at
its line and the rest of the file is read as it stands.
"""

from __future__ import annotations

import glob
import ipaddress
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from kvmtui.collect.netconfig.common import (
    Parsed, address, bond_mode, bond_value, control_lines, device, exists, integer, ip, link_masters, listing, mac,
    read_text, seconds, shown, truth, vlan_of_name, vlan_ranges,
)
from kvmtui.model.netconfig import ConfiguredRoute, ConfiguredVlan, ConfigProblem

FILE = "etc/network/interfaces"
KEYWORDS = {"iface", "auto", "allow-auto", "allow-hotplug", "mapping", "source", "source-directory", "source-dir",
            "vlan", "rename", "no-auto-down", "no-scripts", "template"}
IFUPDOWN2_HINTS = ("bridge-vids", "bridge-vlan-aware", "bridge-access", "bridge-pvid", "vxlan-id", "vrf-table", "vrf",
                   "link-type", "address-virtual", "bond-slaves")
BRIDGE_NAMES = {"bridge-fd": "forward_delay", "bridge-hello": "hello_time", "bridge-maxage": "max_age",
                "bridge-ageing": "ageing_time", "bridge-bridgeprio": "priority", "bridge-mcsnoop": "mcast_snooping",
                "bridge-pvid": "default_pvid"}
CONTROL_OPEN = re.compile(r"%\s*(for|if|while|try|with)\b")
CONTROL_END = re.compile(r"%\s*end")


@dataclass
class Stanza:
    name: str
    family: str | None
    method: str | None
    file: str
    line: int
    options: list[tuple[str, str, int]] = field(default_factory=list)


@dataclass
class Scan:
    """One file's stanzas, `auto` names and includes, before they are merged."""

    file: str
    stanzas: list[Stanza] = field(default_factory=list)
    autos: set[str] = field(default_factory=set)
    includes: list[tuple[str, str, int]] = field(default_factory=list)  # (keyword, argument, line)
    problems: list[ConfigProblem] = field(default_factory=list)
    ifupdown2: bool = False  # syntax only ifupdown2 reads


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines, pending, start = [], "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        lines.append((start, pending + raw))
        pending = ""
    if pending:
        lines.append((start, pending))
    return lines


def scan(text: str, file: str, backend: str = "ifupdown2") -> Scan:
    out = Scan(file)
    bad, out.problems = control_lines(text, backend, file)
    current: Stanza | None = None  # None also inside a mapping/vlan stanza or a skipped one
    in_stanza = False
    block_end = None  # "%>" while inside <% %>; a depth count inside % control lines
    depth = 0
    for number, raw in _logical_lines(text):
        line = raw.strip()
        if number in bad or not line or line.startswith("#"):  # Mako's "##" comments too
            continue
        if block_end:
            if block_end in line:
                block_end = None
            continue
        if line.startswith("<%"):
            out.ifupdown2 = True
            if not depth:  # within a loop, the loop's problem says it
                out.problems.append(_template(backend, file, number, line))
            if "%>" not in line[2:]:
                block_end = "%>"
            continue
        if line.startswith("%") and not line.startswith("%%"):
            out.ifupdown2 = True
            if CONTROL_OPEN.match(line):
                if depth == 0:
                    out.problems.append(_template(backend, file, number, line))
                depth += 1
            elif CONTROL_END.match(line):
                depth = max(depth - 1, 0)
            continue
        if depth:
            continue  # made by the loop: unknown until ifupdown2 renders it
        words = line.split()
        keyword = words[0]
        if "${" in line:
            out.ifupdown2 = True
            out.problems.append(_template(backend, file, number, line))
            if keyword in KEYWORDS:
                current, in_stanza = None, keyword in ("iface", "mapping", "vlan", "template")
            continue
        if keyword == "iface":
            if len(words) < 2:
                out.problems.append(ConfigProblem(backend, file, number, "iface without a name"))
                current, in_stanza = None, True
                continue
            if len(words) < 4:
                out.ifupdown2 = True  # ifupdown needs both family and method
            current, in_stanza = Stanza(words[1], _get(words, 2), _get(words, 3), file, number), True
            out.stanzas.append(current)
        elif keyword in ("auto", "allow-auto", "allow-hotplug"):
            out.autos.update(words[1:])
            current, in_stanza = None, False  # an option after it is misplaced
        elif keyword in ("source", "source-directory", "source-dir"):
            out.includes.append((keyword, " ".join(words[1:]), number))
            current, in_stanza = None, False
        elif keyword in ("mapping", "vlan", "template", "rename"):
            out.ifupdown2 = out.ifupdown2 or keyword == "vlan"
            current, in_stanza = None, keyword != "rename"
        elif keyword.startswith("allow-") or keyword in KEYWORDS:
            continue
        elif current is not None:
            key = keyword.replace("_", "-")
            out.ifupdown2 = out.ifupdown2 or key in IFUPDOWN2_HINTS
            current.options.append((key, " ".join(words[1:]), number))
        elif not in_stanza:
            out.problems.append(ConfigProblem(backend, file, number, f"'{keyword}' is neither a stanza nor an option "
                                              "of one"))
    if block_end or depth:
        out.problems.append(ConfigProblem(backend, file, None, "a Mako template block is never closed"))
    return out


def _get(words: list[str], index: int) -> str | None:
    return words[index] if len(words) > index else None


def _template(backend: str, file: str, number: int, line: str) -> ConfigProblem:
    return ConfigProblem(backend, file, number, f"template placeholder: `{line[:60]}` is Mako, which ifupdown2 "
                                                "renders at ifup time; the interfaces it makes are not read")


def build(scans: list[Scan], backend: str) -> Parsed:
    """The devices the merged stanzas of every file describe."""
    out = Parsed()
    autos = set().union(*(s.autos for s in scans)) if scans else set()
    merged: dict[str, list[Stanza]] = {}
    for one in scans:
        out.problems += one.problems
        for stanza in one.stanzas:
            merged.setdefault(stanza.name, []).append(stanza)
    for name, stanzas in merged.items():
        out.devices.append(_device(name, stanzas, name in autos, backend, out))
    out.devices = link_masters(out.devices)
    return out


def _device(name: str, stanzas: list[Stanza], auto: bool, backend: str, out: Parsed):
    first = stanzas[0]
    options: dict[str, list[tuple[str, int, Stanza]]] = {}
    for stanza in stanzas:
        for key, value, line in stanza.options:
            options.setdefault(key, []).append((value, line, stanza))
    one = lambda key: options[key][-1][0] if key in options else None  # noqa: E731
    words = lambda key: [w for value, _, _ in options.get(key, ()) for w in value.split()]  # noqa: E731

    def problem(line: int, file: str, message: str) -> None:
        out.problems.append(ConfigProblem(backend, file, line, f"{name}: {message}"))

    fields: dict = {"more_files": [f"{s.file}:{s.line}" for s in stanzas[1:]], "autostart": auto}
    methods = {s.method for s in stanzas}
    fields["dhcp"] = sorted({"ipv4" if s.family == "inet" else "ipv6" for s in stanzas if s.method in ("dhcp", "auto")})
    _addresses(stanzas, fields, problem)
    if one("mtu"):
        fields["mtu"] = integer(one("mtu"))
    if one("hwaddress"):
        fields["mac"] = mac(one("hwaddress").split()[-1])
    parent, implied_id = vlan_of_name(name)
    if "vrf-table" in options:
        kind = "vrf"
        fields["options"] = [("table", one("vrf-table"))]
    elif "bridge-ports" in options or "bridge-vlan-aware" in options:
        kind = "bridge"
        fields["ports"] = _ports(words("bridge-ports"), options["bridge-ports"][0] if "bridge-ports" in options else None,
                                 problem)
        fields["bridge_stp"] = truth(one("bridge-stp")) if one("bridge-stp") else None
        bridge = {BRIDGE_NAMES[k]: (seconds(one(k)) if BRIDGE_NAMES[k].endswith(("delay", "time", "age")) else one(k))
                  for k in BRIDGE_NAMES if k in options}
        if "bridge-vlan-aware" in options:
            bridge["vlan_filtering"] = "1" if truth(one("bridge-vlan-aware")) else "0"
        fields["bridge_options"] = list(bridge.items())
    elif "bond-slaves" in options or "bond-ports" in options or "bond-mode" in options:
        kind = "bond"
        slaves = words("bond-slaves") + words("bond-ports")
        fields["ports"] = [] if slaves == ["none"] else slaves
        fields["bond_mode"] = bond_mode(one("bond-mode") or "balance-rr")
        fields["bond_options"] = [(k[5:].replace("-", "_"), bond_value(k[5:].replace("-", "_"), one(k)))
                                  for k in options if k.startswith("bond-")
                                  and k not in ("bond-slaves", "bond-ports", "bond-mode", "bond-master")]
    elif "vxlan-id" in options:
        kind = "vxlan"
        fields["vni"] = integer(one("vxlan-id"))
        fields["parent"] = one("vxlan-physdev")
        names = {"vxlan-local-tunnelip": "local", "vxlan-mcastgrp": "group", "vxlan-mcastgrp6": "group",
                 "vxlan-port": "port", "vxlan-learning": "learning", "vxlan-ageing": "ageing", "vxlan-ttl": "ttl"}
        vxlan = [(names[k], ("1" if truth(one(k)) else "0") if k == "vxlan-learning" else one(k))
                 for k in names if k in options]
        for key in ("vxlan-svcnodeip", "vxlan-svcnodeip6"):  # the remote; a multicast one is the group
            if key in options:
                vxlan.append(("group" if _multicast(one(key)) else "remote", one(key)))
        fields["options"] = vxlan
        fields["fdb"] = [("00:00:00:00:00:00", ip) for ip in words("vxlan-remoteip")]  # head-end replication
    elif "vlan-raw-device" in options or "vlan-id" in options or (implied_id is not None and
                                                                   (parent or "vlan-raw-device" in options)):
        kind = "vlan"
        fields["parent"] = one("vlan-raw-device") or parent
        fields["vlan_id"] = integer(one("vlan-id")) if one("vlan-id") else implied_id
        if fields["vlan_id"] is None:
            problem(first.line, first.file, "a VLAN without vlan-id, and its name gives none")
    elif "loopback" in methods or name == "lo":
        kind = "loopback"
    else:
        kind = one("link-type") or "ethernet"
    fields["master"] = one("bond-master") or one("vrf")
    port: list[tuple[str, str]] = []
    if "bridge-access" in options and kind != "bridge":
        vlan = integer(one("bridge-access"))
        fields["vlans"] = [ConfiguredVlan(vlan, vlan, True, True)] if vlan is not None else []
    elif "bridge-vids" in options:
        found, bad = vlan_ranges(words("bridge-vids"))
        for word in bad:
            problem(options["bridge-vids"][0][1], options["bridge-vids"][0][2].file, f"'{word}' is not a VLAN")
        pvid = integer(one("bridge-pvid")) if kind != "bridge" and one("bridge-pvid") else None
        fields["vlans"] = found + ([ConfiguredVlan(pvid, pvid, True, True)] if pvid is not None else [])
    for key, label in (("bridge-learning", "learning"), ("bridge-portprio", "priority"), ("bridge-pathcost", "cost")):
        if one(key) and kind != "bridge":
            port.append((label, "1" if truth(one(key)) else "0" if key == "bridge-learning" else one(key)))
    fields["port_options"] = port
    return device(name, kind, backend, first.file, first.line, f"{backend} iface stanza", profile=name, **fields)


def _multicast(text: str | None) -> bool:
    try:
        return ipaddress.ip_address(text or "").is_multicast
    except ValueError:
        return False


def _addresses(stanzas: list[Stanza], fields: dict, problem) -> None:
    found, routes = [], []
    for stanza in stanzas:
        netmask = next((v for k, v, _ in stanza.options if k == "netmask"), None)
        for key, value, line in stanza.options:
            if key == "address":
                text = address(value, None if "/" in value else netmask)
                if text is None:
                    problem(line, stanza.file, f"'{value}' is not an address")
                else:
                    found.append(text)
            elif key == "gateway":
                if ip(value):
                    routes.append(ConfiguredRoute("default", ip(value)))
                else:
                    problem(line, stanza.file, f"gateway '{value}' is not an address")
    fields.update(addresses=found, routes=routes)


def _ports(words: list[str], where, problem) -> list[str]:
    """bridge-ports words: names, `none`, ifupdown2's `glob swp2-20` (a range) and `regex RE`."""
    ports, index = [], 0
    while index < len(words):
        word = words[index]
        if word in ("glob", "regex") and index + 1 < len(words):
            pattern = words[index + 1]
            match = re.fullmatch(r"(.*?)(\d{1,6})-(\d{1,6})", pattern) if word == "glob" else None
            if match and int(match[3]) - int(match[2]) < 4096:
                ports += [f"{match[1]}{n}" for n in range(int(match[2]), int(match[3]) + 1)]
            else:
                problem(where[1], where[2].file, f"bridge-ports {word} {pattern}: matched against live devices, "
                                                 "which kvmtui does not do")
            index += 2
            continue
        if word != "none":
            ports.append(word)
        index += 1
    return ports


def parse(text: str, file: str, backend: str | None = None) -> Parsed:
    """One interfaces file on its own (includes not followed); the flavour from its syntax
    when not given."""
    one = scan(text, file, backend or "ifupdown2")
    return build([one], backend or ("ifupdown2" if one.ifupdown2 else "ifupdown"))


def flavour(root: Path) -> tuple[str | None, str]:
    """Which of the two is installed, from their files."""
    found = exists(root, "/usr/share/ifupdown2", "/var/lib/dpkg/info/ifupdown2.list")
    if found:
        return "ifupdown2", f"ifupdown2 installed ({found})"
    found = exists(root, "/var/lib/dpkg/info/ifupdown.list", "/sbin/ifup", "/usr/sbin/ifup")
    if found:
        return "ifupdown", f"ifupdown installed ({found})"
    return None, "neither ifupdown nor ifupdown2 is installed"


def read(root: Path) -> Parsed:
    """/etc/network/interfaces and what it sources, depth first, each file once."""
    installed, _ = flavour(root)
    scans: list[Scan] = []
    problems: list[ConfigProblem] = []
    _read_file(root, root / FILE, installed or "ifupdown2", scans, problems, set(), 0)
    backend = installed or ("ifupdown2" if any(s.ifupdown2 for s in scans) else "ifupdown")
    out = build(scans, backend)
    out.problems = [replace(p, backend=backend) for p in problems + out.problems]  # the flavour is known now
    return out


def _read_file(root: Path, path: Path, backend: str, scans: list[Scan], problems: list, seen: set, depth: int) -> None:
    if path in seen or depth > 8:
        problems.append(ConfigProblem(backend, shown(root, path), None, "sourced again (a loop): read once"))
        return
    seen.add(path)
    text, problem = read_text(path, backend, shown(root, path))
    if problem:
        if depth or not (problem.message.startswith("No such file")):
            problems.append(problem)
        return
    one = scan(text or "", shown(root, path), backend)
    scans.append(one)
    for keyword, argument, line in one.includes:
        base = root / argument.lstrip("/") if argument.startswith("/") else path.parent / argument
        if keyword == "source":
            matches = sorted(glob.glob(str(base))) if glob.has_magic(argument) else [str(base)]
            for match in matches:
                if not Path(match).exists():
                    problems.append(ConfigProblem(backend, one.file, line, f"source {argument}: no such file"))
                    continue
                _read_file(root, Path(match), backend, scans, problems, seen, depth + 1)
        else:
            if not base.is_dir():
                problems.append(ConfigProblem(backend, one.file, line, f"{keyword} {argument}: no such directory"))
                continue
            for name in listing(base, backend, root, problems):
                if re.fullmatch(r"[A-Za-z0-9_-]+", name):  # run-parts names, as ifupdown reads them
                    _read_file(root, base / name, backend, scans, problems, seen, depth + 1)
