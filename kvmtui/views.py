"""What each dashboard pane shows, computed from a Snapshot (pure; no Textual).

Panes only lay these rows out, so everything an administrator reads on screen is
testable without a terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from kvmtui.counters import human_bytes, human_count
from kvmtui.facts import ZERO_MAC, guest_nic_of, host_reach_shim, underlay
from kvmtui.foreign import owner_lines
from kvmtui.model import Bond, FdbEntry, Link, Network, Snapshot
from kvmtui.model.libvirt import Portgroup, Vlan, effective_vlan
from kvmtui.node_keys import ifname_of, is_guest, network_of, target
from kvmtui.topology import TopologyNode, link_summary
from kvmtui.views_ovs import ovs_bond_rows, ovs_bridge_name, ovs_details, ovs_fdb, ovs_fdb_cells, ovs_mac_owners
from kvmtui.views_vlan import fdb_vlan_key, fdb_vlan_of, vlan_detail_lines



@dataclass(frozen=True, slots=True)
class FdbRow:
    mac: str
    port: str
    vlan: str
    state: str  # "learned", "static", "permanent", "stale"
    age: str
    owner: str  # "guest <domain>", "host", or "" when unknown (learned from the wire)
    search: str  # lowercase text the filter matches against


def mac_owners(snapshot: Snapshot) -> dict[str, str]:
    """MAC -> who it belongs to: a guest's interface, else a host device."""
    owners = {link.mac: "host" for link in snapshot.links if link.mac}
    for domain in snapshot.domains:
        for nic in domain.interfaces:
            if nic.mac:
                owners[nic.mac.lower()] = f"guest {domain.name}"
    return {**ovs_mac_owners(snapshot), **owners}


def bridge_of(snapshot: Snapshot, ifname: str | None) -> str | None:
    """The bridge a device is, or is a port of: which FDB the pane shows for a selection."""
    link = snapshot.link(ifname)
    if link is not None and link.kind == "bridge":
        return link.ifname
    master = snapshot.link(link.master) if link is not None else None
    return master.ifname if master is not None and master.kind == "bridge" else ovs_bridge_name(snapshot, ifname)


def _in_bridge_fdb(snapshot: Snapshot, bridge: str) -> Callable[[FdbEntry], bool]:
    """Whether `bridge fdb show br X` lists an entry: the bridge holds it, or it is the
    bridge's own or one of its ports' (a vxlan port's remotes, a port's address)."""
    ports = {link.ifname for link in snapshot.links if link.master == bridge} | {bridge}
    return lambda entry: entry.master == bridge or entry.ifname in ports


def with_bridge_fdb(snapshot: Snapshot, bridge: str, entries: tuple[FdbEntry, ...]) -> Snapshot:
    """The snapshot with one bridge's FDB replaced by a fresh read of only that bridge, so
    the pane and the audit follow neighbour events without a full FDB dump."""
    listed = _in_bridge_fdb(snapshot, bridge)
    return replace(snapshot, fdb=tuple(e for e in snapshot.fdb if not listed(e)) + tuple(entries))


def fdb_rows(snapshot: Snapshot, bridge: str | None) -> list[FdbRow]:
    """The FDB of one bridge as `bridge fdb show br X` lists it, or every entry when
    bridge is None."""
    owners = mac_owners(snapshot)
    ovs_entries = ovs_fdb(snapshot, bridge)
    if ovs_entries is not None:  # an Open vSwitch bridge: ovs-appctl fdb/show's entries
        return [_fdb_row(*ovs_fdb_cells(entry), owners.get(entry.mac, "")) for entry in ovs_entries]
    listed = _in_bridge_fdb(snapshot, bridge) if bridge is not None else None
    vlan_of = fdb_vlan_of(snapshot)
    rows = []
    for entry in snapshot.fdb:
        if listed is not None and not listed(entry):
            continue
        state = entry.state or "learned"
        vlan = "" if (vid := vlan_of(entry)) is None else str(vid)
        owner = owners.get(entry.mac, "")
        age = "" if entry.updated is None else f"{entry.updated}s"
        rows.append(FdbRow(entry.mac, entry.ifname, vlan, state, age, owner,
                           f"{entry.mac} {entry.ifname} {vlan} {state} {owner}".lower()))
    return rows


def _fdb_row(mac: str, port: str, vlan: str, state: str, age: str, owner: str) -> FdbRow:
    return FdbRow(mac, port, vlan, state, age, owner, f"{mac} {port} {vlan} {state} {owner}".lower())


# The first is the pane's default: by state, the guests' learned MACs come before the
# bridge's and ports' own (permanent) addresses.
FDB_SORT_KEYS = ("state", "mac", "port", "vlan", "age", "owner")
FDB_STATE_ORDER = {"learned": 0, "stale": 1, "static": 2, "permanent": 3}


def sort_fdb(rows: list[FdbRow], key: str) -> list[FdbRow]:
    if key == "state":
        return sorted(rows, key=lambda r: (FDB_STATE_ORDER.get(r.state, len(FDB_STATE_ORDER)), r.state, r.mac))
    if key == "vlan":
        return sorted(rows, key=lambda r: (int(r.vlan) if r.vlan else -1, r.mac))
    if key == "age":
        return sorted(rows, key=lambda r: (int(r.age[:-1]) if r.age else -1, r.mac))
    return sorted(rows, key=lambda r: (getattr(r, key), r.mac))


@dataclass(frozen=True, slots=True)
class BondSlaveRow:
    bond: str
    mode: str
    slave: str
    active: bool
    mii_status: str
    speed: str
    duplex: str
    failures: int
    failures_grew: int  # since kvmtui started
    aggregator: str
    partner_mac: str
    partner_key: str
    alarm: str  # why the row stands out, "" when healthy


def bond_rows(snapshot: Snapshot, baseline: Mapping[tuple[str, str], int]) -> list[BondSlaveRow]:
    """One row per slave; failure growth is counted from `baseline` (failure_baseline())."""
    rows = []
    for bond in snapshot.bonds:
        aggregator = bond.active_aggregator
        for slave in bond.slaves:
            partner = slave.partner.system_mac if slave.partner else (aggregator.partner_mac if aggregator else None)
            partner_key = slave.partner.port_key if slave.partner else (aggregator.partner_key if aggregator else None)
            grew = slave.link_failure_count - baseline.get((bond.name, slave.name), slave.link_failure_count)
            rows.append(BondSlaveRow(
                bond=bond.name, mode=bond.mode, slave=slave.name, active=bond.active_slave == slave.name,
                mii_status=slave.mii_status, speed=_speed(slave.speed) if slave.speed else "?",
                duplex=slave.duplex or "?", failures=slave.link_failure_count, failures_grew=max(grew, 0),
                aggregator="" if slave.aggregator_id is None else str(slave.aggregator_id),
                partner_mac=partner or "", partner_key="" if partner_key is None else str(partner_key),
                alarm=_bond_alarm(bond, slave.mii_status, partner, grew),
            ))
    return rows + [BondSlaveRow(**fields) for fields in ovs_bond_rows(snapshot)]


def _speed(mbits: int) -> str:
    """A link's rated speed, as ethtool's Mb/s would be read: 100 Mbit/s, 2.5 Gbit/s, 10 Gbit/s."""
    return f"{mbits / 1000:g} Gbit/s" if mbits >= 1000 else f"{mbits} Mbit/s"


def _bond_alarm(bond: Bond, mii: str, partner: str | None, grew: int) -> str:
    if mii != "up":
        return f"MII {mii}"
    if bond.mode == "802.3ad" and (partner is None or partner == ZERO_MAC):
        return "no LACP partner"
    if grew > 0:
        return f"+{grew} failures"
    return ""


def failure_counts(snapshot: Snapshot) -> dict[tuple[str, str], int]:
    return {(b.name, s.name): s.link_failure_count for b in snapshot.bonds for s in b.slaves}


def failure_baseline(previous: Mapping[tuple[str, str], int], snapshot: Snapshot) -> dict[tuple[str, str], int]:
    """(bond, slave) -> its link failure count when kvmtui first saw it there, so growth
    shows for slaves enslaved later too. A slave gone from the snapshot is forgotten (back
    later, it starts afresh), and a count lower than its baseline means the slave or bond
    was re-created: the kernel counts from 0 again, so the baseline does too."""
    return {key: min(previous.get(key, count), count) for key, count in failure_counts(snapshot).items()}


@dataclass(frozen=True, slots=True)
class GuestRow:
    domain: str
    state: str
    type: str
    mac: str
    target: str
    lands_on: str
    model: str


def vlan_text(vlan: Vlan) -> str:
    """"vlan 42", "vlan 42,48 trunk": the words `ovs-vsctl` and the XML use."""
    return f"vlan {','.join(map(str, vlan.tags))}" + (" trunk" if vlan.trunk else "")


def guest_rows(snapshot: Snapshot) -> list[GuestRow]:
    rows = []
    for domain in snapshot.domains:
        if not domain.interfaces:
            rows.append(GuestRow(domain.name, domain.state, "", "", "", "no NIC", ""))
        for nic in domain.interfaces:
            if nic.type == "direct":
                lands = f"{nic.dev} (macvtap {nic.mode})"
            else:
                lands = nic.bridge or (f"network {nic.network}" if nic.network else (nic.source or ""))
            vlan = effective_vlan(nic, snapshot.networks)
            if vlan is not None:  # a portgroup's VLAN is nowhere in the domain XML
                lands = f"{lands}, {vlan_text(vlan)}" if lands else vlan_text(vlan)
            rows.append(GuestRow(domain.name, domain.state, nic.type, nic.mac or "", nic.target or "",
                                 lands, nic.model or ""))
    return rows


@dataclass(frozen=True, slots=True)
class NetworkRow:
    name: str
    active: bool
    forward: str
    bridge: str
    autostart: bool
    guests: str


def network_rows(snapshot: Snapshot) -> list[NetworkRow]:
    users: dict[str, set[str]] = {}
    for domain in snapshot.domains:
        for nic in domain.interfaces:
            if nic.network:
                users.setdefault(nic.network, set()).add(domain.name)
    return [NetworkRow(n.name, n.active, n.forward, n.bridge or "", n.autostart,
                       ", ".join(sorted(users.get(n.name, ())))) for n in snapshot.networks]


def index_forest(forest: tuple[TopologyNode, ...]) -> tuple[dict[str, TopologyNode], dict[str, str]]:
    """key -> node (full nodes only) and key -> parent key."""
    nodes: dict[str, TopologyNode] = {}
    parents: dict[str, str] = {}

    def visit(node: TopologyNode, parent: str | None) -> None:
        if node.ref is None:
            nodes[node.key] = node
            if parent is not None:
                parents[node.key] = parent
        for child in node.children:
            visit(child, node.key)

    for root in forest:
        visit(root, None)
    return nodes, parents


def path_to_wire(forest: tuple[TopologyNode, ...], key: str) -> list[TopologyNode]:
    """From a node (a guest NIC) up to the root of its tree: guest, vnet, bridge, ..., NIC."""
    nodes, parents = index_forest(forest)
    path = []
    while key in nodes:
        path.append(nodes[key])
        if key not in parents:
            break
        key = parents[key]
    return path


def link_details(snapshot: Snapshot, link: Link) -> list[tuple[str, str]]:
    """Every attribute worth reading about a link, as (label, value) lines."""
    lines = [("kind", link.kind or ("loopback" if "LOOPBACK" in link.flags else "physical NIC")),
             ("state", f"{link.operstate} ({', '.join(link.flags)})"),
             ("mac", link.mac or "-"), ("mtu", str(link.mtu) + (f" (max {link.max_mtu})" if link.max_mtu else ""))]
    if link.master:
        lines.append(("master", link.master))
    if link.link or link.link_index is not None:
        lines.append(("link", link.link or _elsewhere(link)))
    summary = link_summary(link, snapshot.bonds_by_name.get(link.ifname))
    if summary and summary != link.mac:
        lines.append(("summary", summary))
    lines += config_lines(snapshot, link.ifname)
    lines += owner_lines(snapshot, link.ifname)  # another program's: not to be cleaned up
    if (lower := underlay(snapshot, link)) is not None:
        lines.append(("underlay", lower))
    lines += vlan_detail_lines(snapshot, link)
    if link.info_data is not None:
        lines += [(f"{link.kind}.{k}", _seconds(v) if k in CENTISECONDS else _text(v)) for k, v in _fields(link.info_data)]
    if link.info_slave_data is not None:
        lines += [(f"port.{k}", _text(v)) for k, v in _fields(link.info_slave_data)]
    for address in link.addresses:
        lines.append((address.family, f"{address.local}/{address.prefixlen} scope {address.scope}"))
    if link.stats is not None:
        s = link.stats
        lines.append(("rx", f"{human_bytes(s.rx_bytes)}, {human_count(s.rx_packets)} pkts, "
                            f"{s.rx_errors} errors, {s.rx_dropped} dropped"))
        lines.append(("tx", f"{human_bytes(s.tx_bytes)}, {human_count(s.tx_packets)} pkts, "
                            f"{s.tx_errors} errors, {s.tx_dropped} dropped"))
    return lines


def config_lines(snapshot: Snapshot, ifname: str) -> list[tuple[str, str]]:
    """What manages the link at boot and its file ("config"), other backends that claim it
    too ("config also"); nothing when the configuration was not read (a recording without it)."""
    owner = snapshot.owners_by_name.get(ifname)
    if owner is None:
        return []
    if owner.backend is None:
        return [("config", f"none ({owner.why})")]
    lines = [("config", f"{owner.backend} {owner.file}" + (f" ({owner.why})" if owner.why else ""))]
    lines += [("config also", f"{claim.backend} {claim.file} ({claim.why})") for claim in owner.also]
    return lines


# The bridge's timers, which the kernel (and `dump --json`) keep in centiseconds; the
# wizard asks for seconds, so the details say seconds.
CENTISECONDS = frozenset({"forward_delay", "hello_time", "max_age", "ageing_time"})


def _seconds(centiseconds: int) -> str:
    return f"{centiseconds / 100:g} s"


def _elsewhere(link: Link) -> str:
    """An IFLA_LINK this namespace has no name for: its number, and where it lives."""
    if link.link_netnsid is None:
        return f"#{link.link_index}"
    where = f"netns {link.link_netns}" if link.link_netns else f"netns id {link.link_netnsid}"
    return f"#{link.link_index} in {where}"


def _fields(obj) -> list[tuple[str, object]]:
    return [(name, getattr(obj, name)) for name in obj.__dataclass_fields__]


def _text(value: object) -> str:
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return " ".join(f"{k}={v}" for k, v in value)  # virtualport parameters
    if isinstance(value, tuple):
        return ", ".join(map(str, value)) or "-"
    if value is None:
        return "-"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _portgroup_text(group: Portgroup) -> str:
    words = ["default"] if group.default else []
    if group.vlan_tags:
        words.append(vlan_text(Vlan(group.vlan_tags, group.vlan_trunk, "")))
    if group.virtualport is not None:
        port = f"virtualport {group.virtualport}".rstrip()  # "" is typeless: the network's type
        words.append(f"{port} {_text(group.virtualport_params)}" if group.virtualport_params else port)
    return ", ".join(words) or "-"


def network_details(network: Network) -> list[tuple[str, str]]:
    """Every field as a line; each portgroup on its own line, as the XML lists them."""
    lines = [(name, _text(value)) for name, value in _fields(network) if name not in ("portgroups", "xml")]
    lines += [(f"portgroup {group.name}", _portgroup_text(group)) for group in network.portgroups]
    return lines


def node_details(snapshot: Snapshot, forest: tuple[TopologyNode, ...], key: str) -> tuple[str, list[tuple[str, str]]]:
    """Title and (label, value) lines for whatever the tree's cursor is on."""
    key = target(key)  # a reference shows its full node
    link = snapshot.link(ifname_of(key))
    ovs_lines = ovs_details(snapshot, ifname_of(key)) if ifname_of(key) else []
    if link is not None:
        return link.ifname, ovs_lines + link_details(snapshot, link)
    if ovs_lines:  # an OVS node without a kernel device (a bond, a patch port, a userspace bridge)
        return ifname_of(key), ovs_lines
    if is_guest(key):
        found = guest_nic_of(snapshot, key)
        if found is not None:  # a NIC just detached: no details
            domain, nic = found
            lines = [("domain", f"{domain.name} ({domain.state})")]
            # not its `xml`: the element libvirt printed, kept for an undo, says what the lines above say
            lines += [(name, _text(value)) for name, value in _fields(nic)
                      if name != "xml" and value not in (None, (), False, "")]
            if nic.type == "direct" and nic.dev:  # macvtap: the host is cut off from it unless a shim is there
                shim = host_reach_shim(snapshot, nic.dev)
                lines.append(("host reach", f"via {shim.ifname} (macvlan bridge)" if shim else f"none through {nic.dev}: "
                              f"`kvmtui apply shim {nic.dev}` (a macvlan beside the macvtap)"))
            vlan = effective_vlan(nic, snapshot.networks)
            if vlan is not None and vlan.origin != "interface":
                lines.append(("effective vlan", f"{vlan_text(vlan)} (from {vlan.origin} of {nic.network})"))
            path = [node.name for node in path_to_wire(forest, key)]
            lines.append(("path to wire", " → ".join(path[1:]) if len(path) > 1 else "not connected"))
            return f"{domain.name} {nic.mac or ''}".strip(), lines
    name = network_of(key)
    network = next((n for n in snapshot.networks if n.name == name), None) if name is not None else None
    if network is not None:
        return f"network {network.name}", network_details(network)
    nodes, _ = index_forest(forest)
    node = nodes.get(key)
    if node is not None:
        return node.name, [("kind", node.kind), ("entries", node.summary)]
    return "nothing selected", []


def fdb_view_key(snapshot: Snapshot, bridge: str | None) -> tuple:
    """All that `fdb_rows(snapshot, bridge)` depends on: an equal key means equal rows,
    so the pane skips a rebuild (~150 ms at 50,000 entries). Cheap to compare: an FDB
    kept from the previous snapshot is the same tuple."""
    if bridge is None:
        return (None,)
    ovs_entries = ovs_fdb(snapshot, bridge)
    if ovs_entries is not None:
        return bridge, ovs_entries, mac_owners(snapshot)
    ports = frozenset(link.ifname for link in snapshot.links if link.master == bridge)
    return bridge, ports, snapshot.fdb, mac_owners(snapshot), fdb_vlan_key(snapshot, bridge)
