"""What a device kind declares: its fields once, for the CLI, the wizard and the planner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields

from kvmtui.model import Snapshot
from kvmtui.plan.model import Plan


@dataclass(frozen=True, slots=True)
class Selection:
    """What the tree has selected when a wizard opens: its defaults start there."""

    ifname: str | None = None
    domain: str | None = None
    mac: str | None = None  # a guest NIC's, with its domain


@dataclass(frozen=True, slots=True)
class Offer:
    """A wizard field's part that depends on the host: its default, its choices, its help
    line (None: the Param's) and its label (None: the Param's)."""

    default: object = ""
    options: tuple[tuple[str, str], ...] = ()  # (shown, value)
    help: str | None = None
    label: str | None = None


def _same(value: object) -> object:
    return value


@dataclass(frozen=True, slots=True)
class Param:
    """One field of an intent: `name` is the intent's attribute, the wizard field's id and
    a PlanError's field; the CLI option is `option` (None: a positional argument)."""

    name: str
    help: str  # the CLI's help line
    option: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    type: Callable[[str], object] | None = None
    cli_default: object = None
    required: bool = False
    repeat: bool = False  # given once per value: --port A --port B
    flag: bool = False
    exclusive: str | None = None  # a group of options of which exactly one is given
    from_cli: Callable[[object], object] = _same
    label: str | None = None  # None: not asked by the wizard (its value comes from `offer`)
    widget: str = "text"  # text | number | choice | many | flag
    offer: Callable[[Snapshot, Selection], Offer] | None = None
    form_default: object = ""
    form_options: tuple[tuple[str, str], ...] = ()
    form_help: str = ""
    optional: bool = False  # a choice that can be emptied again although it starts chosen
    from_form: Callable[[object], object] = _same
    empty: object = ""  # an empty wizard field, for an intent field without a default

    @property
    def dest(self) -> str:
        return self.name

    def offered(self, snapshot: Snapshot, selection: Selection) -> Offer:
        if self.offer is not None:
            return self.offer(snapshot, selection)
        return Offer(self.form_default, self.form_options)


@dataclass(frozen=True, slots=True)
class KindSpec:
    """A device kind. Kinds that share a `command` (attach: by bridge or by macvtap) share
    one CLI subcommand and one wizard, and one intent class; `claims` says whose an intent is."""

    name: str
    intent: type
    params: tuple[Param, ...]  # in the CLI's order
    plan: Callable[[object, Snapshot], Plan]
    help: str  # the subcommand's help line
    title: str | Callable[[Snapshot, Selection], str]  # the wizard's
    noun: str = ""  # "bridge", "VLAN": in the "new" menu and the help
    new_key: str | None = None  # offered under `n` with this key
    command: str = ""  # default: the kind's name
    form_order: tuple[str, ...] = ()  # the wizard's order of the fields, if not the CLI's
    claims: Callable[[object], bool] = lambda intent: True
    form_fixup: Callable[[dict], dict] = _same  # values the form's other fields make moot
    usage: Callable[[dict], str | None] = lambda values: None  # a CLI combination that makes no sense
    wizard: bool = True  # False: planned straight from the selection (detach), no form
    available: Callable[[Snapshot], bool] = lambda snapshot: True  # offered under `n` on this host (OVS running)

    @property
    def subcommand(self) -> str:
        return self.command or self.name

    def build(self, values: dict[str, object]) -> object:
        """The intent from the fields' values; an empty field takes the intent's default."""
        given = {}
        by_name = {p.name: p for p in self.params}
        for field in fields(self.intent):
            value = values.get(field.name)
            if value is None and (field.default is not MISSING or field.default_factory is not MISSING):
                continue
            given[field.name] = by_name[field.name].empty if value is None else value
        return self.intent(**given)


def tuple_of(values: object) -> tuple[str, ...]:
    return tuple(values or ())


def comma_separated(text: object) -> tuple[str, ...]:
    return tuple(part.strip() for part in str(text or "").split(",") if part.strip())


def device_choices(links, snapshot: Snapshot | None = None) -> tuple[tuple[str, str], ...]:
    """(shown, name) per device; given the snapshot, a port shows the switch and port its cable
    reaches, where LLDP named them ("eth2 (nic) to sw-lab-1 port Eth1/7")."""
    def shown(link) -> str:
        neighbour = snapshot.neighbour_text(link.ifname) if snapshot is not None else ""
        return f"{link.ifname} ({link.kind or 'nic'})" + (f" to {neighbour}" if neighbour else "")
    return tuple((shown(link), link.ifname) for link in links)


def free_name(snapshot: Snapshot, stem: str) -> str:
    return next(f"{stem}{n}" for n in range(100) if snapshot.link(f"{stem}{n}") is None)


def selected_of(selection: Selection, links) -> str | None:
    """The selected device, if it is one of those offered."""
    return selection.ifname if selection.ifname in {link.ifname for link in links} else None
