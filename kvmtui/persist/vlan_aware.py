"""VLAN-aware bridges (`vlan_filtering 1`) in the saved configuration (pure): the VLAN
tables a running bridge and its ports ask of it, what each backend can say of them, and
the words each renderer writes.

A desired bridge that filters says ("vlan_filtering", "1") in its `bridge_options`; it and
each of its ports carry their whole table in `vlans` (runs of VIDs with the same flags, a
PVID alone), the kernel's default (VLAN 1, PVID, untagged) included: an empty `vlans` is a
device the renderers leave as its files say. A table that is just the default is written
as nothing (every backend gets it from the kernel), which also takes an older table out.

What the backends here do with a table was checked in the kernel VM: systemd-networkd 252
and NetworkManager 1.42 only add VLANs (VLAN 1, which the kernel gives each port that
joins, stays, untagged); NM's manual adds that a port also gets the bridge's default PVID.
ifupdown2 sets a port's table exactly, in its words (tagged VIDs and one untagged PVID),
and sets none on the bridge itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from kvmtui.bridge_vlans import DEFAULT_VLAN, filtering_bridge
from kvmtui.model import BridgeVlan, Link, Snapshot
from kvmtui.model.netconfig import ConfiguredDevice, ConfiguredVlan

# ifupdown2's words on a port of a VLAN-aware bridge: kvmtui owns these lines in a port's stanza
IFUPDOWN2_PORT_KEYS = ("bridge-vids", "bridge-pvid", "bridge-access", "bridge-allow-untagged")


def vlan_table(link: Link, snapshot: Snapshot) -> tuple[ConfiguredVlan, ...]:
    """The VLANs of a filtering bridge or of one of its ports, as runs; () for anything else."""
    if filtering_bridge(snapshot, link) is None:
        return ()
    return runs(v for v in snapshot.bridge_vlans if v.ifname == link.ifname)


def runs(vlans: Iterable[BridgeVlan]) -> tuple[ConfiguredVlan, ...]:
    out: list[ConfiguredVlan] = []
    for v in sorted(vlans, key=lambda v: v.vlan):
        last = out[-1] if out else None
        if last is not None and last.last == v.vlan - 1 and not v.pvid and (last.pvid, last.untagged) == (False, v.untagged):
            out[-1] = ConfiguredVlan(last.first, v.vlan, False, v.untagged)
        else:
            out.append(ConfiguredVlan(v.vlan, v.vlan, v.pvid, v.untagged))
    return tuple(out)


def filtering(dev: ConfiguredDevice) -> bool:
    return dict(dev.bridge_options).get("vlan_filtering") == "1"


def is_default(vlans: tuple[ConfiguredVlan, ...]) -> bool:
    return vlans == (ConfiguredVlan(DEFAULT_VLAN, DEFAULT_VLAN, True, True),)


def written(dev: ConfiguredDevice) -> tuple[ConfiguredVlan, ...]:
    """The entries a renderer writes: none for the kernel's default table."""
    return () if is_default(dev.vlans) else dev.vlans


def _ids(vlan: ConfiguredVlan) -> str:
    return str(vlan.first) if vlan.first == vlan.last else f"{vlan.first}-{vlan.last}"


def _has(vlans: tuple[ConfiguredVlan, ...], vid: int) -> bool:
    return any(v.first <= vid <= v.last for v in vlans)


# --- what each backend cannot say -------------------------------------------------------------

def _by_hand(how: str = "") -> str:
    return f"save it by hand{f' ({how})' if how else ''} or keep the change live only (--no-persist)"


ADD_ONLY = {"systemd-networkd": ("systemd-networkd 252 ([BridgeVLAN])",
                                  "DefaultPVID=none in the bridge's .netdev, every port's VLANs in its .network"),
            "NetworkManager": ("NetworkManager 1.42 (bridge-port.vlans)",
                               "vlan-default-pvid=0 in the bridge's profile, every port's VLANs in its own")}


def unsavable(backend: str, devices: tuple[ConfiguredDevice, ...]) -> str | None:
    """Why nothing of the change is saved in `backend`: a VLAN table it cannot say (a port
    saved without its VLANs would come back from a reboot passing other VLANs' frames)."""
    for dev in devices:
        if not dev.vlans and not filtering(dev):
            continue
        bridge = dev.name if dev.kind == "bridge" else dev.master
        if backend == "netplan":
            return (f"netplan cannot describe a VLAN-aware bridge ({bridge}): netplan 0.106 has no VLAN filtering "
                    "and no bridge port VLANs; move the bridge and its ports to systemd-networkd .netdev/.network "
                    "files (VLANFiltering=, [BridgeVLAN]) or NetworkManager profiles, or keep the change live only")
        if backend == "ifupdown":
            return (f"kvmtui writes a VLAN-aware bridge ({bridge}) in ifupdown2's words only (bridge-vlan-aware, "
                    f"bridge-vids, bridge-pvid, bridge-access); with classic ifupdown {_by_hand()}")
        why = _cannot(backend, dev)
        if why is not None:
            return why
    return None


def _cannot(backend: str, dev: ConfiguredDevice) -> str | None:
    name, vlans = dev.name, dev.vlans
    if not vlans:
        return None
    pvids = [v for v in vlans if v.pvid]
    table = ", ".join(_ids(v) + " PVID" * v.pvid + " untagged" * v.untagged for v in vlans)
    if backend in ADD_ONLY and not _has(vlans, DEFAULT_VLAN):
        words, how = ADD_ONLY[backend]
        return (f"{words} only adds VLANs and cannot take VLAN {DEFAULT_VLAN} off {name}, which the kernel gives "
                f"{'the bridge' if dev.kind == 'bridge' else 'every port that joins'} (untagged, as its PVID): after "
                f"a reboot {name} would pass VLAN {DEFAULT_VLAN}'s frames beside {table}; {_by_hand(how)}")
    if backend == "NetworkManager" and not pvids:
        return (f"NetworkManager gives {name} the bridge's default PVID (vlan-default-pvid, VLAN {DEFAULT_VLAN} "
                f"untagged) when its VLANs ({table}) have none: after a reboot it would take untagged frames "
                f"into VLAN {DEFAULT_VLAN}; {_by_hand()}")
    if backend == "ifupdown2" and dev.kind == "bridge" and not is_default(vlans):
        return (f"ifupdown2 sets no VLANs on the bridge {name} itself (bridge-vids on a bridge is its ports' "
                f"default), so it cannot save {name}'s own {table}; "
                f"{_by_hand(f'`post-up bridge vlan add vid N dev {name} self`')}")
    if backend == "ifupdown2" and (any(v.pvid != v.untagged for v in vlans) or len(pvids) > 1):
        return (f"ifupdown2 says a port's VLANs as tagged ones and one untagged PVID (bridge-vids, bridge-pvid): it "
                f"cannot say {name}'s {table}; {_by_hand()}")
    return None


# --- systemd-networkd --------------------------------------------------------------------------

def networkd_bridge(dev: ConfiguredDevice) -> dict[str, list[str]]:
    """The .netdev's [Bridge] VLANFiltering= (gone when the bridge does not filter)."""
    return {"VLANFiltering": ["yes"] if filtering(dev) else []}


def networkd_vlans(dev: ConfiguredDevice) -> str | None:
    """The [BridgeVLAN] sections of the device's .network, whole; None: leave them as they are."""
    if not dev.vlans:
        return None
    text = ""
    for v in written(dev):
        text += f"\n[BridgeVLAN]\nVLAN={_ids(v)}\n" + (f"PVID={v.first}\n" if v.pvid else "")
        text += f"EgressUntagged={_ids(v)}\n" if v.untagged else ""
    return text


# --- NetworkManager keyfiles -------------------------------------------------------------------

NM_OWNED = {"bridge": ("vlan-filtering", "vlans"), "bridge-port": ("vlans",)}


def nm_keys(dev: ConfiguredDevice) -> dict[str, dict[str, str]]:
    """[bridge] vlan-filtering and the bridge's own vlans, a port's [bridge-port] vlans."""
    vlans = ", ".join(_ids(v) + " pvid" * v.pvid + " untagged" * v.untagged for v in written(dev))
    out: dict[str, dict[str, str]] = {}
    if dev.kind == "bridge" and filtering(dev):
        out["bridge"] = {"vlan-filtering": "true"} | ({"vlans": vlans} if vlans else {})
    elif dev.master and vlans:
        out["bridge-port"] = {"vlans": vlans}
    return out


# --- ifupdown2 ---------------------------------------------------------------------------------

def ifupdown2_port_pairs(dev: ConfiguredDevice) -> list[tuple[str, str]]:
    """A port's own lines: `bridge-access VID` for an access port; else its tagged VIDs and its
    untagged PVID (`bridge-allow-untagged no` when it has none)."""
    vlans = written(dev)
    if not vlans or dev.kind == "bridge":
        return []
    if len(vlans) == 1 and vlans[0].pvid and vlans[0].first == vlans[0].last:
        return [("bridge-access", str(vlans[0].first))]
    tagged = " ".join(_ids(v) for v in vlans if not v.pvid)
    pvid = next((v.first for v in vlans if v.pvid), None)
    out = [("bridge-vids", tagged)] if tagged else []
    return out + [("bridge-pvid", str(pvid)) if pvid is not None else ("bridge-allow-untagged", "no")]
