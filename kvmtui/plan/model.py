"""A checked plan: ordered steps with inverses, what must hold afterwards, and warnings."""

from __future__ import annotations

from dataclasses import dataclass
from kvmtui.plan.expect import Expectation
from kvmtui.plan.steps import Step


@dataclass(frozen=True, slots=True)
class Plan:
    intent: object  # what was asked for: one of the intents of kvmtui/kinds/
    title: str  # "create bridge br0"
    steps: tuple[Step, ...]
    expectations: tuple[Expectation, ...]
    warnings: tuple[str, ...] = ()
    xml: tuple[str, ...] = ()  # libvirt XML of the interfaces it attaches or detaches

    @property
    def touches_libvirt(self) -> bool:
        return any(step.touches_libvirt for step in self.steps)

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(step.command for step in self.steps)
