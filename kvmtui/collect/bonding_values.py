"""What the procfs and the sysfs reader of a bond share: its error, and how both read
a speed, a duplex and a list of slaves."""

from __future__ import annotations

from collections.abc import Iterable

from kvmtui.errors import KvmtuiError
from kvmtui.model.bonding import BondSlave

_UNKNOWN_SPEEDS = frozenset({0xFFFF, 0xFFFFFFFF})  # "unknown" as old ethtool drivers report it


class BondingParseError(KvmtuiError):
    """The bonding status text makes no sense; the message names the file so the user can look."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"cannot understand {path}: {reason}")
        self.path = path
        self.reason = reason


def plausible_speed(mbps: int) -> int | None:
    """Mb/s, or None for the kernel's and drivers' ways of saying "unknown" (-1, 0, 0xFFFF)."""
    return None if mbps <= 0 or mbps in _UNKNOWN_SPEEDS else mbps


def duplex_word(raw: str) -> str | None:
    """"full"/"half", None for unknown; anything else is not a duplex."""
    word = raw.lower()
    if word in ("full", "half"):
        return word
    if word in ("unknown", ""):
        return None
    raise ValueError(raw)


def unique_slaves(slaves: Iterable[BondSlave | None], problems: list[str]) -> tuple[BondSlave, ...]:
    """The slaves read, each name once: a second block of one name is a problem, not a slave."""
    kept: dict[str, BondSlave] = {}
    for slave in slaves:
        if slave is None:
            continue
        if slave.name in kept:
            problems.append(f"slave {slave.name} is listed twice: only the first is shown")
        else:
            kept[slave.name] = slave
    return tuple(kept.values())
