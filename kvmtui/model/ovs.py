"""Open vSwitch as the snapshot holds it: its database (bridges, ports, interfaces) plus
what only ovs-vswitchd knows (FDB, bond members' state, LACP), read by collect/ovs.py.

OVS keeps no kernel devices for most of this (a bond, a patch port, a userspace bridge),
so it is its own part of the snapshot rather than a kind of Link. Maps of the database
(options, external_ids) are (key, value) pairs: JSON-friendly and hashable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

Pairs = tuple[tuple[str, str], ...]

# Interface types whose options name a remote endpoint (options:remote_ip, key, local_ip).
TUNNEL_TYPES = frozenset({"vxlan", "gre", "geneve", "erspan", "ip6erspan", "ip6gre", "stt", "lisp", "gtpu", "bareudp"})


def pair_value(pairs: Pairs, key: str) -> str | None:
    return next((value for name, value in pairs if name == key), None)


@dataclass(frozen=True, slots=True)
class OvsInterface:
    """An Interface row. `type` is OVS's word, with "" shown as "system" (a kernel device)."""

    name: str
    type: str  # system, internal, patch, vxlan, gre, geneve, dpdk, dpdkvhostuser, ...
    ofport: int | None  # None (or -1 in the DB) until vswitchd attached it
    admin_state: str | None = None  # "up" | "down" | None (not attached)
    link_state: str | None = None
    mac_in_use: str | None = None
    options: Pairs = ()  # peer=..., remote_ip=..., key=..., local_ip=...
    external_ids: Pairs = ()  # attached-mac, vm-id, iface-id, iface-status (set by libvirt or a CMS)
    error: str | None = None  # why vswitchd could not add it ("could not open network device")

    @property
    def peer(self) -> str | None:
        """A patch interface's other half (an interface name on another bridge)."""
        return pair_value(self.options, "peer") if self.type == "patch" else None

    @property
    def remote_ip(self) -> str | None:
        return pair_value(self.options, "remote_ip")

    @property
    def tunnel_key(self) -> str | None:
        return pair_value(self.options, "key")

    @property
    def attached_mac(self) -> str | None:
        mac = pair_value(self.external_ids, "attached-mac")
        return mac.lower() if mac else None

    @property
    def vm_id(self) -> str | None:
        return pair_value(self.external_ids, "vm-id")

    @property
    def iface_id(self) -> str | None:
        return pair_value(self.external_ids, "iface-id")


@dataclass(frozen=True, slots=True)
class OvsBondMember:
    """One member as `ovs-appctl bond/show` and `lacp/show` report it."""

    name: str
    enabled: bool  # carries traffic now
    may_enable: bool  # vswitchd would let it (carrier, LACP agreement): False is a fault
    lacp: str | None = None  # lacp/show's member words: "current attached", "expired defaulted"...
    partner_system: str | None = None  # the partner's sys_id, 00:00:00:00:00:00 when none


@dataclass(frozen=True, slots=True)
class OvsBond:
    """A Port with two or more interfaces: configuration and vswitchd's view of it."""

    mode: str  # active-backup, balance-slb, balance-tcp
    lacp: str  # off, active, passive (the Port's lacp column; "off" when unset)
    lacp_status: str | None = None  # bond/show: off, negotiated, configured
    active_member: str | None = None
    members: tuple[OvsBondMember, ...] = ()

    def member(self, name: str) -> OvsBondMember | None:
        return next((m for m in self.members if m.name == name), None)


@dataclass(frozen=True, slots=True)
class OvsPort:
    """A Port row: VLAN configuration, its interface(s), and the bond when it has several.
    A fake bridge is a Port with `fake_bridge` and a tag (its VLAN)."""

    name: str
    interfaces: tuple[OvsInterface, ...]
    tag: int | None = None
    trunks: tuple[int, ...] = ()
    vlan_mode: str | None = None  # access, trunk, native-tagged, native-untagged; None: implied
    fake_bridge: bool = False
    bond: OvsBond | None = None
    external_ids: Pairs = ()


@dataclass(frozen=True, slots=True)
class OvsFdbEntry:
    """One line of `ovs-appctl fdb/show BR`; `port` is the Port its ofport belongs to."""

    port: str  # Port name, "LOCAL" for the bridge's own port, or the ofport when unknown
    vlan: int
    mac: str
    age: int | None  # seconds since last seen; None: static


@dataclass(frozen=True, slots=True)
class OvsBridge:
    name: str
    datapath_type: str  # system (kernel datapath) or netdev (userspace)
    ports: tuple[OvsPort, ...]
    fail_mode: str | None = None
    fdb: tuple[OvsFdbEntry, ...] = ()

    def port(self, name: str) -> OvsPort | None:
        return next((p for p in self.ports if p.name == name), None)


@dataclass(frozen=True, slots=True)
class OvsFakeBridge:
    """A VLAN "bridge" inside a real one (`ovs-vsctl add-br br0.100 br0 100`)."""

    name: str
    parent: str
    vlan: int


@dataclass(frozen=True, slots=True)
class OvsState:
    """One read of Open vSwitch. Snapshot.ovs is None when OVS is absent or not running."""

    bridges: tuple[OvsBridge, ...] = ()
    fake_bridges: tuple[OvsFakeBridge, ...] = ()
    version: str | None = None  # the Open_vSwitch row's ovs_version (empty unless a start script set it)
    db: str | None = None  # the database socket it was read from

    def bridge(self, name: str | None) -> OvsBridge | None:
        return next((b for b in self.bridges if b.name == name), None) if name else None

    def fake_bridge(self, name: str | None) -> OvsFakeBridge | None:
        return next((f for f in self.fake_bridges if f.name == name), None) if name else None

    def bridge_of(self, name: str | None) -> OvsBridge | None:
        """The bridge `name` is, or has a port or interface called `name` (a fake bridge: its parent)."""
        if not name:
            return None
        fake = self.fake_bridge(name)
        if fake is not None:
            return self.bridge(fake.parent)
        for bridge in self.bridges:
            if bridge.name == name or any(p.name == name or any(i.name == name for i in p.interfaces)
                                          for p in bridge.ports):
                return bridge
        return None

    def outline(self, with_fdb: bool = True) -> OvsState:
        """What a poll compares: FDB ages blanked (they tick), or no FDB when it was not read."""
        return replace(self, bridges=tuple(replace(b, fdb=tuple(replace(e, age=None) for e in b.fdb) if with_fdb else ())
                                           for b in self.bridges))

    def interfaces(self):
        """(bridge, port, interface) for every interface."""
        for bridge in self.bridges:
            for port in bridge.ports:
                for interface in port.interfaces:
                    yield bridge, port, interface
