"""NetworkManager keyfiles: /etc, /run and /usr/lib NetworkManager/system-connections.

A profile names its device by `interface-name`, a [match] glob or its MAC. The same
UUID in /run shadows /etc, which shadows /usr/lib. A profile under /run named
`netplan-*` is netplan's: `netplan generate` rewrites it. NM reads a keyfile only when
root owns it with mode 0600, and a line that is not a group, key or comment makes it
ignore the whole file: both are problems. The daemon's own settings (which devices it
leaves unmanaged) and its per-device state in /run are read by nm_conf.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from kvmtui.collect.netconfig.common import (
    Parsed, address, bond_mode, bond_value, control_lines, device, integer, ip, link_masters, listing, mac,
    read_text, seconds, shown, truth, vlan_ranges,
)
from kvmtui.model.netconfig import ConfiguredRoute, ConfigProblem

BACKEND = "NetworkManager"
DIRS = ("usr/lib/NetworkManager/system-connections", "etc/NetworkManager/system-connections",
        "run/NetworkManager/system-connections")  # later shadows earlier, by UUID
IGNORED = re.compile(r"^\.|~$|\.(bak|swp|orig|rej|rpmnew|rpmsave|tmp|nmmeta)$|\.dpkg-|\.ucf-")
ALIASES = {"802-3-ethernet": "ethernet", "802-11-wireless": "wifi", "802-11-olpc-mesh": "olpc-mesh",
           "802-1x": "802-1x", "gsm": "gsm"}
KINDS = {"ethernet": "ethernet", "wifi": "wifi", "bond": "bond", "bridge": "bridge", "vlan": "vlan", "vxlan": "vxlan",
         "vrf": "vrf", "dummy": "dummy", "loopback": "loopback", "macvlan": "macvlan", "veth": "veth", "tun": "tun",
         "team": "team", "ip-tunnel": "tunnel", "wireguard": "wireguard", "infiniband": "infiniband"}
MACVLAN_MODES = {"1": "vepa", "2": "bridge", "3": "private", "4": "passthru", "5": "source"}  # NM's numbers
BRIDGE_NAMES = {"forward-delay": "forward_delay", "hello-time": "hello_time", "max-age": "max_age",
                "ageing-time": "ageing_time", "priority": "priority", "vlan-filtering": "vlan_filtering",
                "vlan-default-pvid": "default_pvid", "multicast-snooping": "mcast_snooping",
                "group-forward-mask": "group_fwd_mask"}
PORT_NAMES = {"priority": "priority", "path-cost": "cost", "hairpin-mode": "hairpin", "queue-id": "queue_id",
              "prio": "prio"}


def keyfile(text: str, file: str) -> tuple[dict[str, dict[str, tuple[str, int]]], list[ConfigProblem]]:
    """GKeyFile text -> {group: {key: (value, line)}}; a group's own line is its key "[". A
    line GLib cannot read makes NM drop the file: the groups are then empty."""
    bad, problems = control_lines(text, BACKEND, file)
    groups: dict[str, dict[str, tuple[str, int]]] = {}
    current: dict[str, tuple[str, int]] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if number in bad or not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip()
            current = groups.setdefault(ALIASES.get(name, name), {"[": ("", number)})
        elif "=" in line and current is not None:
            key, value = line.split("=", 1)
            current[key.strip()] = (_unescape(value.strip()), number)
        else:
            why = "a key before any [group]" if "=" in line else "not a group, key or comment"
            problems.append(ConfigProblem(BACKEND, file, number, f"{why}: NetworkManager ignores the whole file"))
            return {}, problems
    return groups, problems


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"s": " ", "n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), value)


def _list(value: str) -> list[str]:
    return [item.strip() for item in re.split(r"(?<!\\);", value) if item.strip()]


def parse(text: str, file: str, netplan: bool = False) -> Parsed:
    """One keyfile -> its device (none when NM would not load it). `netplan`: a profile
    netplan generated, owned by netplan."""
    out = Parsed()
    groups, out.problems = keyfile(text, file)
    conn = groups.get("connection")
    if conn is None:
        if groups:
            out.problems.append(ConfigProblem(BACKEND, file, None, "no [connection] group: not a NetworkManager profile"))
        return out
    get = lambda group, key, default=None: groups.get(group, {}).get(key, (default, None))[0]  # noqa: E731
    ctype = ALIASES.get(get("connection", "type", ""), get("connection", "type", ""))
    kind = KINDS.get(ctype, ctype or "unknown")
    ident = get("connection", "id")
    name = get("connection", "interface-name") or None
    line = conn["["][1]
    why = "netplan-generated NM profile" if netplan else f"NM keyfile profile '{ident or Path(file).name}'"
    fields: dict = {"profile": ident, "uuid": get("connection", "uuid"),
                    "autostart": truth(get("connection", "autoconnect", "true")) is not False}
    matches = _list(get("match", "interface-name", "") or "")
    if matches:
        fields["match_names"] = matches
    hardware = groups.get("wifi" if kind == "wifi" else "ethernet", {})
    if hardware.get("mac-address") and kind in ("ethernet", "wifi"):
        fields["match_mac"] = mac(hardware["mac-address"][0])
    if hardware.get("cloned-mac-address"):
        fields["mac"] = mac(hardware["cloned-mac-address"][0])  # None for "preserve", "random", ...
    mtu = get("ethernet", "mtu") or get(kind, "mtu")
    if mtu:
        fields["mtu"] = integer(mtu)
    fields["master"] = get("connection", "controller") or get("connection", "master") or None
    _ip(groups, fields, file, out)
    if kind == "bond":
        options = {k: bond_value(k, v) for k, (v, _) in groups.get("bond", {}).items() if k not in ("mode", "[")}
        fields["bond_mode"] = bond_mode(get("bond", "mode", "balance-rr"))  # NM's default mode
        fields["bond_options"] = list(options.items())
    elif kind == "bridge":
        bridge = groups.get("bridge", {})
        fields["bridge_stp"] = truth(bridge.get("stp", ("true", 0))[0])  # NM's default is STP on
        fields["bridge_options"] = [(BRIDGE_NAMES.get(k, k.replace("-", "_")),
                                     seconds(v) if k in ("forward-delay", "hello-time", "max-age", "ageing-time")
                                     else "1" if truth(v) is True and k == "vlan-filtering" else v)
                                    for k, (v, _) in bridge.items() if k not in ("stp", "vlans", "mac-address", "[")]
        fields["vlans"] = _vlans(bridge.get("vlans"), file, out)
    elif kind == "vlan":
        fields["vlan_id"] = integer(get("vlan", "id", "0"))  # a profile without [vlan] is VLAN 0
        fields["parent"] = get("vlan", "parent")
        if get("vlan", "protocol"):
            fields["vlan_protocol"] = get("vlan", "protocol")
        if hardware.get("mac-address"):
            fields["options"] = [("parent_mac", mac(hardware["mac-address"][0]) or hardware["mac-address"][0])]
    elif kind == "vxlan":
        fields["vni"], fields["parent"] = integer(get("vxlan", "id", "")), get("vxlan", "parent")
        fields["options"] = [({"destination-port": "port"}.get(k, k), v) for k, (v, _) in groups.get("vxlan", {}).items()
                             if k in ("local", "remote", "destination-port", "learning", "ttl")]
    elif kind == "macvlan":
        fields["parent"] = get("macvlan", "parent")
        fields["options"] = [("mode", MACVLAN_MODES.get(get("macvlan", "mode", ""), get("macvlan", "mode", "")))]
    elif kind == "vrf" and get("vrf", "table"):
        fields["options"] = [("table", get("vrf", "table"))]
    port = {**groups.get("bridge-port", {}), **groups.get("bond-port", {})}
    fields["port_options"] = [(PORT_NAMES.get(k, k), ("1" if truth(v) else "0") if k == "hairpin-mode" else v)
                              for k, (v, _) in port.items() if k not in ("vlans", "[")]
    if "vlans" in port:
        fields["vlans"] = _vlans(port["vlans"], file, out)
    if name is None and kind == "loopback":
        name = "lo"
    out.devices.append(device(name, kind, "netplan" if netplan else BACKEND, file, line, why, **fields))
    return out


def _ip(groups: dict, fields: dict, file: str, out: Parsed) -> None:
    """[ipv4]/[ipv6]: addressN (also the legacy "a/p,gw" and "a/p;gw"), gateway, routeN, method."""
    addresses, routes, dhcp = [], [], []
    for family, default_prefix in (("ipv4", 24), ("ipv6", 64)):
        group = groups.get(family, {})
        if group.get("method", ("",))[0] == "auto":
            dhcp.append(family)
        legacy: list[tuple[str, str]] = []  # (gateway, key) given inside an address
        for key in _numbered(group, "address"):
            value, line = group[key]
            parts = [p.strip() for p in re.split(r"[,;]", value) if p.strip()]
            if not parts:
                continue
            text = parts[0]
            if "/" not in text:
                out.problems.append(ConfigProblem(BACKEND, file, line, f"{key}={value}: no prefix length, "
                                                  f"NetworkManager assumes /{default_prefix}"))
                text = f"{text}/{default_prefix}"
            found = address(text)
            if found is None:
                out.problems.append(ConfigProblem(BACKEND, file, line, f"{key}={value}: not an address"))
                continue
            addresses.append(found)
            if len(parts) > 1 and ip(parts[1]):
                legacy.append((ip(parts[1]), key))
        gateway = ip(group["gateway"][0]) if group.get("gateway") else None
        others = [(g, k) for g, k in legacy if g != gateway] if gateway else legacy[1:]
        if others:
            kept = f"gateway={gateway}" if gateway else f"{legacy[0][1]}'s {legacy[0][0]}"
            out.problems.append(ConfigProblem(BACKEND, file, group[others[0][1]][1], f"more than one {family} gateway "
                                              f"({', '.join(f'{g} in {k}' for g, k in others)}): kvmtui reads {kept}"))
        if gateway or legacy:
            routes.append(ConfiguredRoute("default", gateway or legacy[0][0]))
        for key in _numbered(group, "route"):
            parts = [p.strip() for p in re.split(r"[,;]", group[key][0])]
            routes.append(ConfiguredRoute(parts[0], ip(parts[1]) if len(parts) > 1 else None,
                                          integer(parts[2]) if len(parts) > 2 else None))
    fields.update(addresses=addresses, routes=routes, dhcp=dhcp)


def _numbered(group: dict, stem: str) -> list[str]:
    """address1, address2, addresses3... (NM's numbered keys) in number order."""
    found = [(int(m[2] or 0), key) for key in group if (m := re.fullmatch(rf"({stem}|{stem}e?s)(\d{{0,9}})", key))]
    return [key for _, key in sorted(found)]


def _vlans(entry: tuple[str, int] | None, file: str, out: Parsed) -> list:
    """NM's VLAN lists: "10 pvid untagged, 20-30"."""
    if not entry:
        return []
    found = []
    for item in entry[0].split(","):
        words = item.split()
        ranges, bad = vlan_ranges(words[:1], "pvid" in words, "untagged" in words)
        if bad:
            out.problems.append(ConfigProblem(BACKEND, file, entry[1], f"'{item.strip()}' is not a VLAN"))
        found += ranges
    return found


def read(root: Path) -> Parsed:
    """Every keyfile NM would load; one profile per UUID (/run first, then /etc, /usr/lib)."""
    out = Parsed()
    by_uuid: dict[str, Parsed] = {}
    for number, directory in enumerate(DIRS):
        for name in listing(root / directory, BACKEND, root, out.problems):
            path = root / directory / name
            if IGNORED.search(name) or (number != 1 and not name.endswith(".nmconnection")):
                continue
            file = shown(root, path)
            text, problem = read_text(path, BACKEND, file)
            if problem:
                out.problems.append(problem)
                continue
            try:
                info = path.stat()
            except OSError:
                continue
            if info.st_uid != 0 or info.st_mode & 0o077:
                out.problems.append(ConfigProblem(BACKEND, file, None, f"NetworkManager ignores it: mode "
                                                  f"{info.st_mode & 0o777:04o}, owner uid {info.st_uid} (it reads "
                                                  "files of root with mode 0600 only)"))
                continue
            parsed = parse(text or "", file, netplan=directory.startswith("run/") and name.startswith("netplan-"))
            out.problems += parsed.problems
            if parsed.devices:
                by_uuid[parsed.devices[0].uuid or file] = parsed  # a later directory shadows the same UUID
    for parsed in by_uuid.values():
        out.devices += parsed.devices
    out.devices = link_masters(out.devices)
    return out
