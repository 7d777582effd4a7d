"""What NetworkManager's own settings and run state say about which devices it manages.

NetworkManager.conf and conf.d/*.conf (/usr/lib, /run, /etc; a name in /etc shadows
the others, read in name order after NetworkManager.conf): `[keyfile]
unmanaged-devices`, `[device*]` sections with `managed=0`, and Debian's `plugins=ifupdown`
with `[ifupdown] managed=false`, which leaves every interface of
/etc/network/interfaces to ifupdown. /run/NetworkManager/devices/IFINDEX is NM's
state of one device (managed or not, its active profile's UUID): what `nmcli device`
would say, without D-Bus.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kvmtui.collect.netconfig.common import exists, listing, read_text, shown, truth
from kvmtui.collect.netconfig.networkmanager import BACKEND, keyfile
from kvmtui.model.netconfig import ConfigProblem

CONF_DIRS = ("usr/lib/NetworkManager/conf.d", "run/NetworkManager/conf.d", "etc/NetworkManager/conf.d")
STATE_DIR = "run/NetworkManager/devices"


@dataclass
class NMSettings:
    """Device specs NM leaves unmanaged: (spec, file, line) in NM's syntax
    (interface-name:GLOB, mac:MAC, type:TYPE, except:SPEC, *)."""

    unmanaged: list[tuple[str, str, int]] = field(default_factory=list)
    managed_specs: list[tuple[str, str, int]] = field(default_factory=list)  # [device] managed=1 sections
    ifupdown_unmanaged: tuple[str, int] | None = None  # where plugins=ifupdown and [ifupdown] managed=false say so
    problems: list[ConfigProblem] = field(default_factory=list)


def parse_conf(texts: list[tuple[str, str]]) -> NMSettings:
    """(file, text) in NM's order -> the settings that decide what it manages; a later
    file's key overrides an earlier one's (`key+=` appends)."""
    out = NMSettings()
    values: dict[tuple[str, str], tuple[str, str, int]] = {}
    for file, text in texts:
        groups, problems = keyfile(text, file)
        out.problems += problems
        for group, keys in groups.items():
            if group.startswith("device") and "match-device" in keys and "managed" in keys:
                specs = [(s.strip(), file, keys["match-device"][1]) for s in keys["match-device"][0].split(",") if s.strip()]
                (out.managed_specs if truth(keys["managed"][0]) else out.unmanaged).extend(specs)
            for key, (value, line) in keys.items():
                if key.endswith("+") and (group, key[:-1]) in values:
                    old = values[(group, key[:-1])][0]
                    values[(group, key[:-1])] = (f"{old};{value}", file, line)
                elif key != "[":
                    values[(group, key.rstrip("+-"))] = (value, file, line)
    spec = values.get(("keyfile", "unmanaged-devices"))
    if spec:
        out.unmanaged += [(s.strip(), spec[1], spec[2]) for s in spec[0].replace(",", ";").split(";") if s.strip()]
    plugins = values.get(("main", "plugins"), ("", "", 0))[0].replace(";", ",").split(",")
    managed = values.get(("ifupdown", "managed"))
    if "ifupdown" in (p.strip() for p in plugins) and (managed is None or truth(managed[0]) is False):
        where = managed or values[("main", "plugins")]
        out.ifupdown_unmanaged = (where[1], where[2])
    return out


def read_conf(root: Path) -> NMSettings:
    problems: list[ConfigProblem] = []
    chosen: dict[str, Path] = {}
    for directory in CONF_DIRS:
        for name in listing(root / directory, BACKEND, root, problems):
            if name.endswith(".conf"):
                chosen[name] = root / directory / name
    paths = [root / "etc/NetworkManager/NetworkManager.conf"] + [chosen[name] for name in sorted(chosen)]
    texts = []
    for path in paths:
        if not path.exists():
            continue
        text, problem = read_text(path, BACKEND, shown(root, path))
        if problem:
            problems.append(problem)
        elif text is not None:
            texts.append((shown(root, path), text))
    settings = parse_conf(texts)
    settings.problems = problems + settings.problems
    return settings


@dataclass(frozen=True)
class DeviceState:
    """NM's view of one device, from its state file or (better) over D-Bus."""

    managed: bool | None
    uuid: str | None  # the active profile
    file: str  # where this was read: the state file, or "NetworkManager over D-Bus"
    profile: str | None = None  # the active profile's file (D-Bus only)
    external: bool = False  # NM merely mirrors a device it did not configure ("connected (externally)")


def device_states(root: Path, ifindexes: dict[int, str]) -> dict[str, DeviceState]:
    """ifname -> NM's state file of that device (only the devices NM has seen)."""
    found = {}
    try:
        present = set(os.listdir(root / STATE_DIR))
    except OSError:
        return found
    for index, name in ifindexes.items():
        path = root / STATE_DIR / str(index)
        if str(index) not in present:
            continue
        text, _ = read_text(path, BACKEND, shown(root, path))
        groups, _ = keyfile(text or "", shown(root, path))
        device = groups.get("device", {})
        managed = truth(device["managed"][0]) if "managed" in device else None
        uuid = device.get("connection-uuid", (None,))[0] or None
        found[name] = DeviceState(managed, uuid, shown(root, path))
    return found


def in_use(root: Path) -> tuple[bool, str]:
    try:
        if any((root / STATE_DIR).iterdir()):
            return True, f"NetworkManager runs (/{STATE_DIR})"
    except OSError:
        pass
    for wants in ("multi-user.target.wants", "network-online.target.wants"):
        found = exists(root, f"/etc/systemd/system/{wants}/NetworkManager.service")
        if found:
            return True, f"NetworkManager.service enabled ({found})"
    found = exists(root, "/etc/systemd/system/dbus-org.freedesktop.NetworkManager.service")
    if found:
        return True, f"NetworkManager.service enabled ({found})"
    return False, "NetworkManager.service is not enabled"
