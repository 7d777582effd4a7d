"""The wizards' fields and defaults, from the host and what the tree has selected."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from kvmtui.model import Snapshot
from kvmtui.plan import AttachInterface, CreateBond, CreateBridge, CreateVlan
from kvmtui.plan.build_guests import MACVTAP_MEANING
from kvmtui.plan.eligible import BOND_SLAVE, BRIDGE_PORT, left_out, macvtap_lower_unfit, sort_members
from kvmtui.ui.forms import Field, WizardScreen
from kvmtui.vocabulary import BOND_MODES, LACP_RATE, MACVTAP_DEFAULT_MODE, MACVTAP_MODES, XMIT_HASH


def free_name(snapshot: Snapshot, stem: str) -> str:
    return next(f"{stem}{n}" for n in range(100) if snapshot.link(f"{stem}{n}") is None)


def _choices(links) -> tuple[tuple[str, str], ...]:
    return tuple((f"{link.ifname} ({link.kind or 'nic'})", link.ifname) for link in links)


def _ints(text: object) -> tuple[str, ...]:
    return tuple(part.strip() for part in str(text or "").split(",") if part.strip())


def bridge_wizard(snapshot: Snapshot, selected: str | None) -> WizardScreen:
    ports, unfit = sort_members(snapshot, BRIDGE_PORT)
    with_addresses = [l for l in ports if any(a.scope == "global" for a in l.addresses)]
    fields = (
        Field("name", "Name", default=free_name(snapshot, "br")),
        Field("ports", "Ports (Space selects)", "many", (selected,) if selected in {l.ifname for l in ports} else (),
              _choices(ports), left_out(unfit)),
        Field("stp", "Spanning tree (STP)", "flag", False),
        Field("forward_delay", "Forward delay, seconds (empty: kernel default 15)", "number", ""),
        Field("mtu", "MTU (empty: from the ports)", "number", ""),
        Field("move_ip_from", "Move addresses, routes and MAC from this uplink", "choice", None, _choices(with_addresses),
              "the uplink must also be a port; a session over it is warned about on the next screen"),
    )
    return WizardScreen("New bridge", fields, lambda v: CreateBridge(
        v["name"] or "", tuple(v["ports"]), bool(v["stp"]), v["forward_delay"], v["mtu"], v["move_ip_from"]), snapshot)


def bond_wizard(snapshot: Snapshot, selected: str | None) -> WizardScreen:
    nics, unfit = sort_members(snapshot, BOND_SLAVE)
    fields = (
        Field("name", "Name", default=free_name(snapshot, "bond")),
        Field("mode", "Mode", "choice", "active-backup", tuple((m, m) for m in BOND_MODES)),
        Field("slaves", "Slaves (Space selects; they are taken down to be enslaved)", "many",
              (selected,) if selected in {l.ifname for l in nics} else (), _choices(nics), left_out(unfit)),
        Field("miimon", "MII monitoring interval, ms", "number", 100),
        Field("arp_interval", "ARP monitoring interval, ms (instead of MII)", "number", ""),
        Field("arp_ip_target", "ARP targets, comma separated"),
        Field("lacp_rate", "LACP rate (802.3ad)", "choice", None, tuple((r, r) for r in LACP_RATE)),
        Field("xmit_hash_policy", "Transmit hash policy (balance-xor, 802.3ad, tlb, alb)", "choice", None,
              tuple((p, p) for p in XMIT_HASH)),
        Field("primary", "Primary slave (active-backup, tlb, alb)"),
    )

    def build(v: dict) -> CreateBond:
        miimon = None if v["arp_interval"] else v["miimon"]
        return CreateBond(v["name"] or "", v["mode"] or "", tuple(v["slaves"]), miimon, v["arp_interval"],
                          _ints(v["arp_ip_target"]), v["lacp_rate"], v["xmit_hash_policy"], v["primary"])

    return WizardScreen("New bond", fields, build, snapshot)


def vlan_wizard(snapshot: Snapshot, selected: str | None) -> WizardScreen:
    parents = [l for l in snapshot.links if "LOOPBACK" not in l.flags and l.kind in (None, "bond", "bridge", "dummy", "veth")
               and getattr(snapshot.link(l.master), "kind", None) != "bond"]  # a bond slave's frames are the bond's
    default = selected if selected in {l.ifname for l in parents} else None
    fields = (
        Field("parent", "Parent (NIC, bond or bridge)", "choice", default, _choices(parents)),
        Field("vid", "VLAN id (1-4094)", "number", ""),
        Field("protocol", "Protocol", "choice", "802.1Q", (("802.1Q", "802.1Q"), ("802.1ad (QinQ)", "802.1ad"))),
        Field("name", "Name (empty: parent.id)"),
    )
    return WizardScreen("New VLAN", fields, lambda v: CreateVlan(
        v["parent"] or "", v["vid"] if v["vid"] is not None else 0, v["name"], v["protocol"] or "802.1Q"), snapshot)


def attach_wizard(snapshot: Snapshot, selected_domain: str | None, selected_link: str | None) -> WizardScreen:
    domains = tuple((f"{d.name} ({d.state})", d.name) for d in snapshot.domains)
    bridges = [l for l in snapshot.links if l.kind == "bridge"]
    lowers = [l for l in snapshot.links if l.kind in (None, "bond", "vlan", "dummy", "veth")
              and macvtap_lower_unfit(snapshot, l) is None]
    on_bridge = selected_link if selected_link in {l.ifname for l in bridges} else None
    modes = "\n".join(f"{mode}: {MACVTAP_MEANING[mode]}" for mode in MACVTAP_MODES)
    fields = (
        Field("domain", "Guest", "choice", selected_domain, domains),
        Field("bridge", "Bridge (for a bridge interface)", "choice", on_bridge, _choices(bridges), optional=True),
        Field("macvtap", "…or macvtap on this lower device", "choice", None, _choices(lowers),
              "macvtap: the host cannot reach this guest through the lower device"),
        Field("mode", "macvtap mode", "choice", MACVTAP_DEFAULT_MODE, tuple((m, m) for m in MACVTAP_MODES), modes),
        Field("model", "Model", default="virtio"),
        Field("mac", "MAC (empty: a free 52:54:00 address)"),
        Field("live", "Live: plug into the running guest", "flag", False),
        Field("config", "Persistent: add to the guest's definition", "flag", False,
              "neither ticked: the running guest if it runs, and its definition"),
    )
    return WizardScreen("Attach a guest interface", fields, lambda v: AttachInterface(
        v["domain"] or "", v["bridge"], v["macvtap"],  # both chosen: the planner says which to drop
        v["mode"] if v["macvtap"] else None, v["mac"], v["model"] or "virtio", bool(v["live"]), bool(v["config"])),
        snapshot)


class NewWhatScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("b", "pick('bridge')", "Bridge"),
                Binding("o", "pick('bond')", "Bond"), Binding("v", "pick('vlan')", "VLAN")]

    def compose(self) -> ComposeResult:
        yield OptionList(Option("[b]b[/b]ridge", id="bridge"), Option("b[b]o[/b]nd", id="bond"),
                         Option("[b]v[/b]lan", id="vlan"), id="new-what")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_pick(self, what: str) -> None:
        self.dismiss(what)

    def action_cancel(self) -> None:
        self.dismiss(None)


WIZARDS = {"bridge": bridge_wizard, "bond": bond_wizard, "vlan": vlan_wizard}
