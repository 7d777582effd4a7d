"""What a plan asks of the saved configuration, and what a renderer answers: file changes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kvmtui.model.netconfig import ConfiguredDevice

ReadFile = Callable[[str], str | None]  # an absolute path on the host -> its text, None when absent


@dataclass(frozen=True, slots=True)
class Desired:
    """After the plan, the saved configuration must describe `devices` as given (each one the
    plan creates or changes, whole: kind, ports, addresses, routes, options; the ports and
    slaves it takes or gives back, with their master or none) and no longer describe
    `removed` (the devices the plan deletes). Devices are ConfiguredDevice records whose
    backend, file and line are empty: no file says them yet."""

    devices: tuple[ConfiguredDevice, ...]
    removed: tuple[str, ...] = ()

    def device(self, name: str) -> ConfiguredDevice | None:
        return next((d for d in self.devices if d.name == name), None)


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file as it is and as it will be: None is "absent" on either side. `mode` is
    for a new file (an existing one keeps its own)."""

    path: str
    before: str | None
    after: str | None
    mode: int = 0o600
    backend: str = ""
    why: str = ""  # "a new bridge br0", "eno4 becomes a port of br0"

    @property
    def changed(self) -> bool:
        return self.before != self.after


def wanted(name: str, kind: str, **fields) -> ConfiguredDevice:
    """A device as the configuration must describe it: no file says it yet."""
    return ConfiguredDevice(name, kind, "", "", 0, "wanted by kvmtui", **fields)
