"""Bond rules. They read the bonding file's view (kvmtui.model.Bond), which is what the
kernel uses for failover, so they work on a bonding file alone as well as on a host; when
that file could not be read, the same rules judge netlink's bond data instead."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from kvmtui.audit.findings import Finding
from kvmtui.facts import ZERO_MAC
from kvmtui.model import Bond, BondInfo, BondSlave, BondSlaveInfo, Link, Snapshot
from kvmtui.node_keys import link_key

RULES = {
    "bond-slave-down": "a bond slave whose MII status is down",
    "bond-failures-grown": "a slave's link failure count grew since the previous snapshot",
    "bond-single-slave": "a bond with only one slave",
    "bond-lacp-no-partner": "802.3ad without an LACP partner (partner MAC 00:00:00:00:00:00, no active aggregator)",
    "bond-lacp-split": "802.3ad slaves in different aggregators",
    "bond-not-primary": "the active slave is not the configured primary although the primary is up",
    "bond-no-monitor": "neither MII nor ARP link monitoring",
}

PRIMARY_MODES = frozenset({"active-backup", "balance-tlb", "balance-alb"})
SEE = "cat /proc/net/bonding/{bond}"


def _from_netlink(snapshot: Snapshot, link: Link) -> Bond | None:
    """A bond as netlink describes it, for when neither /proc/net/bonding nor sysfs could be
    read (a container, a hardened host): enough for MII, slave count and monitoring."""
    info = link.info_data
    members = [s for s in snapshot.links if s.master == link.ifname and s.slave_kind == "bond"]
    if not isinstance(info, BondInfo) or not all(isinstance(s.info_slave_data, BondSlaveInfo) for s in members):
        return None
    slaves = tuple(
        BondSlave(s.ifname, s.info_slave_data.mii_status.lower().replace("_", " "), None, None,
                  s.info_slave_data.link_failure_count, s.info_slave_data.perm_hwaddr, s.info_slave_data.queue_id,
                  s.info_slave_data.ad_aggregator_id, state=s.info_slave_data.state.lower())
        for s in members)
    return Bond(
        name=link.ifname, source="netlink", driver_version=None, mode=info.mode, mode_text=info.mode,
        fail_over_mac=info.fail_over_mac, xmit_hash_policy=info.xmit_hash_policy, primary=info.primary,
        primary_reselect=info.primary_reselect, active_slave=info.active_slave, mii_status=None,
        miimon=info.miimon, updelay=info.updelay, downdelay=info.downdelay, peer_notify_delay=None,
        arp_interval=info.arp_interval, arp_ip_target=info.arp_ip_target, arp_validate=info.arp_validate,
        lacp_active=None, lacp_rate=info.ad_lacp_rate, min_links=info.min_links, ad_select=info.ad_select,
        ad_actor_sys_prio=None, ad_actor_system=None, active_aggregator=None, slaves=slaves)


def bonds(snapshot: Snapshot) -> list[Bond]:
    """Every bond: the bonding file's view, else the netlink one (see _from_netlink)."""
    found = list(snapshot.bonds)
    for link in snapshot.links:
        if link.kind == "bond" and link.ifname not in snapshot.bonds_by_name:
            bond = _from_netlink(snapshot, link)
            if bond is not None:
                found.append(bond)
    return found


def slave_down(snapshot: Snapshot) -> Iterator[Finding]:
    for bond in bonds(snapshot):
        down = [s for s in bond.slaves if s.mii_status == "down"]
        all_down = len(down) == len(bond.slaves)
        for slave in down:
            link = snapshot.link(slave.name)
            admin_down = link is not None and not link.is_up
            yield Finding(
                "bond-slave-down", "error" if all_down else "warning", link_key(slave.name),
                f"{bond.name} slave {slave.name}",
                f"slave {slave.name} of {bond.name} has MII status down"
                + (" (the device is administratively down)" if admin_down else "")
                + (f"; no slave of {bond.name} is up" if all_down else ""),
                f"{bond.name} carries no traffic at all" if all_down else
                f"{bond.name} runs without redundancy: one more failure and it is down",
                "bring the device up" if admin_down else
                "check the cable, transceiver and switch port; the NIC's view is in ethtool",
                (f"ip link set dev {slave.name} up",) if admin_down
                else (f"ethtool {slave.name}", SEE.format(bond=bond.name)),
            )


def failures_grown(previous: Snapshot, snapshot: Snapshot) -> Iterator[Finding]:
    before = {(b.name, s.name): s.link_failure_count for b in bonds(previous) for s in b.slaves}
    for bond in bonds(snapshot):
        for slave in bond.slaves:
            old = before.get((bond.name, slave.name))
            if old is None or slave.link_failure_count <= old:
                continue
            yield Finding(
                "bond-failures-grown", "warning", link_key(slave.name), f"{bond.name} slave {slave.name}",
                f"link failure count of {slave.name} grew from {old} to {slave.link_failure_count} "
                f"since {previous.host.taken_at}",
                "the link flaps: every failure is a failover with lost packets, and a flapping "
                "slave may soon stay down",
                "look for the cause in the kernel log and the NIC counters (cable, transceiver, "
                "switch port errors)",
                (f"journalctl -k --grep {slave.name}", f"ethtool -S {slave.name}"),
            )


def single_slave(snapshot: Snapshot) -> Iterator[Finding]:
    for bond in bonds(snapshot):
        if len(bond.slaves) != 1:
            continue
        only = bond.slaves[0].name
        yield Finding(
            "bond-single-slave", "warning", link_key(bond.name), bond.name,
            f"{bond.name} has one slave ({only})",
            "a bond with one slave has no redundancy: a second slave was removed (ifdown, "
            "hot-unplug) or never added",
            "enslave a second NIC (NIC below: it must be down to be enslaved), or let the "
            "kvmtui wizard do it",
            ("ip link set dev NIC down", f"ip link set dev NIC master {bond.name}"),
        )


def _up_slaves(bond: Bond):
    return [s for s in bond.slaves if s.mii_status == "up"]


def lacp_no_partner(snapshot: Snapshot) -> Iterator[Finding]:
    for bond in bonds(snapshot):
        if bond.mode != "802.3ad":
            continue
        fix = ("configure the switch ports as one LACP port-channel (LACP active or passive, "
               "not static 'on'), or use active-backup if the switch cannot do LACP")
        if bond.no_active_aggregator:
            yield Finding(
                "bond-lacp-no-partner", "error", link_key(bond.name), bond.name,
                f"the kernel says {bond.name} has no active aggregator",
                "LACP never came up: the bond has no port to send on",
                fix, (SEE.format(bond=bond.name),),
            )
            continue
        aggregator = bond.active_aggregator
        zero = aggregator is not None and aggregator.partner_mac == ZERO_MAC
        zero_slaves = [s.name for s in _up_slaves(bond) if s.partner is not None and s.partner.system_mac == ZERO_MAC]
        if not zero and not zero_slaves:
            continue
        plural = "s" if len(zero_slaves) > 1 else ""
        who = f" (slave{plural} {', '.join(zero_slaves)})" if zero_slaves else ""
        yield Finding(
            "bond-lacp-no-partner", "warning", link_key(bond.name), bond.name,
            f"{bond.name} has no LACP partner: partner MAC {ZERO_MAC}{who}",
            "no LACPDU comes back from the switch: the ports run as individual links, usually "
            "only one carries traffic, and a switch-side static LAG may loop or drop frames",
            fix, (SEE.format(bond=bond.name),),
        )


def lacp_split(snapshot: Snapshot) -> Iterator[Finding]:
    for bond in bonds(snapshot):
        if bond.mode != "802.3ad":
            continue
        ids = {s.name: s.aggregator_id for s in bond.slaves if s.aggregator_id is not None}
        if len(set(ids.values())) < 2:
            continue
        if bond.active_aggregator is not None:
            active = bond.active_aggregator.aggregator_id
        else:  # read without CAP_NET_ADMIN: the largest group is the best guess
            active = Counter(ids.values()).most_common(1)[0][0]
        outside = [f"{name} (aggregator {agg})" for name, agg in ids.items() if agg != active]
        yield Finding(
            "bond-lacp-split", "warning", link_key(bond.name), bond.name,
            f"{bond.name}'s slaves are in different aggregators: {', '.join(outside)} "
            f"outside the active aggregator {active}",
            "only the ports of the active aggregator carry traffic; the switch sees the others "
            "as another LAG (other switch, other port-channel, or different speed/duplex)",
            "put every port in the same port-channel on the switch and check that all slaves "
            "have the same speed and duplex",
            (SEE.format(bond=bond.name),),
        )


def not_primary(snapshot: Snapshot) -> Iterator[Finding]:
    for bond in bonds(snapshot):
        primary, active = bond.primary, bond.active_slave
        if bond.mode not in PRIMARY_MODES or not primary or primary == "None" or not active or active == primary:
            continue
        slave = bond.slave(primary)
        if slave is None or slave.mii_status != "up":
            continue  # a down primary is reported by bond-slave-down; failing over is right then
        reselect = f" (primary_reselect {bond.primary_reselect})" if bond.primary_reselect else ""
        yield Finding(
            "bond-not-primary", "warning", link_key(bond.name), bond.name,
            f"{bond.name} sends on {active}, not on its primary {primary}, which is up{reselect}",
            "traffic takes the path meant as backup (often a slower link or another switch); "
            "the bond did not return after a failover",
            "make the primary active again",
            (f"ip link set dev {bond.name} type bond active_slave {primary}",),
        )


def _monitoring(snapshot: Snapshot, bond: Bond) -> tuple[int, int]:
    """(miimon, arp_interval); the bonding file prints the ARP interval only when it is on."""
    miimon, arp = bond.miimon or 0, bond.arp_interval or 0
    link = snapshot.link(bond.name)
    if link is not None and isinstance(link.info_data, BondInfo) and bond.miimon is None:
        miimon, arp = link.info_data.miimon, link.info_data.arp_interval
    return miimon, arp


def no_monitor(snapshot: Snapshot) -> Iterator[Finding]:
    for bond in bonds(snapshot):
        miimon, arp = _monitoring(snapshot, bond)
        if miimon or arp:
            continue
        yield Finding(
            "bond-no-monitor", "warning", link_key(bond.name), bond.name,
            f"{bond.name} has neither MII nor ARP link monitoring (miimon 0, arp_interval 0)",
            "the bond never notices a dead slave: it keeps sending on it and the traffic is "
            "lost, so the bond gives no redundancy",
            "turn MII monitoring on (ARP monitoring is an alternative only in active-backup, "
            "balance-rr and balance-xor)",
            (f"ip link set dev {bond.name} type bond miimon 100",),
        )


CHECKS = (slave_down, single_slave, lacp_no_partner, lacp_split, not_primary, no_monitor)
DIFF_CHECKS = (failures_grown,)
