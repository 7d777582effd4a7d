"""The VLAN tables of VLAN-aware bridges (`vlan_filtering 1`), as `bridge vlan show` has
them: read by the tree, the details, the FDB pane and the audit (pure).

A bridge without VLAN filtering keeps a table too (VLAN 1 on every port) that means
nothing: only filtering bridges' tables are shown and judged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from kvmtui.facts import is_downstream_port
from kvmtui.model import BridgeInfo, BridgeVlan, Link, Snapshot


def vlans_by_port(snapshot: Snapshot) -> dict[str, tuple[BridgeVlan, ...]]:
    """Port (or bridge) name -> its VLANs by VID; built once per view, not per port."""
    found: dict[str, list[BridgeVlan]] = defaultdict(list)
    for vlan in snapshot.bridge_vlans:
        found[vlan.ifname].append(vlan)
    return {name: tuple(sorted(vlans, key=lambda v: v.vlan)) for name, vlans in found.items()}


def filtering_bridge(snapshot: Snapshot, link: Link) -> Link | None:
    """The VLAN-filtering bridge `link` is, or is a port of; None otherwise."""
    bridge = link if link.kind == "bridge" else snapshot.link(link.master)
    if bridge is None or not isinstance(bridge.info_data, BridgeInfo) or not bridge.info_data.vlan_filtering:
        return None
    return bridge


def pvid(vlans: Iterable[BridgeVlan]) -> int | None:
    """The VLAN untagged frames coming in on the port belong to; None: they are dropped."""
    return next((v.vlan for v in vlans if v.pvid), None)


def uplinks(snapshot: Snapshot, bridge: str) -> list[Link]:
    """The ports towards the wire: every port but the guests' (taps, veths to another namespace)."""
    return [link for link in snapshot.links if link.master == bridge and not is_downstream_port(link)]


def carried(vlans_of: Mapping[str, tuple[BridgeVlan, ...]], ports: Iterable[Link]) -> set[int]:
    """Every VID any of `ports` carries, tagged or not."""
    return {v.vlan for port in ports for v in vlans_of.get(port.ifname, ())}


def vid_ranges(vids: Iterable[int], sep: str = ", ") -> str:
    """1, 100-110, 200: consecutive VIDs as one range, as `bridge vlan show` compresses them."""
    ordered = sorted(set(vids))
    parts: list[str] = []
    start = prev = None
    for vid in [*ordered, None]:
        if prev is not None and vid == prev + 1:
            prev = vid
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = vid
    return sep.join(parts)


def vlan_table_text(vlans: Iterable[BridgeVlan]) -> str:
    """"1 PVID untagged, 100-110, 200": runs of consecutive VIDs with the same flags as one
    range, the flags after it, as `bridge vlan show` prints them; "none" for an empty table."""
    runs: list[tuple[int, int, bool, bool]] = []
    for v in sorted(vlans, key=lambda v: v.vlan):
        if runs and runs[-1][1] == v.vlan - 1 and runs[-1][2:] == (v.pvid, v.untagged) and not v.pvid:
            runs[-1] = (runs[-1][0], v.vlan, v.pvid, v.untagged)
        else:
            runs.append((v.vlan, v.vlan, v.pvid, v.untagged))
    parts = []
    for first, last, is_pvid, untagged in runs:
        words = [str(first) if first == last else f"{first}-{last}"]
        words += ["PVID"] if is_pvid else []
        words += ["untagged"] if untagged else []
        parts.append(" ".join(words))
    return ", ".join(parts) or "none"


DEFAULT_VLAN = 1  # what the kernel gives every new port (the bridge's default_pvid)


def port_vlan_summary(vlans: tuple[BridgeVlan, ...]) -> str:
    """The tree row's short form: "vlans 100,200 pvid 10", "pvid 100" for an access port;
    "" for a port left as the kernel made it (VLAN 1, PVID, untagged), which says nothing."""
    if [(v.vlan, v.pvid, v.untagged) for v in vlans] == [(DEFAULT_VLAN, True, True)]:
        return ""
    native = pvid(vlans)
    tagged = [v.vlan for v in vlans if not v.pvid and not v.untagged]
    untagged = [v.vlan for v in vlans if not v.pvid and v.untagged]
    words = [f"vlans {vid_ranges(tagged, ',')}"] if tagged else []
    words += [f"untagged {vid_ranges(untagged, ',')}"] if untagged else []
    words += [f"pvid {native}"] if native is not None else []
    return " ".join(words) or "no vlans"
