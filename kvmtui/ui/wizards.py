"""The wizards: a form per device kind (kvmtui/kinds/), its fields, defaults and offered
devices from the host and what the tree has selected."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from kvmtui.kinds import COMMANDS, NEW, Command, Selection
from kvmtui.model import Snapshot
from kvmtui.ui.forms import Field, WizardScreen


def wizard(command: Command, snapshot: Snapshot, selection: Selection) -> WizardScreen:
    """The form of a kind (or of the kinds sharing a command): its spec's fields, offered as
    the host and the selection allow; the params it does not ask take their offered value."""
    fields = []
    for param in command.form_params:
        offer = param.offered(snapshot, selection)
        if offer is None:  # not asked for this selection (a bridge's STP on a NIC)
            continue
        fields.append(Field(param.name, offer.label or param.label or param.name, param.widget, offer.default,
                            offer.options, param.form_help if offer.help is None else offer.help, param.optional))
    fixed = {p.name: p.offered(snapshot, selection).default for p in command.params if p.label is None}
    title = command.spec.title
    return WizardScreen(title if isinstance(title, str) else title(snapshot, selection), tuple(fields),
                        lambda values: command.from_form({**fixed, **values}), snapshot)


def bridge_wizard(snapshot: Snapshot, selected: str | None) -> WizardScreen:
    return wizard(COMMANDS["bridge"], snapshot, Selection(selected))


def bond_wizard(snapshot: Snapshot, selected: str | None) -> WizardScreen:
    return wizard(COMMANDS["bond"], snapshot, Selection(selected))


def attach_wizard(snapshot: Snapshot, selected_domain: str | None, selected_link: str | None) -> WizardScreen:
    return wizard(COMMANDS["attach"], snapshot, Selection(selected_link, selected_domain))


def delete_wizard(snapshot: Snapshot, ifname: str) -> WizardScreen:
    """`d` on a bridge or bond that carries the host's addresses: where they go first."""
    return wizard(COMMANDS["delete"], snapshot, Selection(ifname))


def edit_wizard(snapshot: Snapshot, ifname: str) -> WizardScreen:
    """`e` on a device: its settings as they are now (a bridge's too); what is changed is planned."""
    return wizard(COMMANDS["set"], snapshot, Selection(ifname))


def guest_nic_wizard(snapshot: Snapshot, domain: str, mac: str) -> WizardScreen:
    """`e` on a guest NIC (or its tap): link state, bridge and model as they are now."""
    return wizard(COMMANDS["guest-set"], snapshot, Selection(domain=domain, mac=mac))


def _key_in(name: str, key: str) -> str:
    """The menu's entry with its key in bold: b[b]o[/b]nd."""
    return name.replace(key, f"[b]{key}[/b]", 1)


class NewWhatScreen(ModalScreen[str | None]):
    """`n`: which kind of device; the kinds with a new_key, by that key."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")] + [
        Binding(command.spec.new_key, f"pick('{command.name}')", command.spec.noun[:1].upper() + command.spec.noun[1:])
        for command in NEW]

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        super().__init__()
        self.offered = [c for c in NEW if snapshot is None or c.spec.available(snapshot)]  # OVS's: once it runs

    def compose(self) -> ComposeResult:
        yield OptionList(*[Option(_key_in(command.name, command.spec.new_key), id=command.name)
                           for command in self.offered], id="new-what")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action != "pick" or any(command.name == parameters[0] for command in self.offered)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_pick(self, what: str) -> None:
        self.dismiss(what)

    def action_cancel(self) -> None:
        self.dismiss(None)
