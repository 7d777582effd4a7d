"""vxlan and macvlan devices in the saved configuration (pure): what the running device
asks of it, what each backend can say of it, and the words each renderer writes.

A desired vxlan carries its VNI, its underlay (`parent`), `options` in the readers' words
(local, remote, group, port, learning "1"/"0", ttl) and its static FDB entries (`fdb`);
a macvlan its lower device (`parent`) and ("mode", the kernel's word)."""

from __future__ import annotations

from kvmtui.collect.netconfig.networkmanager import MACVLAN_MODES
from kvmtui.model import Link, MacvlanInfo, Snapshot, VxlanInfo
from kvmtui.model.netconfig import ConfiguredDevice
from kvmtui.plan.recreate import vxlan_fdb

KINDS = ("vxlan", "macvlan")
ZEROS = "00:00:00:00:00:00"  # a vxlan's entry for every unknown and broadcast frame
NM_MACVLAN_MODES = {word: number for number, word in MACVLAN_MODES.items()}


def described_fields(link: Link, snapshot: Snapshot) -> dict[str, object]:
    """The ConfiguredDevice fields of a running vxlan or macvlan."""
    info = link.info_data
    if isinstance(info, VxlanInfo):
        options = [(key, value) for key, value in (("local", info.local), ("remote", info.remote),
                                                   ("group", info.group)) if value]
        options += [("port", str(info.port)), ("learning", "1" if info.learning else "0")]
        options += [("ttl", str(info.ttl))] if info.ttl else []
        return {"vni": info.id, "parent": info.link, "options": tuple(options),
                "fdb": tuple((step.mac, step.dst) for step in vxlan_fdb(snapshot, link))}
    if isinstance(info, MacvlanInfo):
        return {"parent": link.link, "options": (("mode", info.mode),)}
    return {}


def option(dev: ConfiguredDevice, key: str) -> str | None:
    return dict(dev.options).get(key)


# --- what each backend cannot say -------------------------------------------------------------

NO_MACVLAN = {
    "netplan": "netplan has no macvlan devices; save {name} by hand: a systemd-networkd .netdev (Kind=macvlan, "
               "[MACVLAN] Mode={mode}) with MACVLAN={name} in {parent}'s .network under /etc/systemd/network, or a "
               "NetworkManager profile (nmcli connection add type macvlan dev {parent} mode {mode} ifname {name})",
    "ifupdown": "ifupdown has no macvlan devices; save {name} by hand in /etc/network/interfaces: `pre-up ip link add "
                "link {parent} name {name} type macvlan mode {mode}` in its stanza, `post-down ip link del {name}`",
    "ifupdown2": "ifupdown2 makes macvlans only for its own VRR addresses (address-virtual); save {name} by hand in "
                 "/etc/network/interfaces: `pre-up ip link add link {parent} name {name} type macvlan mode {mode}` in "
                 "its stanza, `post-down ip link del {name}`",
}
NO_VXLAN = {
    "ifupdown": "ifupdown (not ifupdown2) has no vxlan devices; save {name} by hand in /etc/network/interfaces: "
                "`pre-up ip link add {name} type vxlan id {vni} ...` in its stanza, or use ifupdown2 (vxlan-id)",
}


def unsavable(backend: str, devices: tuple[ConfiguredDevice, ...]) -> str | None:
    """Why nothing of the change is saved in `backend`: a device it cannot describe (the rest
    alone would save a host that boots half changed: a lower without the addresses its
    shim took, a bridge with a port that is never made)."""
    for dev in devices:
        words = {"name": dev.name, "parent": dev.parent, "mode": option(dev, "mode"), "vni": dev.vni}
        if dev.kind == "macvlan" and backend in NO_MACVLAN:
            return NO_MACVLAN[backend].format(**words)
        if dev.kind == "vxlan" and backend in NO_VXLAN:
            return NO_VXLAN[backend].format(**words)
    return None


def left_out(backend: str, devices: tuple[ConfiguredDevice, ...]) -> tuple[str, ...]:
    """What a saved vxlan loses at a reboot in `backend` (networkd says it all)."""
    notes = []
    for dev in devices:
        if dev.kind != "vxlan" or backend == "systemd-networkd":
            continue
        fdb = [(mac, dst) for mac, dst in dev.fdb if backend != "ifupdown2" or mac != ZEROS]  # its vxlan-remoteip
        if fdb:
            entries = ", ".join(f"{mac} dst {dst}" for mac, dst in fdb)
            notes.append(f"{dev.name}'s static FDB entries ({entries}): {backend} has no words for them; add them "
                         f"at boot (`bridge fdb append 00:00:00:00:00:00 dev {dev.name} dst IP`, e.g. a dispatcher "
                         "or post-up script)")
    return tuple(notes)


# --- systemd-networkd --------------------------------------------------------------------------

def networkd_netdev(dev: ConfiguredDevice) -> dict[str, dict[str, list[str]]]:
    """[Section] -> Key -> values of the device's .netdev."""
    netdev = {"Name": [dev.name or ""], "Kind": [dev.kind], "MTUBytes": [str(dev.mtu)] if dev.mtu else []}
    if dev.kind == "macvlan":
        return {"NetDev": netdev, "MACVLAN": {"Mode": [option(dev, "mode") or "bridge"]}}
    vxlan = {"VNI": [str(dev.vni)]}
    for key, word in (("remote", "Remote"), ("local", "Local"), ("group", "Group"), ("ttl", "TTL")):
        vxlan[word] = [option(dev, key)] if option(dev, key) else []
    vxlan["DestinationPort"] = [option(dev, "port") or "4789"]
    vxlan["MacLearning"] = ["no" if option(dev, "learning") == "0" else "yes"]
    vxlan["Independent"] = [] if dev.parent else ["yes"]  # no underlay's .network names it
    return {"NetDev": netdev, "VXLAN": vxlan}


NETWORKD_STACKED = {"vlan": "VLAN", "vxlan": "VXLAN", "macvlan": "MACVLAN"}  # the key in the lower's .network


def networkd_fdb(dev: ConfiguredDevice) -> str:
    """A vxlan's static entries as [BridgeFDB] sections of its .network."""
    return "".join(f"\n[BridgeFDB]\nMACAddress={mac}\nDestination={dst}\n" for mac, dst in dev.fdb)


# --- NetworkManager keyfiles -------------------------------------------------------------------

NM_OWNED = {"vxlan": ("id", "remote", "local", "parent", "destination-port", "learning", "ttl"),
            "macvlan": ("mode", "parent", "tap")}


def nm_group(dev: ConfiguredDevice) -> dict[str, str]:
    """[vxlan] or [macvlan] of the device's profile. NM's vxlan `remote` is the group too."""
    parent = {"parent": dev.parent} if dev.parent else {}
    if dev.kind == "macvlan":
        return {**parent, "mode": NM_MACVLAN_MODES.get(option(dev, "mode") or "bridge", "2"), "tap": "false"}
    group = {"id": str(dev.vni)}
    remote = option(dev, "remote") or option(dev, "group")
    group |= {"remote": remote} if remote else {}
    group |= {"local": option(dev, "local")} if option(dev, "local") else {}
    group |= parent | {"destination-port": option(dev, "port") or "4789",
                       "learning": "false" if option(dev, "learning") == "0" else "true"}
    group |= {"ttl": option(dev, "ttl")} if option(dev, "ttl") else {}
    return group


# --- netplan ---------------------------------------------------------------------------------

def netplan_tunnel(dev: ConfiguredDevice, id_of) -> dict[str, object]:
    """A vxlan under `tunnels:` (netplan 0.105 and later); a multicast group is its `remote`."""
    conf: dict[str, object] = {"mode": "vxlan", "id": dev.vni}
    for key in ("local", "remote", "group"):
        if option(dev, key):
            conf["remote" if key == "group" else key] = option(dev, key)
    if dev.parent:
        conf["link"] = id_of(dev.parent)
    conf["port"] = int(option(dev, "port") or 4789)
    conf["mac-learning"] = option(dev, "learning") != "0"
    if option(dev, "ttl"):
        conf["ttl"] = int(option(dev, "ttl") or 0)
    return conf


# --- ifupdown2 ---------------------------------------------------------------------------------

def ifupdown2_pairs(dev: ConfiguredDevice) -> list[tuple[str, str]]:
    """The vxlan's own (key, value) lines of its `iface` stanza: the remote is ifupdown2's
    svcnodeip, each static all-zeros FDB entry a vxlan-remoteip line."""
    def v6(key: str) -> str:
        return "6" if ":" in (option(dev, key) or "") else ""

    pairs = [("vxlan-id", str(dev.vni))]
    for key, word in (("local", "vxlan-local-tunnelip"), ("remote", "vxlan-svcnodeip"), ("group", "vxlan-mcastgrp")):
        if option(dev, key):
            pairs.append((word + ("" if key == "local" else v6(key)), option(dev, key) or ""))
    if dev.parent:
        pairs.append(("vxlan-physdev", dev.parent))
    pairs.append(("vxlan-port", option(dev, "port") or "4789"))
    pairs.append(("vxlan-learning", "no" if option(dev, "learning") == "0" else "yes"))
    if option(dev, "ttl"):
        pairs.append(("vxlan-ttl", option(dev, "ttl") or "0"))
    return pairs + [("vxlan-remoteip", dst) for mac, dst in dev.fdb if mac == ZEROS]
