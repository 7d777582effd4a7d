"""A guest NIC by macvtap on a lower device (libvirt <interface type='direct'>): the guest's
frames go out of that device, in one of four modes; the host cannot reach the guest that way."""

from __future__ import annotations

from kvmtui.facts import uppers
from kvmtui.kinds.attach import COMMAND, FORM_ORDER, GUEST, HELP, NIC, TITLE, AttachInterface, NicSource, \
    drop_mode_without_macvtap, plan_attach
from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection, device_choices
from kvmtui.model import Link, Snapshot
from kvmtui.plan.eligible import cidrs, macvtap_lower_unfit
from kvmtui.plan.model import Plan
from kvmtui.plan.validate import PlanError, existing_link
from kvmtui.vocabulary import MACVTAP_DEFAULT_MODE, MACVTAP_MODES

# One line on what each macvtap mode means, for the wizard and the confirmation.
MACVTAP_MEANING = {
    "vepa": "all traffic goes out to the switch, which must hairpin guest-to-guest frames back (802.1Qbg)",
    "bridge": "guests on the same lower device talk to each other directly, without the switch",
    "private": "guests on the same lower device can never talk to each other, not even via the switch",
    "passthrough": "the guest owns the lower device alone; no other guest or host use of it",
}
HOST_CUT_OFF = ("the host cannot reach this guest through {dev}: macvtap passes no traffic between a guest and its own "
                "host; `kvmtui apply shim {dev}` gives the host a macvlan beside it that can")


def _lowers(snapshot: Snapshot, selection: Selection) -> Offer:
    lowers = [l for l in snapshot.links if l.kind in (None, "bond", "vlan", "dummy", "veth")
              and macvtap_lower_unfit(snapshot, l) is None]
    return Offer(None, device_choices(lowers))


PARAMS = (
    GUEST,
    Param("macvtap", "or give it a macvtap on this device (not a bridge, a bridge port or a bond slave)",
          "--macvtap", "LOWER", required=True, exclusive="target", label="…or macvtap on this lower device",
          widget="choice", offer=_lowers,
          form_help="macvtap: the host cannot reach this guest through the lower device (`kvmtui apply shim "
                    "LOWER` lets it)"),
    Param("mode", f"macvtap mode: {', '.join(MACVTAP_MODES)} (default: {MACVTAP_DEFAULT_MODE}, as libvirt)", "--mode",
          choices=MACVTAP_MODES, label="macvtap mode", widget="choice", form_default=MACVTAP_DEFAULT_MODE,
          form_options=tuple((m, m) for m in MACVTAP_MODES),
          form_help="\n".join(f"{mode}: {MACVTAP_MEANING[mode]}" for mode in MACVTAP_MODES)),
    *NIC,
)


def _uses_of(snapshot: Snapshot, lower: Link) -> list[str]:
    """What the host already does with a device: all of it stops when a guest takes it whole."""
    uses = [f"addresses {', '.join(cidrs(lower))}"] if cidrs(lower) else []
    routes = [r.dst for r in snapshot.routes
              if r.dev == lower.ifname and r.type == "unicast" and r.protocol not in ("kernel", "ra")]
    uses += [f"routes {', '.join(routes)}"] if routes else []
    if lower.kind == "bridge":
        ports = [link.ifname for link in snapshot.links if link.master == lower.ifname]
        uses.append("a bridge" + (f" with ports {', '.join(ports)}" if ports else ""))
    if lower.master:
        uses.append(f"{'slave' if (snapshot.link(lower.master) or lower).kind == 'bond' else 'port'} of {lower.master}")
    stacked = [link.ifname for link in uppers(snapshot).get(lower.ifname, ())]
    stacked += [link.ifname for link in snapshot.links
                if link.kind == "vxlan" and getattr(link.info_data, "link", None) == lower.ifname]
    uses += [f"devices on it: {', '.join(stacked)}"] if stacked else []
    guests = sorted({d.name for d in snapshot.domains for nic in d.interfaces
                     if nic.type == "direct" and nic.dev == lower.ifname})
    uses += [f"macvtap of guest {', '.join(guests)}"] if guests else []
    return uses


def _check_alone(snapshot: Snapshot, lower: Link) -> None:
    uses = _uses_of(snapshot, lower)
    if uses:
        raise PlanError("mode", f"passthrough needs {lower.ifname} to itself (the guest takes it whole), but it is "
                                f"in use: {'; '.join(uses)}. Choose a free NIC, or another mode")


def _passthrough_user(snapshot: Snapshot, lower: Link) -> str | None:
    """Who holds `lower` by passthrough: a guest (running or defined) or a device on it."""
    for d in snapshot.domains:
        if any(nic.type == "direct" and nic.dev == lower.ifname and nic.mode == "passthrough" for nic in d.interfaces):
            return f"guest {d.name}"
    return next((link.ifname for link in snapshot.links if link.link == lower.ifname
                 and link.kind in ("macvtap", "macvlan") and getattr(link.info_data, "mode", None) == "passthru"), None)


def _by_macvtap(intent: AttachInterface, snapshot: Snapshot) -> NicSource:
    lower = existing_link(snapshot, intent.macvtap, "macvtap")
    mode = intent.mode or MACVTAP_DEFAULT_MODE
    if mode not in MACVTAP_MODES:
        raise PlanError("mode", f"the macvtap mode is one of {', '.join(MACVTAP_MODES)}")
    if mode == "passthrough" and "LOOPBACK" not in lower.flags:  # first: it names every use of the device
        _check_alone(snapshot, lower)
    unfit = macvtap_lower_unfit(snapshot, lower)
    if unfit is not None:
        raise PlanError("macvtap", unfit.reason)
    if mode != "passthrough":
        owner = _passthrough_user(snapshot, lower)
        if owner is not None:
            raise PlanError("macvtap", f"{lower.ifname} is given whole to {owner} (macvtap passthrough): "
                                       "no other macvtap can share it")
    return NicSource("direct", lower.ifname, mode,
                     (f"macvtap {mode}: {MACVTAP_MEANING[mode]}", HOST_CUT_OFF.format(dev=lower.ifname)))


def plan_attach_macvtap(intent: AttachInterface, snapshot: Snapshot) -> Plan:
    return plan_attach(intent, snapshot, _by_macvtap)


def _usage(values: dict) -> str | None:
    if values.get("mode") and not values.get("macvtap"):
        return "--mode is the macvtap mode: it needs --macvtap (a bridge interface has none)"
    return None


SPEC = KindSpec("attach_macvtap", AttachInterface, PARAMS, plan_attach_macvtap, help=HELP, title=TITLE,
                noun="macvtap NIC", command=COMMAND, form_order=FORM_ORDER,
                claims=lambda intent: intent.macvtap is not None, form_fixup=drop_mode_without_macvtap, usage=_usage)
