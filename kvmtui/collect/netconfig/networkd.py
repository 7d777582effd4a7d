"""systemd-networkd: *.netdev and *.network in /etc, /run, /usr/local/lib, /usr/lib
systemd/network; a file name in an earlier directory masks the same name later (an
empty file or a link to /dev/null disables it), then all are read in lexical order
of the file name.

Plain text, not configparser: keys repeat (several `Address=`, several [Address]
sections), an empty value resets a list. A .netdev creates a device; the first
.network (in that order) whose [Match] matches an interface configures it and is
networkd's claim on it. What networkd ignores (a VLAN without Id=, an [Address]
section with an invalid value) is a problem.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from kvmtui.collect.netconfig.common import (
    Parsed, address, bond_mode, bond_value, control_lines, device, exists, integer, ip, link_masters, listing, mac,
    milliseconds, read_text, seconds, shown, truth, vlan_ranges,
)
from kvmtui.model.netconfig import ConfiguredRoute, ConfigProblem

BACKEND = "systemd-networkd"
DIRS = ("etc/systemd/network", "run/systemd/network", "usr/local/lib/systemd/network", "usr/lib/systemd/network",
        "lib/systemd/network")  # an earlier directory masks the same file name in a later one
BOND_NAMES = {"TransmitHashPolicy": "xmit_hash_policy", "LACPTransmitRate": "lacp_rate", "MIIMonitorSec": "miimon",
              "UpDelaySec": "updelay", "DownDelaySec": "downdelay", "LearnPacketIntervalSec": "lp_interval",
              "AdSelect": "ad_select", "AdActorSystemPriority": "ad_actor_sys_prio", "AdUserPortKey": "ad_user_port_key",
              "AdActorSystem": "ad_actor_system", "FailOverMACPolicy": "fail_over_mac", "ARPValidate": "arp_validate",
              "ARPIntervalSec": "arp_interval", "ARPIPTargets": "arp_ip_target", "ARPAllTargets": "arp_all_targets",
              "PrimaryReselectPolicy": "primary_reselect", "ResendIGMP": "resend_igmp",
              "PacketsPerSlave": "packets_per_slave", "GratuitousARP": "num_grat_arp",
              "AllSlavesActive": "all_slaves_active", "DynamicTransmitLoadBalancing": "tlb_dynamic_lb",
              "MinLinks": "min_links", "PeerNotifyDelaySec": "peer_notif_delay"}
BRIDGE_NAMES = {"HelloTimeSec": "hello_time", "MaxAgeSec": "max_age", "ForwardDelaySec": "forward_delay",
                "AgeingTimeSec": "ageing_time", "Priority": "priority", "MulticastQuerier": "mcast_querier",
                "MulticastSnooping": "mcast_snooping", "VLANFiltering": "vlan_filtering", "DefaultPVID": "default_pvid",
                "IGMPVersion": "mcast_igmp_version", "VLANProtocol": "vlan_protocol", "GroupForwardMask": "group_fwd_mask"}
PORT_NAMES = {"Cost": "cost", "Priority": "priority", "HairPin": "hairpin", "Learning": "learning",
              "UseBPDU": "guard", "Isolated": "isolated", "UnicastFlood": "flood", "MulticastFlood": "mcast_flood"}
MATCH_KEYS = ("Name", "MACAddress", "PermanentMACAddress", "Type", "Kind", "Driver", "Path", "Property", "Host",
              "Virtualization", "KernelCommandLine", "KernelVersion", "Architecture", "Firmware", "Credential",
              "SSID", "BSSID", "WLANInterfaceType")

Section = tuple[str, int, list[tuple[str, str, int]]]


def sections(text: str, file: str) -> tuple[list[Section], list[ConfigProblem]]:
    """[Section] Key=Value text -> [(section, line, [(key, value, line)])], in order."""
    bad, problems = control_lines(text, BACKEND, file)
    found: list[Section] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if number in bad or (not pending and (not line or line[0] in "#;")):
            continue
        if line.endswith("\\"):
            pending, start = pending + line[:-1] + " ", start or number
            continue
        line, start, pending = pending + line, start or number, ""
        if line.startswith("[") and line.endswith("]"):
            found.append((line[1:-1], start, []))
        elif "=" in line and found:
            key, value = line.split("=", 1)
            found[-1][2].append((key.strip(), value.strip(), start))
        else:
            problems.append(ConfigProblem(BACKEND, file, start, "an assignment outside any [section]" if "=" in line
                                          else "not a [section] or Key=value line: systemd-networkd ignores it"))
        start = 0
    return found, problems


def _values(found: list[Section], section: str, key: str) -> list[tuple[str, int]]:
    """Every value of a key in every such section, an empty one resetting the list."""
    values: list[tuple[str, int]] = []
    for name, _, pairs in found:
        if name == section:
            for k, v, line in pairs:
                if k == key:
                    values = [] if v == "" else values + [(v, line)]
    return values


def _last(found: list[Section], section: str, key: str) -> str | None:
    values = _values(found, section, key)
    return values[-1][0] if values else None


def match_of(found: list[Section]) -> dict[str, list[str]]:
    """[Match] conditions: key -> words (Name= globs, `!` before the first negates them all)."""
    return {key: [w for value, _ in _values(found, "Match", key) for w in value.split()] for key in MATCH_KEYS
            if _values(found, "Match", key)}


def parse_netdev(text: str, file: str) -> Parsed:
    out = Parsed()
    found, out.problems = sections(text, file)
    name, kind = _last(found, "NetDev", "Name"), _last(found, "NetDev", "Kind")
    line = next((n for s, n, _ in found if s == "NetDev"), 1)
    if not name or not kind:
        out.problems.append(ConfigProblem(BACKEND, file, line, "a .netdev needs [NetDev] Name= and Kind=: "
                                          "systemd-networkd ignores it"))
        return out
    fields: dict = {"profile": Path(file).name}
    if _last(found, "NetDev", "MTUBytes"):
        fields["mtu"] = integer(_last(found, "NetDev", "MTUBytes"))
    if _last(found, "NetDev", "MACAddress"):
        fields["mac"] = mac(_last(found, "NetDev", "MACAddress"))
    section = {"bond": "Bond", "bridge": "Bridge", "vlan": "VLAN", "vxlan": "VXLAN", "vrf": "VRF",
               "macvlan": "MACVLAN"}.get(kind)
    pairs = [(k, v) for s, _, p in found if s == section for k, v, _ in p]
    if kind == "bond":
        options = {BOND_NAMES.get(k, k): (milliseconds(v, "s") if k.endswith("Sec") else bond_value(BOND_NAMES.get(k, k), v))
                   for k, v in pairs if k != "Mode"}
        fields["bond_mode"] = bond_mode(_last(found, "Bond", "Mode") or "balance-rr")
        fields["bond_options"] = list(options.items())
    elif kind == "bridge":
        stp = _last(found, "Bridge", "STP")
        fields["bridge_stp"] = truth(stp) if stp is not None else False  # networkd leaves the kernel's default: off
        fields["bridge_options"] = [(BRIDGE_NAMES.get(k, k), seconds(v) if k.endswith("Sec") else
                                     ("1" if truth(v) else "0") if truth(v) is not None and not v.isdigit() else v)
                                    for k, v in pairs if k != "STP"]
    elif kind == "vlan":
        vid = _last(found, "VLAN", "Id")
        fields["vlan_id"] = integer(vid) if vid is not None else None
        if fields["vlan_id"] is None or not 0 <= fields["vlan_id"] <= 4094:
            out.problems.append(ConfigProblem(BACKEND, file, line, f"VLAN {name} has no valid [VLAN] Id=: "
                                              "systemd-networkd ignores this .netdev"))
        if _last(found, "VLAN", "Protocol"):
            fields["vlan_protocol"] = _last(found, "VLAN", "Protocol")
    elif kind == "vxlan":
        fields["vni"] = integer(_last(found, "VXLAN", "VNI") or _last(found, "VXLAN", "Id") or "")
        names = {"Local": "local", "Remote": "remote", "Group": "group", "DestinationPort": "port",
                 "MacLearning": "learning", "Independent": "independent", "TTL": "ttl"}
        fields["options"] = [(names[k], ("1" if truth(v) else "0") if k in ("MacLearning", "Independent") else v)
                             for k, v in pairs if k in names]
    elif kind == "vrf":
        fields["options"] = [("table", _last(found, "VRF", "Table") or "")]
    elif kind == "macvlan" and _last(found, "MACVLAN", "Mode"):
        fields["options"] = [("mode", _last(found, "MACVLAN", "Mode") or "")]
    out.devices.append(device(name, kind, BACKEND, file, line, f"networkd .netdev {Path(file).name}", **fields))
    return out


def parse_network(text: str, file: str) -> Parsed:
    """A .network -> the device it configures (name None when its [Match] is a glob or a
    MAC); `extra` carries its [Match], Unmanaged= and the devices it names with VLAN= etc."""
    out = Parsed()
    found, out.problems = sections(text, file)
    match = match_of(found)
    names = match.get("Name", [])
    literal = names[0] if len(names) == 1 and not re.search(r"[*?\[!]", names[0]) else None
    line = next((n for s, n, _ in found if s == "Match"), 1)
    fields: dict = {"profile": Path(file).name}
    if not literal and names:
        fields["match_names"] = names
    macs = match.get("MACAddress") or match.get("PermanentMACAddress")
    if macs:
        fields["match_mac"] = mac(macs[0])
    if _last(found, "Link", "MTUBytes"):
        fields["mtu"] = integer(_last(found, "Link", "MTUBytes"))
    if _last(found, "Link", "MACAddress"):
        fields["mac"] = mac(_last(found, "Link", "MACAddress"))
    fields["master"] = _last(found, "Network", "Bridge") or _last(found, "Network", "Bond") or _last(found, "Network", "VRF")
    dhcp = (_last(found, "Network", "DHCP") or "no").lower()
    fields["dhcp"] = [f for f in ("ipv4", "ipv6") if dhcp in ("yes", "true", "1", "on", f)]
    addresses, routes = [], []
    for value, number in _values(found, "Network", "Address"):
        text_ = address(value)
        if text_ is None or "/" not in value:
            out.problems.append(ConfigProblem(BACKEND, file, number, f"Address={value} is not an address with a prefix "
                                              "length: systemd-networkd ignores it"))
        else:
            addresses.append(text_)
    for value, number in _values(found, "Network", "Gateway"):
        routes.append(ConfiguredRoute("default", ip(value) or value))
    for name, number, pairs in found:
        keys = {k: v for k, v, _ in pairs}
        if name == "Address":
            local, peer = address(keys.get("Address", "")), keys.get("Peer")
            if local is None or "/" not in keys.get("Address", "") or (peer is not None and address(peer) is None):
                out.problems.append(ConfigProblem(BACKEND, file, number, "an [Address] section with an invalid Address= "
                                                  "or Peer=: systemd-networkd ignores the section"))
            else:
                addresses.append(local)
        elif name == "Route":
            dst = keys.get("Destination") or "default"
            routes.append(ConfiguredRoute("default" if dst in ("0.0.0.0/0", "::/0") else dst,
                                          ip(keys["Gateway"]) if keys.get("Gateway") else None,
                                          integer(keys.get("Metric", "")), integer(keys.get("Table", ""))))
    fields.update(addresses=addresses, routes=routes)
    vlans = []
    for value, number in _values(found, "BridgeVLAN", "VLAN"):
        ranges, bad = vlan_ranges(value)
        vlans += ranges
        for word in bad:
            out.problems.append(ConfigProblem(BACKEND, file, number, f"VLAN={word} is not a VLAN or a range"))
    for key, flags in (("PVID", (True, False)), ("EgressUntagged", (False, True))):
        for value, _ in _values(found, "BridgeVLAN", key):
            vlans += vlan_ranges(value, *flags)[0]
    fields["vlans"] = vlans
    fields["port_options"] = [(PORT_NAMES[k], ("1" if truth(v) else "0") if truth(v) is not None and not v.isdigit() else v)
                              for s, _, p in found if s == "Bridge" for k, v, _ in p if k in PORT_NAMES]
    if truth(_last(found, "Network", "PrimarySlave") or "no"):
        fields["port_options"].append(("primary", "1"))
    unmanaged = truth(_last(found, "Link", "Unmanaged") or "no") is True
    why = f"networkd {Path(file).name} [Match] " + " ".join(f"{k}={' '.join(v)}" for k, v in match.items())
    out.devices.append(device(literal, "ethernet", BACKEND, file, line, why.rstrip(), **fields))
    stacked = {key: [w for value, _ in _values(found, "Network", key) for w in value.split()]
               for key in ("VLAN", "VXLAN", "MACVLAN", "MACVTAP", "IPVLAN", "Tunnel")}
    out.extra = {"match": match, "unmanaged": unmanaged, "stacked": stacked}
    return out


def combine(netdevs: list[Parsed], networks: list[Parsed], matches) -> Parsed:
    """Each .netdev with the first .network matching its name; a .network naming VLAN=x
    is x's parent. `matches(match, name)` says whether a [Match] takes a device name."""
    out = Parsed()
    used: set[int] = set()
    parents: dict[str, str] = {}
    for number, network in enumerate(networks):
        out.problems += network.problems
        dev = network.devices[0] if network.devices else None
        for words in network.extra.get("stacked", {}).values():
            for word in words:
                if dev is not None and dev.name:
                    parents.setdefault(word, dev.name)
    for netdev in netdevs:
        out.problems += netdev.problems
        for dev in netdev.devices:
            chosen = next((n for n, net in enumerate(networks) if net.devices and matches(net.extra["match"], dev.name)),
                          None)
            if chosen is not None:
                used.add(chosen)
                net = networks[chosen].devices[0]
                dev = replace(dev, more_files=(f"{net.file}:{net.line}",), master=net.master,
                              addresses=net.addresses, routes=net.routes, dhcp=net.dhcp, vlans=dev.vlans + net.vlans,
                              port_options=net.port_options, mtu=net.mtu or dev.mtu)
            if dev.kind in ("vlan", "vxlan", "macvlan", "macvtap", "ipvlan") and dev.name in parents:
                dev = replace(dev, parent=parents[dev.name])
            out.devices.append(dev)
    first: dict[str, str] = {}  # a literal Name= -> the .network that takes it first
    for number, net in enumerate(networks):
        dev = net.devices[0] if net.devices else None
        if dev is None:
            continue
        if dev.name and set(net.extra["match"]) == {"Name"}:
            if number in used:
                first.setdefault(dev.name, dev.file)
                continue
            if dev.name in first:
                out.problems.append(ConfigProblem(BACKEND, dev.file, dev.line, f"never applies to {dev.name}: "
                                                  f"{first[dev.name]} matches it first"))
                continue
            first[dev.name] = dev.file
        if number not in used:
            out.devices.append(dev)
    out.devices = link_masters(out.devices)
    return out


def files(root: Path, problems: list[ConfigProblem]) -> list[Path]:
    """The .netdev and .network files networkd reads, masked ones left out, in its order."""
    chosen: dict[str, Path] = {}
    for directory in DIRS:
        for name in listing(root / directory, BACKEND, root, problems):
            if name.endswith((".netdev", ".network")) and name not in chosen:
                chosen[name] = root / directory / name
    kept = []
    for name in sorted(chosen):
        path = chosen[name]
        try:
            masked = os.path.realpath(path) == "/dev/null" or path.stat().st_size == 0
        except OSError:
            masked = True
        if not masked:
            kept.append(path)
    return kept


def in_use(root: Path) -> tuple[bool, str]:
    found = exists(root, "/run/systemd/netif/state")  # networkd's own (tmpfiles makes the directories)
    if found:
        return True, f"systemd-networkd runs ({found})"
    for wants in ("multi-user.target.wants", "network-online.target.wants", "sysinit.target.wants"):
        found = exists(root, f"/etc/systemd/system/{wants}/systemd-networkd.service")
        if found:
            return True, f"systemd-networkd.service enabled ({found})"
    return False, "systemd-networkd.service is not enabled"


def link_states(root: Path, ifindexes: dict[int, str]) -> dict[str, tuple[str | None, str | None, str]]:
    """ifname -> (ADMIN_STATE, NETWORK_FILE, state file) from networkd's run state, what
    `networkctl` shows: the .network it applied, or "unmanaged"."""
    found = {}
    try:
        present = set(os.listdir(root / "run/systemd/netif/links"))
    except OSError:
        return found
    for index, name in ifindexes.items():
        path = root / "run/systemd/netif/links" / str(index)
        if str(index) not in present:
            continue
        text, _ = read_text(path, BACKEND, shown(root, path))
        values = dict(line.split("=", 1) for line in (text or "").splitlines() if "=" in line and not line.startswith("#"))
        found[name] = (values.get("ADMIN_STATE"), values.get("NETWORK_FILE"), shown(root, path))
    return found


def read(root: Path, matches) -> Parsed:
    problems: list[ConfigProblem] = []
    netdevs, networks = [], []
    for path in files(root, problems):
        file = shown(root, path)
        text, problem = read_text(path, BACKEND, file)
        if problem:
            problems.append(problem)
            continue
        generated = path.parent == root / "run/systemd/network" and path.name.startswith("10-netplan-")
        parsed = parse_netdev(text or "", file) if path.suffix == ".netdev" else parse_network(text or "", file)
        if generated:  # netplan's: `netplan generate` rewrites it
            parsed.devices = [replace(d, backend="netplan", why="netplan-generated networkd file") for d in parsed.devices]
        (netdevs if path.suffix == ".netdev" else networks).append(parsed)
    out = combine(netdevs, networks, matches)
    out.problems = problems + out.problems
    out.extra["networks"] = networks  # in networkd's order: the first match claims an interface
    return out
