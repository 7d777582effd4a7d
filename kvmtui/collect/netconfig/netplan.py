"""netplan: /{lib,etc,run}/netplan/*.yaml, read with ruamel.yaml (its line numbers, and the
writers will keep comments and order).

netplan merges every file in lexical order of the file name (a name in /run shadows
the same in /etc, which shadows /lib): a later file adds keys to a device or overrides
them. Each device is rendered for systemd-networkd or NetworkManager (`renderer`, per
device, per type block or global; networkd by default); netplan owns it either way,
since `netplan generate` rewrites what it rendered. What `netplan generate` would
refuse (a port that no device defines, a VLAN without id) is a problem.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from kvmtui.collect.netconfig.common import (
    Parsed, address, bond_mode, bond_value, control_lines, device, exists, integer, ip, link_masters,
    listing, mac, milliseconds, read_text, seconds, shown, truth, vlan_ranges,
)
from kvmtui.model.netconfig import ConfiguredRoute, ConfigProblem

BACKEND = "netplan"
DIRS = ("lib/netplan", "etc/netplan", "run/netplan")  # later shadows earlier, by file name
KINDS = {"ethernets": "ethernet", "bonds": "bond", "bridges": "bridge", "vlans": "vlan", "tunnels": "tunnel",
         "vrfs": "vrf", "wifis": "wifi", "modems": "modem", "dummy-devices": "dummy",
         "virtual-ethernets": "veth", "nm-devices": "nm-device"}
RENDERERS = {"networkd": "networkd", "NetworkManager": "NetworkManager", "sriov": "networkd"}
BOND_NAMES = {"mii-monitor-interval": "miimon", "lacp-rate": "lacp_rate", "transmit-hash-policy": "xmit_hash_policy",
              "min-links": "min_links", "up-delay": "updelay", "down-delay": "downdelay", "ad-select": "ad_select",
              "arp-interval": "arp_interval", "arp-ip-targets": "arp_ip_target", "arp-validate": "arp_validate",
              "arp-all-targets": "arp_all_targets", "fail-over-mac-policy": "fail_over_mac",
              "gratuitous-arp": "num_grat_arp", "gratuitious-arp": "num_grat_arp",  # netplan accepts the misspelling
              "packets-per-slave": "packets_per_slave", "primary-reselect-policy": "primary_reselect",
              "resend-igmp": "resend_igmp", "learn-packet-interval": "lp_interval", "primary": "primary",
              "all-slaves-active": "all_slaves_active"}
BOND_MS = {"miimon", "updelay", "downdelay", "arp_interval"}
BRIDGE_NAMES = {"forward-delay": "forward_delay", "hello-time": "hello_time", "max-age": "max_age",
                "ageing-time": "ageing_time", "aging-time": "ageing_time", "priority": "priority",
                "vlan-filtering": "vlan_filtering", "vlan-default-pvid": "default_pvid"}
BRIDGE_SECONDS = {"forward_delay", "hello_time", "max_age", "ageing_time"}


def load(text: str, file: str) -> tuple[object, list[ConfigProblem]]:
    """One file's YAML tree (ruamel's round-trip maps, which know their lines), or problems.
    Where the round-trip loader trips over its own comment handling, the safe one reads
    the file without line numbers."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    bad, problems = control_lines(text, BACKEND, file)
    if bad:
        return None, problems
    failure = ""
    for typ in ("rt", "safe"):
        try:
            return YAML(typ=typ, pure=True).load(text), []
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            what = " ".join(str(getattr(exc, "problem", None) or exc).split())
            return None, [ConfigProblem(BACKEND, file, mark.line + 1 if mark else None, f"not YAML: {what}")]
        except RecursionError:
            return None, [ConfigProblem(BACKEND, file, None, "not YAML netplan reads: nested too deeply")]
        except (ValueError, TypeError, OverflowError) as exc:  # a value it cannot construct (5,000 digits)
            return None, [ConfigProblem(BACKEND, file, None, f"not YAML netplan reads: {exc}")]
        except Exception as exc:  # noqa: BLE001 - ruamel's round-trip loader has bugs of its own
            failure = f"{type(exc).__name__}: {exc}"
    return None, [ConfigProblem(BACKEND, file, None, f"ruamel.yaml cannot read it: {failure}")]


def _line(mapping: object, key: object) -> int | None:
    try:
        return mapping.lc.key(key)[0] + 1
    except (AttributeError, KeyError, TypeError):
        return None


def _merge(old: dict, new: dict) -> dict:
    merged = dict(old)
    for key, value in new.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def parse(texts: list[tuple[str, str]]) -> Parsed:
    """(file, text) pairs in netplan's order -> the devices their merge describes."""
    out = Parsed()
    defs: dict[tuple[str, str], dict] = {}  # (type, id) -> where defined, merged conf, type block's renderer, key lines
    renderer = "networkd"
    for file, text in texts:
        tree, problems = load(text, file)
        out.problems += problems
        if tree is None:
            continue
        if not isinstance(tree, dict):
            out.problems.append(ConfigProblem(BACKEND, file, 1, "not a netplan file: no 'network:' mapping"))
            continue
        network = tree.get("network")
        if network is None:
            continue  # an empty or commented-out file
        if not isinstance(network, dict):
            out.problems.append(ConfigProblem(BACKEND, file, _line(tree, "network"), "'network:' is not a mapping"))
            continue
        if "version" in network and str(network["version"]) != "2":
            out.problems.append(ConfigProblem(BACKEND, file, _line(network, "version"),
                                              f"version {network['version']}: netplan reads version 2 only"))
        if "renderer" in network:
            renderer = _renderer(network["renderer"], file, _line(network, "renderer"), out, renderer)
        for key, block in network.items():
            if key in ("version", "renderer"):
                continue
            if key not in KINDS:
                out.problems.append(ConfigProblem(BACKEND, file, _line(network, key), f"unknown key '{key}'"))
                continue
            if not isinstance(block, dict):
                out.problems.append(ConfigProblem(BACKEND, file, _line(network, key), f"'{key}:' is not a mapping"))
                continue
            block_renderer = _renderer(block.get("renderer"), file, _line(block, "renderer"), out, None) \
                if "renderer" in block else None
            for ident, conf in block.items():
                if ident == "renderer":
                    continue
                line = _line(block, ident) or 1
                if conf is None:
                    conf = {}
                if not isinstance(conf, dict):
                    out.problems.append(ConfigProblem(BACKEND, file, line, f"{key}: {ident}: not a mapping"))
                    continue
                entry = defs.setdefault((key, str(ident)), {"where": [], "conf": {}, "renderer": None, "lines": {}})
                entry["where"].append((file, line))
                entry["conf"] = _merge(entry["conf"], conf)
                entry["lines"].update({k: (file, _line(conf, k) or line) for k in conf})
                if block_renderer:
                    entry["renderer"] = block_renderer
    for (key, ident), entry in defs.items():
        _device(key, ident, entry, renderer, out)
    out.devices = link_masters(out.devices)
    _check_members(defs, out)
    return out


def _renderer(value: object, file: str, line: int | None, out: Parsed, default: str | None) -> str | None:
    if str(value) in RENDERERS:
        return RENDERERS[str(value)]
    out.problems.append(ConfigProblem(BACKEND, file, line, f"unknown renderer '{value}'"))
    return default


def _device(key: str, ident: str, entry: dict, global_renderer: str, out: Parsed) -> None:
    conf, where = entry["conf"], entry["where"]
    file, line = where[-1]

    def problem(field: str, message: str) -> None:
        at = entry["lines"].get(field, (file, line))
        out.problems.append(ConfigProblem(BACKEND, at[0], at[1], f"{ident}: {message}"))

    renderer = RENDERERS.get(str(conf.get("renderer")), entry["renderer"] or global_renderer)
    kind = KINDS[key]
    fields: dict = {"profile": ident, "more_files": [f"{f}:{n}" for f, n in where[:-1]]}
    name: str | None = ident
    match = conf.get("match")
    if isinstance(match, dict):
        name = str(conf["set-name"]) if conf.get("set-name") else None
        if match.get("name"):
            if name is None and not any(c in str(match["name"]) for c in "*?["):
                name = str(match["name"])
            else:
                fields["match_names"] = [str(match["name"])]
        if match.get("macaddress"):
            fields["match_mac"] = mac(match["macaddress"])
    if name == "lo" and kind == "ethernet":
        kind = "loopback"
    _addresses(conf, fields, problem)
    if conf.get("mtu") is not None:
        fields["mtu"] = integer(conf["mtu"])
    if conf.get("macaddress"):
        fields["mac"] = mac(conf["macaddress"])
    if str(conf.get("activation-mode", "")) in ("off", "manual"):
        fields["autostart"] = False
    if kind in ("bond", "bridge", "vrf"):
        fields["ports"] = [str(p) for p in _sequence(conf, "interfaces", problem)]
    params = conf.get("parameters") if isinstance(conf.get("parameters"), dict) else {}
    if kind == "bond":
        _bond(params, fields)
    elif kind == "bridge":
        _bridge(params, fields, problem, out)
    elif kind == "vlan":
        fields["vlan_id"] = integer(conf.get("id", ""))
        if fields["vlan_id"] is None or not 0 <= fields["vlan_id"] <= 4094:
            problem("id", f"a VLAN needs 'id:' 0-4094 (has {conf.get('id')!r}): netplan generate refuses it")
        if not conf.get("link"):
            problem("link", "a VLAN needs 'link:': netplan generate refuses it")
        fields["parent"] = str(conf["link"]) if conf.get("link") else None
    elif kind == "tunnel":
        kind = str(conf.get("mode") or "tunnel")
        fields["parent"] = str(conf["link"]) if conf.get("link") else None
        if kind == "vxlan":
            fields["vni"] = integer(conf.get("id", ""))
        options = {k: str(conf[k]) for k in ("local", "remote", "port", "ttl", "tos") if conf.get(k) is not None}
        if conf.get("mac-learning") is not None:
            options["learning"] = "1" if truth(conf["mac-learning"]) else "0"
        fields["options"] = list(options.items())
    elif kind == "vrf":
        fields["options"] = [("table", str(conf["table"]))] if conf.get("table") is not None else []
    out.devices.append(device(name, kind, BACKEND, file, line, f"netplan renderer {renderer}", **fields))


def _sequence(conf: dict, key: str, problem) -> list:
    """A list-valued key ("addresses", "routes", "interfaces"); anything else is a problem."""
    value = conf.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        problem(key, f"'{key}:' is not a list: netplan generate refuses it")
        return []
    return value


def _addresses(conf: dict, fields: dict, problem) -> None:
    found = []
    for item in _sequence(conf, "addresses", problem):
        text = next(iter(item), None) if isinstance(item, dict) else item  # {"10.0.0.1/24": {label: ...}}
        value = address(str(text)) if text is not None and "/" in str(text) else None
        if value is None:
            problem("addresses", f"'{text}' is not an address with a prefix length: netplan generate refuses it")
        else:
            found.append(value)
    fields["addresses"] = found
    fields["dhcp"] = [family for key, family in (("dhcp4", "ipv4"), ("dhcp6", "ipv6")) if truth(conf.get(key))]
    routes = []
    for key in ("gateway4", "gateway6"):
        if conf.get(key):
            routes.append(ConfiguredRoute("default", ip(conf[key]) or str(conf[key])))
    for route in _sequence(conf, "routes", problem):
        if not isinstance(route, dict) or not route.get("to"):
            problem("routes", f"a route needs 'to:': {route!r}")
            continue
        to = str(route["to"])
        routes.append(ConfiguredRoute("default" if to in ("default", "0.0.0.0/0", "::/0") else to,
                                      str(route["via"]) if route.get("via") else None,
                                      integer(route.get("metric", "")), integer(route.get("table", ""))))
    fields["routes"] = routes


def _bond(params: dict, fields: dict) -> None:
    options = {}
    for key, value in params.items():
        if key == "mode":
            fields["bond_mode"] = bond_mode(value)
            continue
        name = BOND_NAMES.get(str(key), str(key).replace("-", "_"))
        if isinstance(value, list):
            options[name] = ",".join(map(str, value))
        else:
            options[name] = milliseconds(value) if name in BOND_MS else bond_value(name, value)
    fields["bond_options"] = list(options.items())


def _bridge(params: dict, fields: dict, problem, out: Parsed) -> None:
    options = {}
    ports: dict[str, dict] = out.extra.setdefault("ports", {})  # a port's own settings, put on its device later
    fields["bridge_stp"] = truth(params.get("stp", True))  # netplan's default is STP on
    for key, value in params.items():
        if key in ("path-cost", "port-priority") and isinstance(value, dict):
            for port, number in value.items():
                ports.setdefault(str(port), {"options": [], "vlans": []})["options"].append(
                    ("cost" if key == "path-cost" else "priority", str(number)))
        elif key == "vlans":
            fields["vlans"] = _vlans(value, problem)
        elif key == "port-vlans" and isinstance(value, dict):
            for port, words in value.items():
                ports.setdefault(str(port), {"options": [], "vlans": []})["vlans"] += _vlans(words, problem)
        elif key != "stp":
            name = BRIDGE_NAMES.get(str(key), str(key).replace("-", "_"))
            options[name] = seconds(value) if name in BRIDGE_SECONDS else \
                ("1" if truth(value) else "0") if isinstance(value, bool) else str(value)
    fields["bridge_options"] = list(options.items())


def _vlans(value: object, problem) -> list:
    """netplan's VLAN words: "10 pvid untagged", "4000-4094"."""
    found = []
    for item in value if isinstance(value, list) else [value]:
        words = str(item).split()
        ranges, bad = vlan_ranges(words[:1], "pvid" in words[1:], "untagged" in words[1:])
        if bad or not ranges or set(words[1:]) - {"pvid", "untagged"}:
            problem("parameters", f"'{item}' is not a VLAN, a range, 'pvid' or 'untagged'")
        found += ranges
    return found


def _check_members(defs: dict, out: Parsed) -> None:
    """Ports named by a bond, bridge or VRF must be defined (netplan refuses the config
    otherwise); a port's own bridge settings land on its device."""
    defined = {ident for _, ident in defs} | {d.name for d in out.devices if d.name}
    ports = out.extra.pop("ports", {})
    devices = []
    for dev in out.devices:
        for port in dev.ports:
            if port not in defined:
                out.problems.append(ConfigProblem(BACKEND, dev.file, dev.line, f"{dev.profile}: names {port}, which "
                                                  "no device defines: netplan generate refuses it"))
        own = ports.get(dev.profile or "")
        if own:
            dev = replace(dev, port_options=dev.port_options + tuple(own["options"]), vlans=dev.vlans + tuple(own["vlans"]))
        devices.append(dev)
    out.devices = devices


def in_use(root: Path) -> tuple[bool, str]:
    """netplan acts at boot through its systemd generator."""
    found = exists(root, "/usr/lib/systemd/system-generators/netplan", "/lib/systemd/system-generators/netplan",
                   "/usr/sbin/netplan", "/sbin/netplan")
    return (True, f"netplan installed ({found})") if found else (False, "netplan is not installed")


def read(root: Path) -> Parsed:
    """Every netplan file under root, in netplan's order."""
    out = Parsed()
    chosen: dict[str, Path] = {}
    for directory in DIRS:
        for name in listing(root / directory, BACKEND, root, out.problems):
            if name.endswith(".yaml"):
                chosen[name] = root / directory / name
    texts = []
    for name in sorted(chosen):
        text, problem = read_text(chosen[name], BACKEND, shown(root, chosen[name]))
        if problem:
            out.problems.append(problem)
        elif text is not None:
            texts.append((shown(root, chosen[name]), text))
    out.add(parse(texts))
    return out
