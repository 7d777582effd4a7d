"""Deleting a bridge, bond, VLAN, vxlan or macvlan; an undo brings it back as it was, with
its ports (a vxlan with its static FDB entries, a macvlan shim with its routes).

`d` on a bridge or bond that carries the host's addresses opens a small form first: deleted
as it is, the device takes its addresses and the routes through it along (the host's way
out, when the default route is one); `--move-ip-to` hands them to one of its ports instead,
the only port by default."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.facts import global_addresses, ports
from kvmtui.foreign import ForeignOwner, foreign_owner, refusal
from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection
from kvmtui.model import Link, Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.bridge_undo import bridge_restore, port_restore
from kvmtui.plan.eligible import cidrs
from kvmtui.plan.expect import Expectation, LinkGone, LinkPresent
from kvmtui.plan.ip_move import move_ip, routes_on
from kvmtui.plan.model import Plan
from kvmtui.plan.recreate import fdb_left_out, macvlan_add, unrecreatable, vxlan_add, vxlan_fdb
from kvmtui.plan.validate import PlanError, existing_link

DELETABLE = ("bridge", "bond", "vlan", "vxlan", "macvlan")  # not macvtap: a guest's NIC (detach it)
MOVABLE_FROM = ("bridge", "bond")  # the kinds whose ports or slaves can take the addresses back


@dataclass(frozen=True, slots=True)
class DeleteLink:
    ifname: str
    move_ip_to: str | None = None  # a former port that takes the addresses and routes back


def carries_addresses(snapshot: Snapshot, ifname: str) -> bool:
    """Whether `d` on the device asks where its addresses go before planning."""
    link = snapshot.link(ifname)
    return link is not None and link.kind in MOVABLE_FROM and bool(global_addresses(link)) \
        and _owned(snapshot, ifname) is None  # another program's: refused at once, no form


def _move_to(snapshot: Snapshot, selection: Selection) -> Offer:
    ifname = selection.ifname or ""
    link = snapshot.link(ifname)
    members = sorted(m.ifname for m in ports(snapshot, ifname))
    default_route = any(r.dst == "default" and r.dev == ifname for r in snapshot.routes)
    carried = ", ".join(global_addresses(link) if link is not None else ()) + (
        " and the default route" if default_route else "")
    cut_off = " and this host loses its way out" if default_route else ""
    return Offer(members[0] if len(members) == 1 else None, tuple((name, name) for name in members),
                 f"empty: they are deleted with {ifname}{cut_off}",
                 f"Move {carried} to")


def _title(snapshot: Snapshot, selection: Selection) -> str:
    link = snapshot.link(selection.ifname)
    return f"Delete {link.kind if link is not None else 'device'} {selection.ifname}"


PARAMS = (
    Param("ifname", "the bridge, bond, VLAN, vxlan or macvlan to delete",
          offer=lambda _, selection: Offer(selection.ifname)),
    Param("move_ip_to", "give the addresses and routes back to this former port", "--move-ip-to", "IF",
          label="Move addresses to", widget="choice", offer=_move_to, optional=True),
)


def _recreate(link: Link) -> s.Step:
    """The link_add that brings a deleted device back as it was: its MAC (its IPv6
    link-local address follows from it), MTU and its kind's settings. Only the ifindex
    is new; its master and a bond's primary come back by steps of their own (plan_delete)."""
    if link.kind == "vxlan":
        return vxlan_add(link)
    if link.kind == "macvlan":
        return macvlan_add(link)
    device: s.Settings = ((("address", link.mac),) if link.mac else ()) + (("mtu", str(link.mtu)),)
    info = link.info_data
    if link.kind == "bridge":
        settings = device + (("stp_state", str(info.stp_state)), ("forward_delay", str(info.forward_delay)),
                             ("hello_time", str(info.hello_time)), ("max_age", str(info.max_age)),
                             ("ageing_time", str(info.ageing_time)), ("priority", str(info.priority)))
        if info.vlan_filtering:
            settings += (("vlan_filtering", "1"),)
        return s.link_add(link.ifname, "bridge", settings)
    if link.kind == "bond":
        settings = device + (("mode", info.mode), ("miimon", str(info.miimon)))
        if info.arp_interval:
            settings += (("arp_interval", str(info.arp_interval)), ("arp_ip_target", ",".join(info.arp_ip_target)))
        if info.mode == "802.3ad" and info.ad_lacp_rate:
            settings += (("lacp_rate", info.ad_lacp_rate),)
        if info.xmit_hash_policy:  # the driver takes it in every mode and keeps it across mode changes
            settings += (("xmit_hash_policy", info.xmit_hash_policy),)
        return s.link_add(link.ifname, "bond", settings + _bond_tuning(info))
    return s.link_add(link.ifname, "vlan", device + (("protocol", info.protocol), ("id", str(info.id))), parent=link.link)


def _bond_tuning(info) -> s.Settings:
    """The bond options that differ from the driver's defaults, so an undone delete does
    not come back with other delays, failover or aggregator selection."""
    defaults = (("updelay", 0), ("downdelay", 0), ("arp_validate", None), ("primary_reselect", "always"),
                ("fail_over_mac", "none"), ("ad_select", "stable"), ("min_links", 0))
    return tuple((key, str(getattr(info, key))) for key, default in defaults
                 if getattr(info, key) not in (default, None))


def _members(snapshot: Snapshot, link: Link) -> list[Link]:
    """Ports or slaves in the order they joined (a bond's slave order, else ifindex order):
    released in reverse, an undo puts them back in that order (the same active slave,
    the same bridge port numbers)."""
    members = [other for other in snapshot.links if other.master == link.ifname]
    bond = snapshot.bonds_by_name.get(link.ifname)
    if bond is not None:
        order = [slave.name for slave in bond.slaves]
        members.sort(key=lambda m: order.index(m.ifname) if m.ifname in order else len(order))
    return members


def _owned(snapshot: Snapshot, ifname: str) -> ForeignOwner | None:
    """Its owner when another program made this very device (not as a port of its bridge)."""
    owner = foreign_owner(snapshot, ifname)
    return owner if owner is not None and owner.device == ifname else None


def plan_delete(intent: DeleteLink, snapshot: Snapshot) -> Plan:
    link = existing_link(snapshot, intent.ifname, "ifname")
    owner = _owned(snapshot, link.ifname)
    if owner is not None:  # docker0, lxcbr0, vboxnet0...: its owner would break, or make it again
        raise PlanError("ifname", refusal(owner, link.ifname))
    if link.kind not in DELETABLE:
        what = link.kind or ("the loopback device" if "LOOPBACK" in link.flags else "a physical NIC")
        raise PlanError("ifname", f"{link.ifname} is {what}; kvmtui deletes bridges, bonds, VLANs, "
                                  "vxlans and macvlans only")
    if (why := unrecreatable(link)) is not None:
        raise PlanError("ifname", why)
    warnings = []
    members = _members(snapshot, link)
    networks = sorted(n.name for n in snapshot.networks if n.bridge == link.ifname)
    guests = [d.name for d in snapshot.domains if d.active for nic in d.interfaces
              if nic.target in {m.ifname for m in members} or nic.bridge == link.ifname or nic.network in networks]
    if guests:
        warnings.append(f"guests lose their network on {link.ifname}: {', '.join(sorted(set(guests)))}")
    if networks:
        warnings.append(f"libvirt network {', '.join(networks)} is built on {link.ifname}: "
                        f"stop it first (virsh net-destroy), or libvirt is left with a network that has no bridge")
    uppers = [other.ifname for other in snapshot.links
              if (other.link == link.ifname and other.kind in ("vlan", "macvlan", "macvtap"))
              or (other.kind == "vxlan" and other.info_data is not None and other.info_data.link == link.ifname)]
    if uppers:
        raise PlanError("ifname", f"{link.ifname} carries {', '.join(uppers)}: delete those first")
    target = None
    if intent.move_ip_to:
        target = existing_link(snapshot, intent.move_ip_to, "move_ip_to")
        if target.ifname not in {m.ifname for m in members}:
            raise PlanError("move_ip_to", f"{target.ifname} is not a port of {link.ifname}")
    elif link.addresses and cidrs(link):
        warnings.append(f"addresses go with it: {', '.join(cidrs(link))}")
    if target is None and any(r.dst == "default" for r in routes_on(snapshot, link.ifname)):
        warnings.append(f"the default route goes through {link.ifname}: this host loses its way out")
    moved = move_ip(snapshot, link, target.ifname if target is not None else link.ifname)
    steps = []
    primary = getattr(link.info_data, "primary", None) if link.kind == "bond" else None
    if primary:  # undone last, once the slaves are back: a primary must be a slave
        steps.append(s.link_set(link.ifname, (("primary", ""),), (("primary", primary),), kind="bond"))
    steps += moved.off
    if link.is_up:  # down first: undone, it comes up with its ports back, and so with their MAC
        steps.append(s.link_set(link.ifname, (("state", "down"),), (("state", "up"),)))
    # A bridge forgets what it knew of a port it releases: the undo tells it again.
    steps += [s.undone_with(s.link_set(m.ifname, (("master", ""),), (("master", link.ifname),)),
                            port_restore(snapshot, m)) for m in reversed(members)]
    if link.master:  # undone right after the device is back: a VLAN returns into its bridge
        steps.append(s.undone_with(s.link_set(link.ifname, (("master", ""),), (("master", link.master),)),
                                   port_restore(snapshot, link)))
    own = bridge_restore(snapshot, link) if link.kind == "bridge" else \
        vxlan_fdb(snapshot, link) if link.kind == "vxlan" else []
    if left_out := fdb_left_out(snapshot, link):
        warnings.append(f"an undo would not give back {link.ifname}'s FDB entries with a VNI of their own: "
                        f"{', '.join(left_out)}")
    steps.append(s.undone_with(s.link_del(link.ifname, inverse=_recreate(link)), own))
    # The bonding driver closes the slaves it releases; a bridge leaves its ports as they were.
    reopened = [m for m in members if m.is_up] if link.kind == "bond" else []
    steps += [s.link_set(m.ifname, (("state", "up"),), (("state", "down"),)) for m in reopened]
    expectations: list[Expectation] = [LinkGone(link.ifname)]
    expectations += [LinkPresent(m.ifname, master="", up=True if m in reopened else None) for m in members]
    if target is not None:
        steps += moved.on
        expectations += moved.expectations
        warnings += moved.warnings
    return Plan(intent, f"delete {link.kind} {link.ifname}", tuple(steps), tuple(expectations), tuple(warnings))


SPEC = KindSpec("delete", DeleteLink, PARAMS, plan_delete, help="delete a bridge, bond, VLAN, vxlan or macvlan",
                title=_title)
