"""What the details and FDB panes show of VLAN-aware bridges (pure; no Textual)."""

from __future__ import annotations

from collections.abc import Callable

from kvmtui.bridge_vlans import filtering_bridge, pvid, vlan_table_text, vlans_by_port
from kvmtui.model import FdbEntry, Link, Snapshot


def vlan_detail_lines(snapshot: Snapshot, link: Link) -> list[tuple[str, str]]:
    """The VLAN table of a port (or of the bridge itself) of a VLAN-filtering bridge."""
    if filtering_bridge(snapshot, link) is None:
        return []
    vlans = [v for v in snapshot.bridge_vlans if v.ifname == link.ifname]
    native = pvid(vlans)
    lines = [("vlans", vlan_table_text(vlans))]
    lines.append(("pvid", str(native) if native is not None else "none (untagged frames are dropped)"))
    return lines


def fdb_vlan_of(snapshot: Snapshot) -> Callable[[FdbEntry], int | None]:
    """An FDB entry's VLAN; for one a VLAN-filtering bridge holds without a VLAN of its own
    (learned before filtering was on, static added while the port had no VLAN), the PVID
    of its port: where untagged frames go. Not when the kernel keeps a copy of the entry in
    that VLAN too (`bridge fdb add` without `vlan` adds one per VLAN of the port): two rows
    would then say the same."""
    filtering = {link.ifname for link in snapshot.links if filtering_bridge(snapshot, link) is link}
    if not filtering:
        return lambda entry: entry.vlan
    pvids = {name: pvid(vlans) for name, vlans in vlans_by_port(snapshot).items()}
    tagged = {(e.mac, e.ifname, e.vlan) for e in snapshot.fdb if e.vlan is not None and e.master in filtering}

    def vlan(entry: FdbEntry) -> int | None:
        if entry.vlan is not None or entry.master not in filtering:
            return entry.vlan
        native = pvids.get(entry.ifname)
        return None if (entry.mac, entry.ifname, native) in tagged else native

    return vlan


def fdb_vlan_key(snapshot: Snapshot, bridge: str) -> tuple:
    """What of the VLAN tables the FDB pane of `bridge` shows: whether it filters, its ports' PVIDs."""
    link = snapshot.link(bridge)
    if link is None or filtering_bridge(snapshot, link) is None:
        return ()
    names = {link.ifname for link in snapshot.links if link.master == bridge} | {bridge}
    return True, frozenset((v.ifname, v.vlan) for v in snapshot.bridge_vlans if v.pvid and v.ifname in names)
