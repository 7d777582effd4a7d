"""A new bond: its mode and monitoring, its slaves, its primary."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection, comma_separated, device_choices, free_name, \
    selected_of, tuple_of
from kvmtui.model import BondInfo, Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.eligible import BOND_SLAVE, left_out, sort_members
from kvmtui.plan.expect import Expectation, LinkPresent, LinkSetting
from kvmtui.plan.ip_move import enslave
from kvmtui.plan.model import Plan
from kvmtui.plan.steps.links import NewDevice, new_device_kind
from kvmtui.plan.validate import PlanError, check_free_port, check_new_name, kernel_name, listed
from kvmtui.vocabulary import AD_SELECT, ARP_VALIDATE, BOND_MODES, FAIL_OVER_MAC, LACP_RATE, PRIMARY_RESELECT, XMIT_HASH

BOND_MAX_ARP_TARGETS = 16  # the bonding driver's array size


@dataclass(frozen=True, slots=True)
class CreateBond:
    name: str
    mode: str
    slaves: tuple[str, ...]
    miimon: int | None = None
    arp_interval: int | None = None
    arp_ip_target: tuple[str, ...] = ()
    lacp_rate: str | None = None
    xmit_hash_policy: str | None = None
    primary: str | None = None


def _slaves(snapshot: Snapshot, selection: Selection) -> Offer:
    nics, unfit = sort_members(snapshot, BOND_SLAVE)
    chosen = selected_of(selection, nics)
    return Offer((chosen,) if chosen else (), device_choices(nics, snapshot), left_out(unfit))


def _named(names) -> tuple[tuple[str, str], ...]:
    return tuple((name, name) for name in names)


PARAMS = (
    Param("name", "the new bond's name", label="Name", offer=lambda snapshot, _: Offer(free_name(snapshot, "bond"))),
    Param("mode", f"name or number: {listed(BOND_MODES)}", "--mode", required=True, label="Mode", widget="choice",
          form_default="active-backup", form_options=_named(BOND_MODES)),
    Param("slaves", "enslave IF (repeat for more): a NIC without addresses, in no bond or bridge", "--slave", "IF",
          repeat=True, cli_default=[], required=True, from_cli=tuple_of,
          label="Slaves (Space selects; they are taken down to be enslaved)", widget="many", offer=_slaves,
          from_form=tuple_of),
    Param("miimon", "MII link monitoring interval (default: 100 unless --arp-interval)", "--miimon", "MS", type=int,
          label="MII monitoring interval, ms", widget="number", form_default=100),
    Param("arp_interval", "ARP monitoring interval, instead of MII (not in 802.3ad, balance-tlb, balance-alb)",
          "--arp-interval", "MS", type=int, label="ARP monitoring interval, ms (instead of MII)", widget="number"),
    Param("arp_ip_target", f"IPv4 address to ARP for (repeat, up to {BOND_MAX_ARP_TARGETS})", "--arp-ip-target",
          "IP", repeat=True, cli_default=[], from_cli=tuple_of, label="ARP targets, comma separated",
          from_form=comma_separated),
    Param("lacp_rate", f"802.3ad only: {listed(LACP_RATE)} (default: slow)", "--lacp-rate", "R",
          label="LACP rate (802.3ad)", widget="choice", form_default=None, form_options=_named(LACP_RATE)),
    Param("xmit_hash_policy", f"balance-xor, 802.3ad, balance-tlb, balance-alb: {listed(XMIT_HASH)} (default: "
                              "layer2)", "--xmit-hash-policy", "P",
          label="Transmit hash policy (balance-xor, 802.3ad, tlb, alb)", widget="choice", form_default=None,
          form_options=_named(XMIT_HASH)),
    Param("primary", "preferred slave (active-backup, balance-tlb, balance-alb)", "--primary", "IF",
          label="Primary slave (active-backup, tlb, alb)"),
)


def _form_fixup(values: dict) -> dict:
    """The form starts with MII monitoring at 100: an ARP interval replaces it."""
    return {**values, "miimon": None} if values.get("arp_interval") else values


def named_bond_options(intent: CreateBond) -> CreateBond:
    """The intent with its mode, LACP rate and hash policy as names, however they were given."""
    return replace(intent, mode=kernel_name("mode", intent.mode, BOND_MODES, "bonding mode"),
                   lacp_rate=kernel_name("lacp_rate", intent.lacp_rate, LACP_RATE, "LACP rate"),
                   xmit_hash_policy=kernel_name("xmit_hash_policy", intent.xmit_hash_policy, XMIT_HASH,
                                                "transmit hash policy"))


def check_bond_options(mode: str, miimon: int | None, arp_interval: int | None, arp_targets: tuple[str, ...],
                       lacp_rate: str | None, xmit_hash_policy: str | None, primary: str | None,
                       slaves: tuple[str, ...]) -> None:
    check_arp_targets(arp_targets)
    if miimon and arp_interval:
        raise PlanError("arp_interval", "choose MII or ARP monitoring, not both")
    if arp_interval and mode in ("802.3ad", "balance-tlb", "balance-alb"):
        raise PlanError("arp_interval", f"ARP monitoring does not work in {mode} mode; use miimon")
    if arp_interval and not arp_targets:
        raise PlanError("arp_ip_target", "ARP monitoring needs at least one target address")
    if arp_targets and not arp_interval:
        raise PlanError("arp_ip_target", "ARP targets are used by ARP monitoring only: give an ARP interval too")
    if lacp_rate is not None and mode != "802.3ad":
        raise PlanError("lacp_rate", f"lacp_rate applies to 802.3ad only, not {mode}")
    if xmit_hash_policy is not None and mode not in ("balance-xor", "802.3ad", "balance-tlb", "balance-alb"):
        raise PlanError("xmit_hash_policy", f"a transmit hash policy does not apply to {mode}")
    if primary is not None:
        if mode not in ("active-backup", "balance-tlb", "balance-alb"):
            raise PlanError("primary", f"a primary slave applies to active-backup, balance-tlb and balance-alb, not {mode}")
        if primary not in slaves:
            raise PlanError("primary", f"the primary {primary} is not one of the slaves")


def check_arp_targets(targets: tuple[str, ...]) -> None:
    """The bonding driver takes IPv4 targets only, and refuses 0.0.0.0/8 and the broadcast."""
    if len(targets) > BOND_MAX_ARP_TARGETS:
        raise PlanError("arp_ip_target", f"a bond takes at most {BOND_MAX_ARP_TARGETS} ARP targets, not {len(targets)}")
    for target in targets:
        try:
            address = ipaddress.IPv4Address(target)
        except ValueError:
            raise PlanError("arp_ip_target", f"{target!r} is not an IPv4 address (ARP targets are IPv4 only)") from None
        if address in ipaddress.IPv4Network("0.0.0.0/8") or address == ipaddress.IPv4Address("255.255.255.255"):
            raise PlanError("arp_ip_target", f"{target} cannot answer ARP: give the address of a host to ask")


def plan_create_bond(intent: CreateBond, snapshot: Snapshot) -> Plan:
    intent = named_bond_options(intent)
    check_new_name(snapshot, intent.name)
    if not intent.slaves:
        raise PlanError("slaves", "a bond needs at least one slave")
    seen: set[str] = set()
    slaves = [check_free_port(snapshot, slave, "slaves", seen) for slave in intent.slaves]
    miimon = intent.miimon if intent.miimon is not None or intent.arp_interval else 100
    check_bond_options(intent.mode, miimon, intent.arp_interval, intent.arp_ip_target, intent.lacp_rate,
                       intent.xmit_hash_policy, intent.primary, intent.slaves)
    settings: s.Settings = (("mode", intent.mode),)
    if miimon:
        settings += (("miimon", str(miimon)),)
    if intent.arp_interval:
        settings += (("arp_interval", str(intent.arp_interval)), ("arp_ip_target", ",".join(intent.arp_ip_target)))
    if intent.lacp_rate:
        settings += (("lacp_rate", intent.lacp_rate),)
    if intent.xmit_hash_policy:
        settings += (("xmit_hash_policy", intent.xmit_hash_policy),)
    steps = [s.link_add(intent.name, "bond", settings)]
    expectations: list[Expectation] = [LinkPresent(intent.name, "bond", up=True),
                                       LinkSetting(intent.name, "mode", intent.mode)]
    for slave in slaves:  # the kernel enslaves only devices that are down
        if slave.is_up:
            steps.append(s.link_set(slave.ifname, (("state", "down"),), (("state", "up"),)))
        steps.append(enslave(slave, intent.name))
        expectations.append(LinkPresent(slave.ifname, master=intent.name))
    if intent.primary:  # a primary must already be a slave
        steps.append(s.link_set(intent.name, (("primary", intent.primary),), (("primary", ""),), kind="bond"))
        expectations.append(LinkSetting(intent.name, "primary", intent.primary))
    steps.append(s.link_set(intent.name, (("state", "up"),), (("state", "down"),)))
    return Plan(intent, f"create bond {intent.name} ({intent.mode})", tuple(steps), tuple(expectations))


SPEC = KindSpec("bond", CreateBond, PARAMS, plan_create_bond, help="create a bond", title="New bond", noun="bond",
                new_key="o", form_fixup=_form_fixup)


# ip's words for a bond's own settings -> how pyroute2 takes them: numbers, or an index in a word list
_BOND_NUMBERS = ("miimon", "arp_interval", "updelay", "downdelay", "min_links")
_BOND_WORDS = (("mode", BOND_MODES), ("lacp_rate", LACP_RATE), ("xmit_hash_policy", XMIT_HASH),
               ("arp_validate", ARP_VALIDATE), ("primary_reselect", PRIMARY_RESELECT),
               ("fail_over_mac", FAIL_OVER_MAC), ("ad_select", AD_SELECT))
_BOND_ARGS = {"lacp_rate": "bond_ad_lacp_rate"}  # the IFLA_BOND_* name where it is not bond_<word>


def bond_netlink_args(settings: dict[str, str]) -> dict[str, object]:
    args: dict[str, object] = {f"bond_{key}": int(settings[key]) for key in _BOND_NUMBERS if key in settings}
    args |= {_BOND_ARGS.get(key, f"bond_{key}"): names.index(settings[key]) for key, names in _BOND_WORDS
             if key in settings}
    if settings.get("arp_ip_target"):
        args["bond_arp_ip_target"] = settings["arp_ip_target"].split(",")
    return args


def new_bond_info(settings: dict[str, str]) -> BondInfo:
    return BondInfo(settings["mode"], int(settings.get("miimon", "0")), 0, 0, int(settings.get("arp_interval", "0")),
                    tuple(filter(None, settings.get("arp_ip_target", "").split(","))), None, None, None, None,
                    None, settings.get("xmit_hash_policy"), settings.get("lacp_rate"), None, 0)


new_device_kind("bond", NewDevice(bond_netlink_args, new_bond_info))
