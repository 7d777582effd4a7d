"""What a bridge forgets when a port leaves it or it is deleted, and the steps that give
it back in an undo (pure): a port's own settings, VLAN entries and static FDB entries.
Only what differs from what the kernel gives a new port or bridge is set again, so the
undo stays short and readable."""

from __future__ import annotations

from kvmtui.model import BridgePortInfo, BridgeVlan, Link, Snapshot
from kvmtui.plan import steps as s

# A new port's settings (br_if.c new_nbp); cost follows the port's speed instead.
PORT_DEFAULTS = (("priority", 32), ("hairpin", False), ("guard", False), ("learning", True), ("flood", True),
                 ("mcast_flood", True), ("bcast_flood", True), ("isolated", False))
# The costs the kernel derives from a port's speed (port_cost(): 10G 2, 1G 4, 100M 19, ...):
# it derives them again when the port comes back. Another cost was set by hand.
SPEED_COSTS = (1, 2, 3, 4, 19, 100)
DEFAULT_VLAN = 1  # the bridge's default_pvid: a new bridge and each new port get it, pvid untagged


def port_settings(port: Link) -> s.Settings:
    """In `bridge link set`'s words; the state is left to STP and the port's carrier."""
    info = port.info_slave_data
    if not isinstance(info, BridgePortInfo):
        return ()
    settings: s.Settings = (("cost", str(info.cost)),) if info.cost not in SPEED_COSTS else ()
    for key, default in PORT_DEFAULTS:
        value = getattr(info, key)
        if value != default:
            settings += ((key, "on" if value is True else "off" if value is False else str(value)),)
    return settings


def vlans_kept(snapshot: Snapshot, bridge: Link | None) -> bool:
    """Whether this kernel keeps bridge VLAN entries (CONFIG_BRIDGE_VLAN_FILTERING): then it
    lists the default VLAN on every new port even with filtering off; without it, none."""
    if bridge is None:
        return False
    members = {bridge.ifname} | {link.ifname for link in snapshot.links if link.master == bridge.ifname}
    return bool(getattr(bridge.info_data, "vlan_filtering", False)) or any(
        v.ifname in members for v in snapshot.bridge_vlans)


def vlan_steps(snapshot: Snapshot, dev: str, own: bool) -> list[s.Step]:
    """The entries `dev` had, from the default VLAN the kernel gives it: each added (which
    also sets its flags), then the default VLAN deleted if it had not been there."""
    had = sorted((v for v in snapshot.bridge_vlans if v.ifname == dev), key=lambda v: v.vlan)
    default = BridgeVlan(dev, DEFAULT_VLAN, True, True)
    steps = [s.vlan_add(dev, vids, pvid, untagged, own) for vids, pvid, untagged in _ranges(v for v in had if v != default)]
    if all(v.vlan != DEFAULT_VLAN for v in had):
        steps.append(s.vlan_del(dev, str(DEFAULT_VLAN), own))
    return steps


def _ranges(vlans) -> list[tuple[str, bool, bool]]:
    """Consecutive VLANs with the same flags as one range ("30-39"), as `bridge vlan` takes them;
    the pvid stands alone."""
    out: list[list] = []
    for v in vlans:
        last = out[-1] if out else None
        if last and not v.pvid and not last[2] and last[1] + 1 == v.vlan and last[3] == v.untagged:
            last[1] = v.vlan
        else:
            out.append([v.vlan, v.vlan, v.pvid, v.untagged])
    return [(str(a) if a == b else f"{a}-{b}", pvid, untagged) for a, b, pvid, untagged in out]


def static_fdb(snapshot: Snapshot, port: str, bridge: str) -> list[s.Step]:
    """The MACs an administrator pinned on the port (`bridge fdb add ... master static`); the
    kernel's own permanent entries (the port's MAC) and the port's `self` entries come back
    by themselves."""
    return [s.fdb_add(port, e.mac, e.vlan, "sticky" in e.flags) for e in snapshot.fdb
            if e.ifname == port and e.master == bridge and e.state == "static" and "self" not in e.flags]


def port_restore(snapshot: Snapshot, port: Link) -> list[s.Step]:
    """After `port` is back in its bridge: its settings, then its VLANs (an FDB entry of a
    VLAN needs that VLAN on the port), then its static MACs."""
    bridge = snapshot.link(port.master)
    if bridge is None or bridge.kind != "bridge":
        return []
    settings = port_settings(port)
    steps = [s.brport_set(port.ifname, settings)] if settings else []
    if vlans_kept(snapshot, bridge):
        steps += vlan_steps(snapshot, port.ifname, own=False)
    return steps + static_fdb(snapshot, port.ifname, bridge.ifname)


def bridge_restore(snapshot: Snapshot, bridge: Link) -> list[s.Step]:
    """After a deleted bridge is created again: its own VLAN entries (`self`)."""
    return vlan_steps(snapshot, bridge.ifname, own=True) if vlans_kept(snapshot, bridge) else []
