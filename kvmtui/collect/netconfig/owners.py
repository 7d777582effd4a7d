"""Who manages each live interface, decided the way `netplan status` does, from files
and run state (NM's over D-Bus where it answered): pure, given what the readers found.

- NetworkManager: a profile naming the interface (interface-name, [match], MAC),
  unless NM leaves it unmanaged: its device state says so (D-Bus state 10, or
  the state file's managed=false), `unmanaged-devices`, or Debian's ifupdown plugin with managed=false for
  an interface of /etc/network/interfaces. The profile NM has active wins.
- netplan: a device of its YAML (any renderer), or a file netplan generated
  (/run/NetworkManager/system-connections/netplan-*, /run/systemd/network/10-netplan-*).
- systemd-networkd: the first .network in name order whose [Match] takes it (or the one
  networkd's run state names), unless Unmanaged=yes; a .netdev creates its device.
- ifupdown/ifupdown2: an iface stanza of that name.
A backend that is not installed or not enabled claims nothing (the why says it named
the interface). Two backends left is a conflict: the first of runtime evidence, then
netplan, NetworkManager, networkd, ifupdown2, ifupdown owns it, the others are `also`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from kvmtui.collect.netconfig.ifcfg import UNCONTROLLED
from kvmtui.collect.netconfig.nm_conf import DeviceState, NMSettings
from kvmtui.model import Link
from kvmtui.model.netconfig import Claim, ConfiguredDevice, LinkOwner

NETPLAN_NM_PROFILE = re.compile(r"/run/NetworkManager/system-connections/netplan-")
PREFERENCE = ("netplan", "NetworkManager", "systemd-networkd", "ifupdown2", "ifupdown")
# What networkd's Type= and Driver= are for each kernel kind (None: a NIC, whose driver files do not say).
TYPES = {"bridge": "bridge", "bond": "bond", "vlan": "vlan", "wireguard": "wireguard"}
DRIVERS = {"veth": "veth", "tun": "tun", "bridge": "bridge", "bond": "bonding", "vlan": "802.1Q VLAN Support",
           "dummy": "dummy", "macvlan": "macvlan", "macvtap": "macvtap", "vxlan": "vxlan"}


@dataclass(frozen=True)
class Rule:
    """One configuration's claim on whatever interfaces it matches."""

    backend: str
    file: str
    line: int | None
    why: str
    names: tuple[str, ...] = ()  # names or globs
    style: str = "glob"  # "glob": any matches; "networkd": a leading "!" negates the list; "nm": "!x" excludes
    macs: tuple[str, ...] = ()
    conditions: tuple[tuple[str, tuple[str, ...]], ...] = ()  # networkd [Match] Type=, Kind=, Driver=, ...
    networkd_order: bool = False  # a .network: only the first that matches applies
    unmanaged: bool = False  # networkd Unmanaged=yes: the match leaves the interface alone
    uuid: str | None = None


@dataclass
class Evidence:
    """What, besides the rules, decides: who runs, NM's settings and both daemons' run state."""

    in_use: dict[str, tuple[bool, str]] = field(default_factory=dict)
    nm: NMSettings | None = None
    nm_states: dict[str, DeviceState] = field(default_factory=dict)
    networkd_states: dict[str, tuple[str | None, str | None, str]] = field(default_factory=dict)
    ifupdown_names: frozenset[str] = frozenset()


def rules_of(devices: Iterable[ConfiguredDevice]) -> list[Rule]:
    """Rules of the devices of netplan, NM and ifupdown (networkd's come from networkd_rules)."""
    devices = list(devices)
    defined = {(dev.backend, dev.name) for dev in devices}
    rules, ports = [], []
    for dev in devices:
        if dev.why == UNCONTROLLED:
            continue
        names = (dev.name,) if dev.name else dev.match_names
        style = "nm" if dev.backend == "NetworkManager" else "glob"
        rules.append(Rule(dev.backend, dev.file, dev.line, dev.why, names, style,
                          (dev.match_mac,) if dev.match_mac else (), uuid=dev.uuid))
        # a port only its master names (ifupdown's bridge-ports eno1 without an eno1 stanza)
        ports += [Rule(dev.backend, dev.file, dev.line, f"port of {dev.name} ({dev.why})", (port,))
                  for port in dev.ports if (dev.backend, port) not in defined]
    return rules + ports


def networkd_rules(networks: list, netdevs: Iterable[ConfiguredDevice]) -> list[Rule]:
    """.network files in networkd's order (parsed, with their [Match] in `extra`), then .netdevs."""
    rules = []
    for parsed in networks:
        if not parsed.devices:
            continue
        dev, match = parsed.devices[0], parsed.extra["match"]
        macs = tuple(m.lower() for key in ("MACAddress", "PermanentMACAddress") for m in match.get(key, ()))
        others = tuple((k, tuple(v)) for k, v in match.items() if k not in ("Name", "MACAddress", "PermanentMACAddress"))
        rules.append(Rule(dev.backend, dev.file, dev.line, dev.why, tuple(match.get("Name", ())), "networkd", macs,
                          others, networkd_order=True, unmanaged=parsed.extra["unmanaged"]))
    for dev in netdevs:
        if dev.name:
            rules.append(Rule(dev.backend, dev.file, dev.line, f"networkd .netdev creates {dev.name}", (dev.name,)))
    return rules


def _names_match(rule: Rule, name: str) -> bool:
    if rule.style == "networkd":
        words = list(rule.names)
        invert = words[0].startswith("!")
        words[0] = words[0][1:] if invert else words[0]
        return any(fnmatchcase(name, w) for w in words if w) != invert
    if rule.style == "nm":
        positive = [p.lstrip("~=") for p in rule.names if not p.startswith("!")]
        negative = [p[1:].lstrip("=") for p in rule.names if p.startswith("!")]
        return (not positive or any(fnmatchcase(name, p) for p in positive)) \
            and not any(fnmatchcase(name, p) for p in negative)
    return any(fnmatchcase(name, p) for p in rule.names)


def _matches(rule: Rule, link: Link) -> tuple[bool, list[str]]:
    """Whether the rule takes the link, and the conditions assumed to hold (not in the files)."""
    if not rule.names and not rule.macs and not rule.networkd_order:
        return False, []  # a profile for any device of its type: it claims none by name
    if rule.names and not _names_match(rule, link.ifname):
        return False, []
    if rule.macs and (link.mac or "").lower() not in rule.macs:
        return False, []
    assumed = []
    for key, words in rule.conditions:
        invert = bool(words) and words[0].startswith("!")
        values = [w.lstrip("!") for w in words]
        if key == "Kind":
            ok = link.kind is not None and any(fnmatchcase(link.kind, v) for v in values)
        elif key == "Type":
            kind = "loopback" if link.ifname == "lo" else TYPES.get(link.kind or "", "ether")
            ok = any(fnmatchcase(kind, v) for v in values)
        elif key == "Driver" and link.kind in DRIVERS:
            ok = any(fnmatchcase(DRIVERS[link.kind], v) for v in values)
        else:
            assumed.append(f"{key}={' '.join(words)}")
            continue
        if ok == invert:
            return False, []
    return True, assumed


def resolve(links: Iterable[Link], rules: list[Rule], evidence: Evidence) -> tuple[LinkOwner, ...]:
    """The owner of every link something is said of, in the links' order."""
    owners = []
    for link in links:
        owner = _owner(link, rules, evidence)
        if owner is not None:
            owners.append(owner)
    return tuple(owners)


def _owner(link: Link, rules: list[Rule], evidence: Evidence) -> LinkOwner | None:
    claims: dict[str, list[tuple[Rule, list[str]]]] = {}
    notes: list[str] = []
    networkd_done = False
    for rule in rules:
        if rule.networkd_order and networkd_done:
            continue
        ok, assumed = _matches(rule, link)
        if not ok:
            continue
        if rule.networkd_order:
            networkd_done = True
            if rule.unmanaged:
                notes.append(f"networkd {rule.file}: Unmanaged=yes")
                continue
        claims.setdefault(rule.backend, []).append((rule, assumed))
    live: set[str] = set()
    _networkd_state(link, evidence, claims, notes, live)
    _networkmanager(link, evidence, claims, notes, live)
    for backend in list(claims):
        in_use, why_not = evidence.in_use.get(backend, (True, ""))
        if not in_use and backend not in live:
            rule = claims.pop(backend)[0][0]
            notes.append(f"{backend} {rule.file} names it, but {why_not}")
    if not claims:
        return LinkOwner(link.ifname, None, None, None, "; ".join(notes)) if notes else None
    order = sorted(claims, key=lambda b: (b not in live, PREFERENCE.index(b) if b in PREFERENCE else len(PREFERENCE)))
    chosen = [_best(claims[b]) for b in order]
    rule, assumed = chosen[0]
    why = rule.why + (f" (assuming {', '.join(assumed)})" if assumed else "")
    also = tuple(Claim(r.backend, r.file, r.line, r.why) for r, _ in chosen[1:])
    return LinkOwner(link.ifname, rule.backend, rule.file, rule.line, why, also)


def _best(found: list[tuple[Rule, list[str]]]) -> tuple[Rule, list[str]]:
    """Of one backend's claims: a generated file gives way to the YAML netplan made it from."""
    return next((c for c in found if "generated" not in c[0].why), found[0])


def _networkd_state(link: Link, evidence: Evidence, claims: dict, notes: list[str], live: set[str]) -> None:
    state = evidence.networkd_states.get(link.ifname)
    if state is None:
        return
    admin, network_file, path = state
    if admin == "unmanaged":
        for backend in ("systemd-networkd",):
            if claims.pop(backend, None):
                notes.append(f"networkd leaves it unmanaged ({path})")
    elif network_file:
        generated = re.search(r"/run/systemd/network/10-netplan-", network_file) is not None
        backend = "netplan" if generated else "systemd-networkd"
        why = "netplan-generated networkd file" if generated else f"networkd applied it ({path})"
        known = claims.get(backend, [])
        rule = next((r for r, _ in known if r.file == network_file), None) or Rule(backend, network_file, None, why)
        claims[backend] = [(rule, [])] + [c for c in known if c[0] is not rule]
        live.add(backend)


def _networkmanager(link: Link, evidence: Evidence, claims: dict, notes: list[str], live: set[str]) -> None:
    state = evidence.nm_states.get(link.ifname)
    nm = evidence.nm
    reason = None
    if state is not None and state.managed is False:
        reason = f"NM device state: unmanaged ({state.file})"
    elif nm is not None:
        spec = _nm_spec(link, nm.unmanaged)
        if spec and not _nm_spec(link, nm.managed_specs):
            reason = f"NM unmanaged-devices {spec[0]} ({spec[1]} line {spec[2]})"
        elif nm.ifupdown_unmanaged and link.ifname in evidence.ifupdown_names:
            reason = (f"NM leaves interfaces of /etc/network/interfaces to ifupdown ({nm.ifupdown_unmanaged[0]} "
                      f"line {nm.ifupdown_unmanaged[1]})")
    if reason:
        if claims.pop("NetworkManager", None) is not None:  # said only where a profile named it
            notes.append(reason)
        return
    if state is None or not state.managed or not state.uuid:
        return
    if state.external:  # NM mirrors what another tool configured: nothing of NM's to save
        notes.append(f"NM shows it as connected externally ({state.file}): configured by something else")
        return
    for backend in ("NetworkManager", "netplan"):
        found = claims.get(backend, [])
        active = next((c for c in found if c[0].uuid == state.uuid), None)
        if active:
            claims[backend] = [active] + [c for c in found if c is not active]
            live.add(backend)
            return
    if state.profile:  # a profile none of the files read names (another root, an in-memory one)
        backend = "netplan" if NETPLAN_NM_PROFILE.search(state.profile) else "NetworkManager"
        why = f"NM's active profile ({state.file})"
        claims[backend] = [(Rule(backend, state.profile, None, why, uuid=state.uuid), [])] + claims.get(backend, [])
        live.add(backend)


def _nm_spec(link: Link, specs: list[tuple[str, str, int]]) -> tuple[str, str, int] | None:
    """The first of NM's device specs that takes the link, `except:` ones excluding."""
    positive = [s for s in specs if not s[0].startswith("except:")]
    excepted = any(_spec_matches(s[0][7:], link) for s in specs if s[0].startswith("except:"))
    if excepted:
        return None
    found = next((s for s in positive if _spec_matches(s[0], link)), None)
    if found is None and not positive and len(specs) > 0:
        return specs[0]  # only except: entries: everything else matches
    return found


def _spec_matches(spec: str, link: Link) -> bool:
    if spec == "*":
        return True
    kind, _, value = spec.partition(":")
    if not value:  # a bare MAC, NM's oldest form
        return (link.mac or "").lower() == spec.lower()
    if kind == "interface-name":
        return fnmatchcase(link.ifname, value.lstrip("=~"))
    if kind == "mac":
        return (link.mac or "").lower() == value.lower()
    if kind == "type":
        nm_type = "loopback" if link.ifname == "lo" else link.kind or "ethernet"
        return fnmatchcase(nm_type, value)
    if kind == "driver" and link.kind in DRIVERS:
        return fnmatchcase(DRIVERS[link.kind], value)
    return False
