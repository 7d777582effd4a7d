"""What every step is: one host change with its command text, its effect on a simulated
host, its inverse, the backend that runs it, and its parameters as plain data (a plan
and its inverses written to a journal as JSON and read back). Steps name devices, never
ifindexes: a device created by an earlier step has no index until the plan runs."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from kvmtui.model import BridgeVlan, Domain, Link, Network, OvsState, Route

q = shlex.quote  # names in the commands shown: copied into a shell, `a;b` stays one word

Settings = tuple[tuple[str, str], ...]  # ip's own words: (("mode", "802.3ad"), ("miimon", "100"))


def words(settings: Settings) -> str:
    """`key value` each; an empty value is a bare flag (a vxlan's `nolearning`)."""
    return " ".join(f"{key} {shlex.quote(value)}" if value != "" else key for key, value in settings)


@dataclass
class SimulatedHost:
    """The host a plan is simulated on: what the steps change, by name."""

    links: dict[str, Link]
    routes: list[Route]
    domains: dict[str, Domain]
    next_index: int  # the ifindex the next new device gets
    guests_in_view: bool  # a running guest's devices are among the links
    networks: dict[str, Network] = field(default_factory=dict)  # libvirt's, by name
    ovs: OvsState | None = None  # Open vSwitch's database as the OVS steps leave it
    bridge_vlans: list[BridgeVlan] = field(default_factory=list)  # `bridge vlan show`'s entries


@dataclass(frozen=True, slots=True)
class Step:
    """The base of every step type. `inverse` and `then` do not take part in equality:
    two steps are the same change whatever undoes them."""

    action: ClassVar[str]  # the type tag of its plain data: "link_add", "attach", ...
    backend: ClassVar[str] = "kernel"  # "kernel" | "libvirt": which backend runs it
    decoders: ClassVar[dict[str, Callable[[Any], Any]]] = {}  # field -> its value from plain data

    target: str  # the device (or domain) it changes
    inverse: Step | None = field(default=None, compare=False, kw_only=True)
    # Run right after this step, in an undo: what the kernel forgot when the forward step
    # ran and this one does not set back (a released bridge port's cost, VLANs, static MACs).
    then: tuple[Step, ...] = field(default=(), compare=False, kw_only=True)

    @property
    def command(self) -> str:
        raise NotImplementedError

    @property
    def settings(self) -> Settings:
        """Its parameters in ip's words (what `Step.settings` was before steps had types)."""
        return ()

    def setting(self, key: str) -> str | None:
        return next((value for k, value in self.settings if k == key), None)

    @property
    def touches_libvirt(self) -> bool:
        return self.backend == "libvirt"

    @property
    def does_nothing(self) -> bool:
        """An inverse with nothing to set back (a new device's MAC): skipped in an undo."""
        return False

    def interrupts(self) -> bool:
        """Can it interrupt traffic through its device? (Bringing one up cannot.)"""
        return False

    def default_route(self) -> bool | None:
        """True when it adds a default route, False when it deletes one, else None."""
        return None

    def simulate(self, host: SimulatedHost) -> None:
        """Its effect on the simulated host; a step the model does not show changes nothing."""

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.action}
        for f in fields(self):
            if f.name not in ("inverse", "then"):
                data[f.name] = _plain(getattr(self, f.name))
        if self.inverse is not None:
            data["inverse"] = self.inverse.to_data()
        if self.then:
            data["then"] = [after.to_data() for after in self.then]
        return data


STEP_TYPES: dict[str, type[Step]] = {}


def step_type(cls: type[Step]) -> type[Step]:
    """Make `cls` a frozen step dataclass and register its type tag for step_from_data."""
    cls = dataclass(frozen=True, slots=True)(cls)
    STEP_TYPES[cls.action] = cls
    return cls


def step_from_data(data: dict[str, Any]) -> Step:
    """The step `Step.to_data` wrote, with its inverse and `then` steps."""
    cls = STEP_TYPES.get(data.get("type"))
    if cls is None:
        raise ValueError(f"unknown step type {data.get('type')!r}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in ("inverse", "then") or f.name not in data:
            continue
        decode = cls.decoders.get(f.name, _tuples)
        values[f.name] = decode(data[f.name])
    inverse = step_from_data(data["inverse"]) if data.get("inverse") is not None else None
    then = tuple(step_from_data(after) for after in data.get("then", ()))
    return cls(**values, inverse=inverse, then=then)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def _tuples(value: Any) -> Any:
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value
