"""Plan + the host before it -> what the saved configuration must say afterwards (pure).

Read off the simulated host after the plan (plan/simulate.py), for every device the plan
changes or names: the whole device as it will run, so that a renderer can write it
without knowing which steps made it. Addresses the kernel gives by itself (link-local)
and routes it makes from an address (proto kernel) are not the configuration's; a
DHCP lease or a SLAAC address (dynamic: it has a lifetime), also one the plan moves to
another device, is saved as DHCP/autoconfiguration there, never as a static address,
and so are the routes its DHCP client or router advertisements added."""

from __future__ import annotations

from dataclasses import replace

from kvmtui.collect.netconfig.common import truth
from kvmtui.model import BondInfo, BridgeInfo, FdbEntry, Link, Snapshot, VlanInfo
from kvmtui.model.netconfig import ConfiguredDevice, ConfiguredRoute
from kvmtui.persist.model import Desired, wanted
from kvmtui.persist.overlay import described_fields
from kvmtui.persist.vlan_aware import vlan_table
from kvmtui.plan.model import Plan
from kvmtui.plan.simulate import simulate

# What a backend can save here; a veth or dummy stands for a NIC: configured by name, made by nobody.
KINDS = {None: "ethernet", "veth": "ethernet", "dummy": "ethernet", "bridge": "bridge", "bond": "bond", "vlan": "vlan",
         "vxlan": "vxlan", "macvlan": "macvlan"}
BOND_DEFAULTS = {"miimon": "0", "updelay": "0", "downdelay": "0", "arp_interval": "0", "min_links": "0",
                 "xmit_hash_policy": "layer2", "lacp_rate": "slow", "primary": ""}


def desired_config(plan: Plan, before: Snapshot) -> Desired:
    after = replace(simulate(before, plan.steps), fdb=_fdb_after(before.fdb, plan))
    devices: list[ConfiguredDevice] = []
    removed: list[str] = []
    leased = {(a.local, a.prefixlen) for link in before.links for a in link.addresses if a.dynamic}
    for name in dict.fromkeys(changed_devices(plan) + unsaved_filtering(plan, before, after)):
        link = after.link(name)
        if link is None:
            if before.link(name) is not None:
                removed.append(name)
        elif link.kind in KINDS and not getattr(link.info_data, "external", False):  # a flow-based vxlan: its owner's
            devices.append(described(link, after, leased))
    return Desired(tuple(devices), tuple(removed))


def _fdb_after(fdb: tuple[FdbEntry, ...], plan: Plan) -> tuple[FdbEntry, ...]:
    """The FDB with the plan's vxlan entries (`bridge fdb append ... dst`) added and removed:
    the simulation keeps no FDB."""
    from kvmtui.plan.steps import FdbAdd, FdbDel

    out = list(fdb)
    for step in plan.steps:
        if isinstance(step, FdbAdd) and step.dst is not None:
            out.append(FdbEntry(step.mac, step.target, 0, None, None, "permanent", ("self",), step.dst))
        elif isinstance(step, FdbDel) and step.dst is not None:
            out = [e for e in out if (e.ifname, e.mac, e.dst) != (step.target, step.mac, step.dst)]
    return tuple(out)


def changed_devices(plan: Plan) -> tuple[str, ...]:
    """The devices whose saved description changes: what the steps act on, and the masters
    they add ports to or take ports from. A new VLAN's parent is named, not changed."""
    from kvmtui.plan.steps import LinkSet

    names: dict[str, None] = {}
    for step in plan.steps:
        if step.backend == "kernel":
            names[step.target] = None
        if isinstance(step, LinkSet) and (master := dict(step.values).get("master")):
            names[master] = None
    return tuple(names)


def unsaved_filtering(plan: Plan, before: Snapshot, after: Snapshot) -> tuple[str, ...]:
    """The bridges whose ports' VLANs the plan sets while no saved configuration says that
    they filter VLANs: saved too, or the ports' VLANs would come back on a plain bridge."""
    from kvmtui.plan.steps import VlanAdd, VlanDel

    saved = before.netconfig.devices if before.netconfig is not None else ()
    filtering = {d.name for d in saved if truth(dict(d.bridge_options).get("vlan_filtering", "0"))}
    ports = (after.link(step.target) for step in plan.steps if isinstance(step, (VlanAdd, VlanDel)))
    masters = (port.master for port in ports if port is not None and port.kind in KINDS)  # not a guest's tap
    return tuple(m for m in masters if m and m not in filtering)


def described(link: Link, snapshot: Snapshot, leased: set[tuple[str, int]] = frozenset()) -> ConfiguredDevice:
    """`leased`: (address, prefix length) of the dynamic addresses before the plan."""
    kind = KINDS[link.kind]
    info = link.info_data
    own = [a for a in link.addresses if a.scope not in ("link", "host")]
    dynamic = [a for a in own if a.dynamic or (a.local, a.prefixlen) in leased]
    fields: dict[str, object] = {
        "master": link.master,
        "addresses": tuple(f"{a.local}/{a.prefixlen}" for a in own if a not in dynamic),
        "dhcp": tuple(sorted({"ipv4" if a.family == "inet" else "ipv6" for a in dynamic})),
        "routes": tuple(ConfiguredRoute(r.dst, r.gateway, r.metric) for r in snapshot.routes
                        if r.dev == link.ifname and r.table == 254 and r.type == "unicast"
                        and r.protocol not in ("kernel", "dhcp", "ra")),
        "mtu": link.mtu if link.mtu and link.mtu != 1500 else None,
    }
    if kind in ("bridge", "bond"):
        fields["ports"] = tuple(sorted(l.ifname for l in snapshot.links if l.master == link.ifname))
        fields["mac"] = link.mac if kind == "bridge" and link.mac else None  # a bridge that took its uplink's MAC
    if isinstance(info, BridgeInfo):
        fields["bridge_stp"] = info.stp_state != 0
        fields["bridge_options"] = (("forward_delay", str(info.forward_delay // 100)),) + (
            (("vlan_filtering", "1"),) if info.vlan_filtering else ())
    fields["vlans"] = vlan_table(link, snapshot)  # a VLAN-filtering bridge's, or its port's
    if isinstance(info, BondInfo):
        fields["bond_mode"] = info.mode
        fields["bond_options"] = bond_options(info)
    if isinstance(info, VlanInfo):
        fields.update(vlan_id=info.id, parent=link.link, vlan_protocol=info.protocol)
    if kind in ("vxlan", "macvlan"):
        fields.update(described_fields(link, snapshot))
    return wanted(link.ifname, kind, **fields)


def bond_options(info: BondInfo) -> tuple[tuple[str, str], ...]:
    """The bond's settings that differ from the driver's defaults, by their sysfs names."""
    values = {"miimon": str(info.miimon), "updelay": str(info.updelay), "downdelay": str(info.downdelay),
              "arp_interval": str(info.arp_interval), "min_links": str(info.min_links),
              "xmit_hash_policy": info.xmit_hash_policy or "layer2", "primary": info.primary or ""}
    if info.mode == "802.3ad":
        values["lacp_rate"] = info.ad_lacp_rate or "slow"
    out = [(key, value) for key, value in values.items() if value != BOND_DEFAULTS.get(key)]
    if info.arp_ip_target:
        out.append(("arp_ip_target", ",".join(info.arp_ip_target)))
    return tuple(out)
