"""The bond part of `set` (kinds/set_link.py): slaves in and out, MII or ARP monitoring,
primary, LACP rate, transmit hash policy, and a new mode by a rebuild. What the bonding
driver takes (Debian's 6.1, read in the kernel VM): monitoring, primary and the hash policy
on a live bond; lacp_rate only while the bond is down; the mode only while it is down and
has no slaves. It enslaves only devices that are down (it opens them), closes a device it
releases, and gives itself a random MAC when its last slave leaves (the next first slave's
MAC when one comes back). Each step is undone to the value the Snapshot shows."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kvmtui.kinds.bond import bond_netlink_args, check_arp_targets
from kvmtui.kinds.spec import Offer, Param, Selection, comma_separated, device_choices, tuple_of
from kvmtui.model import BondInfo, BondSlaveInfo, Link, Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.eligible import BOND_SLAVE, left_out, member_unfit, sort_members
from kvmtui.plan.expect import AddressOn, Expectation, LinkPresent, LinkSetting, RouteVia
from kvmtui.plan.ip_move import enslave, move_ip
from kvmtui.plan.steps.links import SETTABLE_KINDS, SettableKind
from kvmtui.plan.validate import PlanError, existing_link, kernel_name, listed
from kvmtui.vocabulary import BOND_MODES, LACP_RATE, XMIT_HASH

BOND_FIELDS = {"add_slaves": "adding slaves", "remove_slaves": "removing slaves", "mode": "the bonding mode",
               "miimon": "MII monitoring", "updelay": "the up delay", "downdelay": "the down delay",
               "arp_interval": "ARP monitoring", "arp_ip_target": "ARP targets", "primary": "a primary slave",
               "lacp_rate": "the LACP rate", "xmit_hash_policy": "the transmit hash policy"}
NO_ARP_MODES = ("802.3ad", "balance-tlb", "balance-alb")  # the driver refuses ARP monitoring in them
PRIMARY_MODES = ("active-backup", "balance-tlb", "balance-alb")
HASH_MODES = ("balance-xor", "802.3ad", "balance-tlb", "balance-alb")  # where the driver uses the policy
DEFAULT_MIIMON = 100  # what the driver turns on when a new mode ends ARP monitoring
MONITORING = ("miimon", "updelay", "downdelay", "arp_interval", "arp_ip_target")
SNAPSHOT_KEYS = {"lacp_rate": "ad_lacp_rate"}  # ip's word -> BondInfo's field where they differ


def _netlink_args(settings: dict[str, str]) -> dict[str, object]:
    args = bond_netlink_args({key: value for key, value in settings.items() if key != "arp_ip_target"})
    if "arp_ip_target" in settings:  # an empty list clears them (an empty IFLA_BOND_ARP_IP_TARGET)
        args["bond_arp_ip_target"] = [target for target in settings["arp_ip_target"].split(",") if target]
    return args


def _simulated(info: object, settings: dict[str, str]) -> object:
    if not isinstance(info, BondInfo):
        return info
    if "mode" in settings:  # what the driver resets first
        info = _after_mode(info, settings["mode"])
    changes: dict[str, object] = {key: int(settings[key]) for key in ("miimon", "updelay", "downdelay", "arp_interval")
                                  if key in settings}
    changes |= {SNAPSHOT_KEYS.get(key, key): settings[key] for key in ("mode", "xmit_hash_policy", "lacp_rate",
                                                                       "arp_validate") if key in settings}
    if "arp_ip_target" in settings:
        changes["arp_ip_target"] = tuple(filter(None, settings["arp_ip_target"].split(",")))
    if "primary" in settings:
        changes["primary"] = settings["primary"] or None
    return replace(info, **changes)


SETTABLE_KINDS["bond"] = SettableKind(_netlink_args, _simulated)


def _bond_of(snapshot: Snapshot, selection: Selection) -> Link | None:
    link = snapshot.link(selection.ifname)
    return link if link is not None and isinstance(link.info_data, BondInfo) else None


def _now(read, names: tuple[str, ...] = ()):
    """An offer of the selected bond's current value (one of `names`, if given); None (not
    asked) on another device."""
    def offer(snapshot: Snapshot, selection: Selection) -> Offer | None:
        bond = _bond_of(snapshot, selection)
        return None if bond is None else Offer(read(bond.info_data), tuple((name, name) for name in names))
    return offer


def _addable(snapshot: Snapshot, selection: Selection) -> Offer | None:
    bond = _bond_of(snapshot, selection)
    if bond is None:
        return None
    free, unfit = sort_members(snapshot, BOND_SLAVE)
    return Offer((), device_choices(free), left_out([(l, why) for l, why in unfit if l.master != bond.ifname]))


def _removable(snapshot: Snapshot, selection: Selection) -> Offer | None:
    bond = _bond_of(snapshot, selection)
    return None if bond is None else Offer((), device_choices(slaves_of(snapshot, bond)))


BOND_PARAMS = (
    Param("add_slaves", "bond: enslave IF (repeat for more), a NIC without addresses in no bond or bridge",
          "--add-slave", "IF", repeat=True, cli_default=[], from_cli=tuple_of,
          label="Add slaves (Space selects; each is taken down to be enslaved)", widget="many", offer=_addable,
          from_form=tuple_of),
    Param("remove_slaves", "bond: release slave IF (repeat for more); it comes back up on its own", "--remove-slave",
          "IF", repeat=True, cli_default=[], from_cli=tuple_of, label="Remove slaves (Space selects)", widget="many",
          offer=_removable, from_form=tuple_of),
    Param("mode", f"bond: a new mode, {listed(BOND_MODES)}: the bond is rebuilt (its slaves out, down, the mode, its "
                  "slaves back, up): traffic through it stops meanwhile", "--mode", "MODE",
          label="Mode (a change rebuilds the bond: traffic stops)", widget="choice",
          offer=_now(lambda info: info.mode, BOND_MODES)),
    Param("miimon", "bond: MII monitoring interval in ms (0: off)", "--miimon", "MS", type=int,
          label="MII monitoring interval, ms (0: off)", widget="number", offer=_now(lambda info: info.miimon)),
    Param("updelay", "bond: ms before a slave whose link came back is used, a multiple of miimon", "--updelay", "MS",
          type=int, label="Up delay, ms (a multiple of the MII interval)", widget="number",
          offer=_now(lambda info: info.updelay)),
    Param("downdelay", "bond: ms before a slave whose link went is dropped, a multiple of miimon", "--downdelay",
          "MS", type=int, label="Down delay, ms (a multiple of the MII interval)", widget="number",
          offer=_now(lambda info: info.downdelay)),
    Param("arp_interval", "bond: ARP monitoring interval in ms, instead of MII (0: off; not in 802.3ad, "
                          "balance-tlb, balance-alb)", "--arp-interval", "MS", type=int,
          label="ARP monitoring interval, ms (instead of MII; 0: off)", widget="number",
          offer=_now(lambda info: info.arp_interval)),
    Param("arp_ip_target", "bond: IPv4 address ARP monitoring asks (repeat; replaces the list)", "--arp-ip-target",
          "IP", repeat=True, cli_default=[], from_cli=tuple_of, label="ARP targets, comma separated",
          offer=_now(lambda info: ", ".join(info.arp_ip_target)), from_form=comma_separated),
    Param("primary", "bond: the preferred slave (active-backup, balance-tlb, balance-alb); `none`: no primary",
          "--primary", "IF", from_cli=lambda value: "" if value == "none" else value,
          label="Primary slave (active-backup, tlb, alb; empty: none)", offer=_now(lambda info: info.primary or ""),
          from_form=lambda value: value or ""),
    Param("lacp_rate", f"bond: 802.3ad only, {listed(LACP_RATE)}; the bond goes down for it (the driver's rule)",
          "--lacp-rate", "R", label="LACP rate (802.3ad; the bond goes down briefly)", widget="choice",
          offer=_now(lambda info: info.ad_lacp_rate, LACP_RATE)),
    Param("xmit_hash_policy", f"bond: balance-xor, 802.3ad, balance-tlb, balance-alb: {listed(XMIT_HASH)}",
          "--xmit-hash-policy", "P", label="Transmit hash policy (balance-xor, 802.3ad, tlb, alb)", widget="choice",
          offer=_now(lambda info: info.xmit_hash_policy, XMIT_HASH)),
)


@dataclass
class BondChange:
    """Slaves released first (`leave`); the rest after the device's own changes (`join`)."""

    leave: list[s.Step] = field(default_factory=list)
    join: list[s.Step] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def asks_bond(intent) -> str | None:
    """The first bond-only field the intent sets, if any."""
    return next((name for name in BOND_FIELDS if getattr(intent, name, None) not in (None, ())), None)


def slaves_of(snapshot: Snapshot, bond: Link) -> list[Link]:
    return [link for link in snapshot.links if link.master == bond.ifname]


def _release(bond: Link, slave: Link) -> s.Step:
    return s.link_set(slave.ifname, (("master", ""),), (("master", bond.ifname),))


def _up_again(slave: Link) -> s.Step:
    """The driver closed it on release; the undo's enslave needs it down again."""
    return s.link_set(slave.ifname, (("state", "up"),), (("state", "down"),))


def _check_slaves(snapshot: Snapshot, bond: Link, intent) -> tuple[list[Link], list[Link]]:
    both = sorted(set(intent.add_slaves) & set(intent.remove_slaves))
    if both:
        raise PlanError("remove_slaves", f"{', '.join(both)} is both added and removed")
    removed: list[Link] = []
    for name in intent.remove_slaves:
        slave = existing_link(snapshot, name, "remove_slaves")
        if slave in removed:
            raise PlanError("remove_slaves", f"{name} is listed twice")
        if slave.master != bond.ifname:
            where = f" (it is in {slave.master})" if slave.master else ""
            raise PlanError("remove_slaves", f"{name} is not a slave of {bond.ifname}{where}")
        removed.append(slave)
    added: list[Link] = []
    for name in intent.add_slaves:
        slave = existing_link(snapshot, name, "add_slaves")
        if slave in added:
            raise PlanError("add_slaves", f"{name} is listed twice")
        if slave.master == bond.ifname:
            raise PlanError("add_slaves", f"{name} is already a slave of {bond.ifname}")
        unfit = member_unfit(snapshot, slave, BOND_SLAVE)
        if unfit is not None:
            raise PlanError("add_slaves", unfit.reason)
        added.append(slave)
    return removed, added


def _millis(intent, name: str) -> int | None:
    value = getattr(intent, name)
    if value is not None and value < 0:
        raise PlanError(name, f"{BOND_FIELDS[name]} is given in milliseconds, 0 or more; {value} is not")
    return value


def _monitoring(info: BondInfo, intent, mode: str) -> dict[str, str]:
    """The monitoring values that change (ip's words), checked as the driver would."""
    miimon, arp, up, down = (_millis(intent, name) for name in ("miimon", "arp_interval", "updelay", "downdelay"))
    mii_changed = miimon is not None and miimon != info.miimon
    arp_changed = arp is not None and arp != info.arp_interval
    miimon_after = miimon if mii_changed else info.miimon
    arp_after = arp if arp_changed else info.arp_interval
    if mii_changed and arp_changed and miimon_after and arp_after:
        raise PlanError("arp_interval", "choose MII or ARP monitoring, not both: one of them 0")
    if arp_changed and arp_after:  # ARP replaces MII
        miimon_after = 0
    elif mii_changed and miimon_after:
        arp_after = 0
    if arp_after and mode in NO_ARP_MODES:
        raise PlanError("arp_interval", f"ARP monitoring does not work in {mode} mode; use MII monitoring")
    targets = tuple(intent.arp_ip_target or ()) or info.arp_ip_target
    if targets != info.arp_ip_target:
        check_arp_targets(targets)
    if arp_after and not targets:
        raise PlanError("arp_ip_target", "ARP monitoring needs at least one target address (--arp-ip-target)")
    after = {"miimon": miimon_after, "arp_interval": arp_after}
    for name, value, before in (("updelay", up, info.updelay), ("downdelay", down, info.downdelay)):
        if value is None or value == before:
            continue
        if value and not miimon_after:
            raise PlanError(name, f"{BOND_FIELDS[name]} counts MII monitoring intervals: it needs MII monitoring "
                                  "(miimon) on")
        if value and value % miimon_after:
            raise PlanError(name, f"{BOND_FIELDS[name]} is a multiple of the MII interval ({miimon_after} ms): the "
                                  f"driver would round {value} down to {value // miimon_after * miimon_after}")
        after[name] = value
    changes = {key: str(value) for key, value in after.items() if value != getattr(info, key)}
    if targets != info.arp_ip_target:
        changes["arp_ip_target"] = ",".join(targets)
    return changes


def _options(info: BondInfo, intent, mode: str, slaves_after: list[str]) -> dict[str, str]:
    """Every bond option that changes but the mode, as ip's words, from `info`: the bond
    as the new mode leaves it."""
    changes = _monitoring(info, intent, mode)
    policy = kernel_name("xmit_hash_policy", intent.xmit_hash_policy, XMIT_HASH, "transmit hash policy")
    if policy is not None and policy != info.xmit_hash_policy:
        if mode not in HASH_MODES:
            raise PlanError("xmit_hash_policy", f"a transmit hash policy applies to {', '.join(HASH_MODES)}, "
                                                f"not {mode}")
        changes["xmit_hash_policy"] = policy
    rate = kernel_name("lacp_rate", intent.lacp_rate, LACP_RATE, "LACP rate")
    if rate is not None and rate != info.ad_lacp_rate:
        if mode != "802.3ad":
            raise PlanError("lacp_rate", f"the LACP rate applies to 802.3ad only, not {mode}")
        changes["lacp_rate"] = rate
    primary = intent.primary
    if primary is not None and primary != (info.primary or ""):
        if primary and mode not in PRIMARY_MODES:
            raise PlanError("primary", f"a primary slave applies to {', '.join(PRIMARY_MODES)}, not {mode}")
        if primary and primary not in slaves_after:
            raise PlanError("primary", f"{primary} is not a slave of the bond (its slaves: "
                                       f"{', '.join(slaves_after) or 'none'})")
        changes["primary"] = primary
    return changes


def _after_mode(info: BondInfo, mode: str) -> BondInfo:
    """The bond as the driver leaves it once it takes a new mode: without ARP monitoring in
    a mode that has none (MII at 100 ms if it had no monitoring), arp_validate reset."""
    if mode == info.mode:
        return info
    after = replace(info, mode=mode, arp_validate="none" if info.arp_validate else None)
    if mode in NO_ARP_MODES:
        after = replace(after, arp_interval=0, miimon=info.miimon or DEFAULT_MIIMON)
    return after


def _before(info: BondInfo, key: str) -> str:
    value = getattr(info, SNAPSHOT_KEYS.get(key, key))
    return ",".join(value) if key == "arp_ip_target" else "" if value is None else str(value)


def _undo_mode(info: BondInfo, after: BondInfo) -> s.Settings:
    """The old mode, and what the driver changed when it took the new one. The driver
    applies a netlink message's settings one by one and stops at a refused one, the
    earlier ones kept: so the mode goes alone, and each other setting is a step of its
    own, made against the bond as the new mode left it."""
    keys = ["mode"] + [key for key in ("miimon", "arp_interval") if getattr(after, key) != getattr(info, key)]
    if after.arp_interval != info.arp_interval:
        keys.append("arp_ip_target")
    if after.arp_validate != info.arp_validate:
        keys.append("arp_validate")
    return tuple((key, _before(info, key)) for key in keys)


def _option_steps(bond: Link, info: BondInfo, changes: dict[str, str]) -> list[s.Step]:
    """Monitoring in one step (MII and ARP exclude each other: both change at once), the
    hash policy and the LACP rate in one each; each undone to `info`'s values."""
    groups = [[key for key in MONITORING if key in changes]]
    groups += [[key] for key in ("xmit_hash_policy", "lacp_rate") if key in changes]
    return [s.link_set(bond.ifname, tuple((key, changes[key]) for key in keys),
                       tuple((key, _before(info, key)) for key in keys), kind="bond") for keys in groups if keys]


def _quiet_while_down(snapshot: Snapshot, bond: Link) -> tuple[list[s.Step], list[s.Step], list[Expectation]]:
    """A bond that goes down takes its VLANs down with it (and up again after), and the
    kernel drops their routes and IPv6 addresses: steps of their own take them off first
    (an undo puts them back) and put them back once the bond is up."""
    off: list[s.Step] = []
    on: list[s.Step] = []
    expectations: list[Expectation] = []
    for dev in [bond] + [l for l in snapshot.links if l.link == bond.ifname and l.kind == "vlan"
                         and l.link_netnsid is None]:
        moved = move_ip(snapshot, dev, dev.ifname)
        off += [step for step in moved.off if isinstance(step, s.RouteDel) or ":" in step.cidr]
        back = [step for step in moved.on if isinstance(step, s.RouteAdd) or ":" in step.cidr]
        on += back
        expectations += [AddressOn(dev.ifname, step.cidr) if isinstance(step, s.AddrAdd)
                         else RouteVia(step.route.dst, dev.ifname) for step in back]
        if dev is not bond and dev.is_up:
            expectations.append(LinkPresent(dev.ifname, up=True))
    return off, on, expectations


def _mac_owner(bond: Link, slaves: list[Link]) -> Link | None:
    """The slave whose own MAC the bond took (its first one), if any."""
    return next((l for l in slaves if isinstance(l.info_slave_data, BondSlaveInfo)
                 and (l.info_slave_data.perm_hwaddr or "").lower() == (bond.mac or "").lower()), None)


def bond_change(snapshot: Snapshot, bond: Link, intent) -> BondChange:
    """Steps, expectations and warnings for the bond-only fields of a SetLink."""
    change = BondChange()
    asked = asks_bond(intent)
    if asked is None:
        return change
    if not isinstance(bond.info_data, BondInfo):
        raise PlanError(asked, f"{bond.ifname} is {'a ' + bond.kind if bond.kind else 'not a bond'}: "
                               f"{BOND_FIELDS[asked]} is for bonds only")
    info = bond.info_data
    mode = kernel_name("mode", intent.mode, BOND_MODES, "bonding mode") or info.mode
    removed, added = _check_slaves(snapshot, bond, intent)
    kept = [l for l in slaves_of(snapshot, bond) if l not in removed]
    rebuild = mode != info.mode
    settled = _after_mode(info, mode)
    changes = _options(settled, intent, mode, [l.ifname for l in kept + added])
    primary = changes.pop("primary", None)
    bounce = bond.is_up and (rebuild or "lacp_rate" in changes)
    for slave in removed:
        change.leave += [_release(bond, slave), _up_again(slave)]
        change.expectations.append(LinkPresent(slave.ifname, master="", up=True))
    owner = _mac_owner(bond, kept)
    if owner is None and (gone := _mac_owner(bond, removed)) is not None and kept:
        change.warnings.append(f"{gone.ifname} takes back its own MAC {bond.mac}, which {bond.ifname} "
                               "keeps: two devices then send with one MAC")
    steps: list[s.Step] = []
    off, on, kept_up = _quiet_while_down(snapshot, bond) if bounce else ([], [], [])
    steps += off
    if bounce:
        steps.append(s.link_set(bond.ifname, (("state", "down"),), (("state", "up"),)))
    back: list[Link] = []
    if rebuild:  # the MAC's owner last out and first back: the bond gets its MAC again
        back = sorted(kept, key=lambda l: l is not owner)
        for slave in reversed(back):
            steps.append(_release(bond, slave))
        if owner is None and kept and bond.mac:  # a MAC set by hand: set again, on both ways
            steps[-1] = s.undone_with(steps[-1], [s.link_set(bond.ifname, (("address", bond.mac),), ())])
        steps.append(s.link_set(bond.ifname, (("mode", mode),), _undo_mode(info, settled), kind="bond"))
    steps += _option_steps(bond, settled, changes)
    for slave in back:
        steps.append(enslave(slave, bond.ifname))
        change.expectations.append(LinkPresent(slave.ifname, master=bond.ifname))
    if rebuild and owner is None and kept and bond.mac:
        steps.append(s.link_set(bond.ifname, (("address", bond.mac),), (("address", bond.mac),)))
    for slave in added:  # the driver enslaves only devices that are down, and opens them
        if slave.is_up:
            steps.append(s.link_set(slave.ifname, (("state", "down"),), (("state", "up"),)))
        steps.append(enslave(slave, bond.ifname))
        change.expectations.append(LinkPresent(slave.ifname, master=bond.ifname, up=True))
        if slave.mtu != bond.mtu:
            change.warnings.append(f"{slave.ifname} takes {bond.ifname}'s MTU {bond.mtu} (it has {slave.mtu})")
    if primary is not None:  # must already be a slave
        steps.append(s.link_set(bond.ifname, (("primary", primary),), (("primary", info.primary or ""),), kind="bond"))
    if bounce:
        steps.append(s.link_set(bond.ifname, (("state", "up"),), (("state", "down"),)))
        change.expectations.append(LinkPresent(bond.ifname, up=True))
    steps += on
    change.join = steps
    change.expectations += kept_up
    if rebuild and settled.arp_interval != info.arp_interval:
        change.warnings.append(f"{mode} has no ARP monitoring: MII monitoring every {settled.miimon} ms takes over")
    asked = ({"mode": mode} if rebuild else {}) | changes | ({"primary": primary} if primary is not None else {})
    change.expectations += [LinkSetting(bond.ifname, SNAPSHOT_KEYS.get(key, key), _read_back(key, value))
                            for key, value in asked.items()]
    _warn(bond, kept, added, removed, rebuild, bounce, mode, change.warnings)
    return change


def _read_back(key: str, value: str) -> object:
    """A setting in ip's words as the Snapshot shows it."""
    if key in ("miimon", "updelay", "downdelay", "arp_interval"):
        return int(value)
    if key == "arp_ip_target":
        return tuple(filter(None, value.split(",")))
    return value or None if key == "primary" else value


def _warn(bond: Link, kept: list[Link], added: list[Link], removed: list[Link], rebuild: bool, bounce: bool,
          mode: str, warnings: list[str]) -> None:
    name = bond.ifname
    if rebuild:
        warnings.append(f"a new mode rebuilds {name}: its slaves leave, it {'goes down, ' if bond.is_up else ''}takes "
                        f"{mode}, its slaves come back{', it comes up' if bond.is_up else ''}; traffic through {name} "
                        "stops meanwhile" + (" and until the switch agrees LACP again" if mode == "802.3ad" else ""))
    elif bounce:
        warnings.append(f"the driver changes the LACP rate only while {name} is down: it goes down and up again, and "
                        "traffic through it stops meanwhile")
    if removed and not kept and not added:
        warnings.append(f"{name} has no slaves left: it passes no traffic")
