"""A bond's runtime health as /proc/net/bonding/<bond> (or sysfs) reports it.

Netlink's BondInfo carries the configuration; this carries what an administrator
reads in the bonding file: per-slave MII status, speed, failures, LACP partners.
Names follow `ip -d -j link show` where ip has the same field.
"""

from __future__ import annotations

from dataclasses import dataclass

@dataclass(frozen=True, slots=True)
class LacpPort:
    """One side of a slave's LACP state ("details actor/partner lacp pdu")."""

    system_priority: int | None
    system_mac: str | None
    port_key: int | None
    port_priority: int | None
    port_number: int | None
    port_state: int | None


@dataclass(frozen=True, slots=True)
class Aggregator:
    """The bond's "Active Aggregator Info" block (802.3ad only)."""

    aggregator_id: int
    number_of_ports: int | None
    actor_key: int | None
    partner_key: int | None
    partner_mac: str | None


@dataclass(frozen=True, slots=True)
class BondSlave:
    name: str
    mii_status: str  # "up" | "down" | "going down" | "going back"
    speed: int | None  # Mb/s; None when unknown or not printed
    duplex: str | None  # "full" | "half"; None when unknown or not printed
    link_failure_count: int
    perm_hwaddr: str | None  # "Permanent HW addr"; None when printed empty
    queue_id: int | None
    aggregator_id: int | None
    actor_churn_state: str | None = None
    partner_churn_state: str | None = None
    actor_churned_count: int | None = None
    partner_churned_count: int | None = None
    actor: LacpPort | None = None
    partner: LacpPort | None = None
    extra: tuple[tuple[str, str], ...] = ()  # lines this parser does not know, kept verbatim
    state: str | None = None  # "active" | "backup": sysfs bonding_slave/state only; procfs does not print it

    @property
    def healthy(self) -> bool:
        return self.mii_status == "up"


@dataclass(frozen=True, slots=True)
class Bond:
    name: str
    source: str  # "procfs" | "sysfs"
    driver_version: str | None  # "3.7.1", "2.6.1", "6.8.0-90-generic"
    mode: str  # one of vocabulary.BOND_MODES
    mode_text: str  # the "Bonding Mode:" line as printed
    fail_over_mac: str | None
    xmit_hash_policy: str | None
    primary: str | None
    primary_reselect: str | None
    active_slave: str | None
    mii_status: str | None
    miimon: int | None
    updelay: int | None
    downdelay: int | None
    peer_notify_delay: int | None
    arp_interval: int | None
    arp_ip_target: tuple[str, ...]
    arp_validate: str | None
    lacp_active: str | None
    lacp_rate: str | None
    min_links: int | None
    ad_select: str | None
    ad_actor_sys_prio: int | None
    ad_actor_system: str | None
    active_aggregator: Aggregator | None
    slaves: tuple[BondSlave, ...]
    extra: tuple[tuple[str, str], ...] = ()
    driver_date: str | None = None  # "April 27, 2011" from the header; kernel-release versions have none
    # The kernel said so ("bond bond0 has no active aggregator", sysfs ad_aggregator 0): LACP
    # did not come up. Distinct from active_aggregator None alone, which may mean "not shown".
    no_active_aggregator: bool = False
    # What the file said that cannot be so (a slave without a name or listed twice, a negative
    # failure count), each a sentence; the slave concerned is left out rather than guessed at.
    problems: tuple[str, ...] = ()

    def slave(self, name: str) -> BondSlave | None:
        return next((s for s in self.slaves if s.name == name), None)
