"""ifcfg-rh: /etc/sysconfig/network-scripts/ifcfg-* (with route-*, route6-*), read by
NetworkManager's ifcfg-rh plugin: NM owns them, and a change still goes through NM.

Shell variable assignments, quoted or not; NM does not run the shell, so an
unquoted `${VAR}` stays a placeholder: a problem. NM_CONTROLLED=no leaves a device
to the legacy network-scripts, not NM: it is described but not claimed.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from kvmtui.collect.netconfig.common import (
    Parsed, address, bond_mode, bond_value, control_lines, device, integer, ip, link_masters, listing, mac,
    read_text, seconds, shown, truth, vlan_of_name,
)
from kvmtui.model.netconfig import ConfiguredRoute, ConfigProblem

BACKEND = "NetworkManager"
UNCONTROLLED = "NM_CONTROLLED=no: left to network-scripts"
DIR = "etc/sysconfig/network-scripts"
KINDS = {"ethernet": "ethernet", "bond": "bond", "bridge": "bridge", "vlan": "vlan", "infiniband": "infiniband",
         "wireless": "wifi", "team": "team", "vxlan": "vxlan", "dummy": "dummy"}
BRIDGE_NAMES = {"priority": "priority", "hello_time": "hello_time", "max_age": "max_age",
                "ageing_time": "ageing_time", "forward_delay": "forward_delay", "multicast_snooping": "mcast_snooping",
                "vlan_filtering": "vlan_filtering", "default_pvid": "default_pvid", "group_fwd_mask": "group_fwd_mask"}


def variables(text: str, file: str) -> tuple[dict[str, tuple[str, int]], list[ConfigProblem]]:
    """KEY=value lines -> {KEY: (value, line)}; a placeholder or a line that is no
    assignment is a problem (and the variable is left out)."""
    bad, problems = control_lines(text, BACKEND, file)
    found: dict[str, tuple[str, int]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if number in bad or not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line)
        if not match:
            problems.append(ConfigProblem(BACKEND, file, number, "not a VARIABLE=value line"))
            continue
        key, value = match[1], match[2]
        if re.search(r"\$\{?\w", value.replace("\\$", "")) and not value.startswith("'"):
            problems.append(ConfigProblem(BACKEND, file, number, f"template placeholder in {key}={value}: "
                                          "NetworkManager does not expand shell variables"))
            continue
        try:
            words = shlex.split(value, comments=True)
        except ValueError as exc:
            problems.append(ConfigProblem(BACKEND, file, number, f"{key}: {exc}"))
            continue
        found[key] = (" ".join(words), number)
    return found, problems


def parse(text: str, file: str, routes: tuple[str, str] | None = None, routes6: tuple[str, str] | None = None) -> Parsed:
    """One ifcfg file -> its device; `routes`: (file, text) of its route- file."""
    out = Parsed()
    env, out.problems = variables(text, file)
    get = lambda key, default=None: env.get(key, (default, 0))[0]  # noqa: E731
    name = get("DEVICE") or None
    ctype = (get("TYPE") or "").lower()
    if get("BONDING_MASTER", "").lower() == "yes" or ctype == "bond":
        kind = "bond"
    elif truth(get("VLAN", "no")) or ctype == "vlan":
        kind = "vlan"
    else:
        kind = KINDS.get(ctype, ctype or "ethernet")
    fields: dict = {"profile": get("NAME") or Path(file).name.removeprefix("ifcfg-"), "uuid": get("UUID"),
                    "autostart": truth(get("ONBOOT", "yes")) is not False}
    if get("HWADDR"):
        fields["match_mac"] = mac(get("HWADDR"))
    if get("MACADDR"):
        fields["mac"] = mac(get("MACADDR"))
    if get("MTU"):
        fields["mtu"] = integer(get("MTU"))
    fields["master"] = get("MASTER") or get("BRIDGE") or get("TEAM_MASTER") or None
    _addresses(env, fields, out, file)
    if kind == "bond":
        options = dict(word.split("=", 1) for word in (get("BONDING_OPTS") or "").split() if "=" in word)
        fields["bond_mode"] = bond_mode(options.pop("mode", "balance-rr"))
        fields["bond_options"] = [(k, bond_value(k, v)) for k, v in options.items()]
    bridging = dict(word.split("=", 1) for word in (get("BRIDGING_OPTS") or "").split() if "=" in word)
    if kind == "bridge":
        fields["bridge_stp"] = truth(get("STP", "yes"))  # ifcfg-rh's default, as NM's, is STP on
        timers = ("hello_time", "max_age", "forward_delay", "ageing_time")  # seconds, as BRIDGING_OPTS says them
        options = {BRIDGE_NAMES.get(k, k): seconds(v) if k in timers else v for k, v in bridging.items()}
        if get("DELAY") is not None:
            options["forward_delay"] = seconds(get("DELAY"))
        fields["bridge_options"] = list(options.items())
    elif bridging:  # a port's own settings
        fields["port_options"] = [({"path_cost": "cost", "hairpin_mode": "hairpin"}.get(k, k), v)
                                  for k, v in bridging.items()]
    if get("BOND_PORT_QUEUE_ID"):
        fields["port_options"] = [("queue_id", get("BOND_PORT_QUEUE_ID"))]
    if kind == "vlan":
        implied_parent, implied_id = vlan_of_name(name or "")
        fields["parent"] = get("PHYSDEV") or implied_parent
        fields["vlan_id"] = integer(get("VLAN_ID")) if get("VLAN_ID") else implied_id
        if get("VLAN_PROTOCOL"):
            fields["vlan_protocol"] = get("VLAN_PROTOCOL")
        if fields["vlan_id"] is None:
            out.problems.append(ConfigProblem(BACKEND, file, None, f"VLAN {name}: no VLAN_ID and none in its name"))
        fields["options"] = [(k.lower(), get(k)) for k in ("VLAN_FLAGS", "VLAN_INGRESS_PRIORITY_MAP",
                                                           "VLAN_EGRESS_PRIORITY_MAP") if get(k)]
    for extra in (routes, routes6):
        if extra:
            fields["routes"] = fields.get("routes", []) + _routes(*extra, out)
    if name is None and not fields.get("match_mac"):
        out.problems.append(ConfigProblem(BACKEND, file, None, "neither DEVICE nor HWADDR: kvmtui cannot tell its device"))
    controlled = truth(get("NM_CONTROLLED", "yes")) is not False
    why = f"NM ifcfg-rh profile '{fields['profile']}'" if controlled else UNCONTROLLED
    line = min((n for _, n in env.values()), default=1)
    out.devices.append(device(name, kind, BACKEND, file, line, why, **fields))
    return out


def _addresses(env: dict, fields: dict, out: Parsed, file: str) -> None:
    get = lambda key: env.get(key, (None, 0))[0]  # noqa: E731
    found, routes = [], []
    for suffix in [""] + [str(n) for n in range(256)]:
        value = get(f"IPADDR{suffix}")
        if not value:
            continue
        mask = get(f"PREFIX{suffix}") or get(f"NETMASK{suffix}") or "32"
        text = address(value, mask)
        if text is None:
            out.problems.append(ConfigProblem(BACKEND, file, env[f"IPADDR{suffix}"][1],
                                              f"IPADDR{suffix}={value} (mask {mask}) is not an address"))
        else:
            found.append(text)
    for word in (get("IPV6ADDR") or "").split() + (get("IPV6ADDR_SECONDARIES") or "").split():
        text = address(word if "/" in word else f"{word}/64")
        if text:
            found.append(text)
    for key in ("GATEWAY", "IPV6_DEFAULTGW"):
        gateway = ip((get(key) or "").split("%")[0]) if get(key) else None
        if gateway:
            routes.append(ConfiguredRoute("default", gateway))
    dhcp = ["ipv4"] if (get("BOOTPROTO") or "").lower() in ("dhcp", "bootp") else []
    if truth(get("IPV6INIT") or "no") and truth(get("DHCPV6C") or "no"):
        dhcp.append("ipv6")
    fields.update(addresses=found, routes=routes, dhcp=dhcp)


def _routes(file: str, text: str, out: Parsed) -> list[ConfiguredRoute]:
    """A route- file: `ip route` lines ("10.0.0.0/8 via 192.0.2.1 metric 5") or ADDRESSn=/NETMASKn=/GATEWAYn=."""
    routes = []
    env, problems = variables(text, file) if re.search(r"^\s*ADDRESS\d+=", text, re.M) else ({}, [])
    out.problems += problems
    for number in range(256):
        if f"ADDRESS{number}" in env:
            dst = address(env[f"ADDRESS{number}"][0], env.get(f"NETMASK{number}", ("32", 0))[0])
            via = ip(env[f"GATEWAY{number}"][0]) if f"GATEWAY{number}" in env else None
            routes.append(ConfiguredRoute(dst or env[f"ADDRESS{number}"][0], via))
    if env:
        return routes
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#")[0].split()
        if not words:
            continue
        options = dict(zip(words[1::2], words[2::2]))
        dst = "default" if words[0] == "default" else address(words[0])
        if dst is None:
            out.problems.append(ConfigProblem(BACKEND, file, number, f"'{words[0]}' is not a destination"))
            continue
        routes.append(ConfiguredRoute(dst, ip(options["via"]) if "via" in options else None,
                                      integer(options.get("metric", "")), integer(options.get("table", ""))))
    return routes


def read_directory(directory: Path, root: Path) -> Parsed:
    """Every ifcfg-* of a directory, each with its route-/route6- file."""
    out = Parsed()
    names = listing(directory, BACKEND, root, out.problems)
    for name in names:
        if not name.startswith("ifcfg-") or name == "ifcfg-lo" or re.search(r"~$|\.(bak|orig|rpmnew|rpmsave)$", name):
            continue
        suffix = name.removeprefix("ifcfg-")
        texts = {}
        for prefix in ("ifcfg-", "route-", "route6-"):
            if f"{prefix}{suffix}" in names:
                file = shown(root, directory / f"{prefix}{suffix}")
                text, problem = read_text(directory / f"{prefix}{suffix}", BACKEND, file)
                if problem:
                    out.problems.append(problem)
                elif text is not None:
                    texts[prefix] = (file, text)
        if "ifcfg-" in texts:
            parsed = parse(texts["ifcfg-"][1], texts["ifcfg-"][0], texts.get("route-"), texts.get("route6-"))
            out.problems += parsed.problems
            out.devices += parsed.devices
    out.devices = link_masters(out.devices)
    return out


def read(root: Path) -> Parsed:
    return read_directory(root / DIR, root)
