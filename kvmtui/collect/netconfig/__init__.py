"""The host's saved network configuration, every backend's, and who owns each link.

One reader per backend (netplan.py, networkmanager.py + ifcfg.py + nm_conf.py,
networkd.py, ifupdown.py), one model (kvmtui.model.netconfig), ownership in owners.py.
`root` is "/" for the live host; tests point it at a tree of their own. Files and
run state, and NetworkManager over D-Bus where it answers (nm_devices.py; otherwise its
/run/NetworkManager/devices state files say most of what `nmcli device` would).

A file that cannot be read is a problem, never an exception: each backend's reading
is also guarded, so a bug in one reader costs that backend, said in one problem line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from kvmtui.collect.netconfig import ifcfg, ifupdown, netplan, networkd, networkmanager, nm_conf
from kvmtui.collect.netconfig.nm_devices import device_states_over_dbus
from kvmtui.collect.netconfig.common import Parsed
from kvmtui.collect.netconfig.owners import Evidence, networkd_rules, resolve, rules_of
from kvmtui.model import Link
from kvmtui.model.netconfig import BACKENDS, BackendUse, ConfigProblem, SavedConfig

# Where each backend keeps its files: a change of any (name, size, time) re-reads them all.
WATCHED = (*netplan.DIRS, *networkmanager.DIRS, *nm_conf.CONF_DIRS, "etc/NetworkManager", ifcfg.DIR,
           *networkd.DIRS, "etc/network", "etc/network/interfaces.d")


@dataclass
class _Files:
    """Everything read from configuration files: kept while none of them changes."""

    parts: dict[str, Parsed] = field(default_factory=dict)
    nm: nm_conf.NMSettings | None = None
    problems: list[ConfigProblem] = field(default_factory=list)


_cache: dict[tuple, _Files] = {}


def read_netconfig(root: str | Path = "/", links: Sequence[Link] = (), runtime: bool = True) -> SavedConfig:
    """The saved configuration under `root` and the owner of each of `links`. `runtime`:
    also read NM's and networkd's run state for the links' ifindexes (only meaningful for
    the namespace those daemons run in)."""
    root = Path(root)
    try:
        files = _files(root)
        in_use = _in_use(root, files)
        ifindexes = {link.ifindex: link.ifname for link in links} if runtime else {}
        nm_states, nm_answers = _nm_states(root, ifindexes)
        if nm_answers:
            in_use["NetworkManager"] = (True, "NetworkManager answers on D-Bus")
        evidence = Evidence(in_use=in_use, nm=files.nm, nm_states=nm_states,
                            networkd_states=networkd.link_states(root, ifindexes) if ifindexes else {},
                            ifupdown_names=frozenset(d.name for d in files.parts["ifupdown"].devices if d.name))
        networkd_part = files.parts["systemd-networkd"]
        rules = (rules_of(files.parts["netplan"].devices) + rules_of(files.parts["NetworkManager"].devices)
                 + networkd_rules(networkd_part.extra.get("networks", []),
                                  [d for d in networkd_part.devices if d.kind != "ethernet"])
                 + rules_of(files.parts["ifupdown"].devices))
        owners = resolve(links, rules, evidence)
    except Exception as exc:  # noqa: BLE001 - the guard promised above: one line, the snapshot goes on
        return SavedConfig(str(root), problems=(ConfigProblem("kvmtui", str(root), None,
                                                              f"kvmtui failed: {type(exc).__name__}: {exc}"),))
    devices = [d for part in files.parts.values() for d in part.devices if "generated" not in d.why]
    backends = tuple(BackendUse(b, *in_use[b]) for b in BACKENDS)
    return SavedConfig(str(root), tuple(devices), owners, tuple(files.problems), backends, dbus=nm_answers)


def _nm_states(root: Path, ifindexes: dict[int, str]) -> tuple[dict, bool]:
    """NM's device states, and whether NM answered on D-Bus (then they come from there,
    else from its state files)."""
    if not ifindexes:
        return {}, False
    over_dbus = device_states_over_dbus(set(ifindexes.values()))
    if over_dbus is not None:
        return over_dbus, True
    return nm_conf.device_states(root, ifindexes), False


def _files(root: Path) -> _Files:
    key = (str(root), _signature(root))
    if key not in _cache:
        _cache.clear()
        _cache[key] = _read_files(root)
    return _cache[key]


def _signature(root: Path) -> tuple:
    """(path, inode, size, mtime) of every file and directory the readers look at."""
    seen = []
    for directory in WATCHED:
        path = root / directory
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    info = entry.stat()
                    seen.append((entry.path, info.st_ino, info.st_size, info.st_mtime_ns))
            info = path.stat()
            seen.append((str(path), info.st_ino, info.st_size, info.st_mtime_ns))
        except OSError:
            continue
    return tuple(sorted(seen))


def _guarded(backend: str, root: Path, read: Callable[[], Parsed]) -> Parsed:
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - a reader's bug costs its backend, not the snapshot
        return Parsed(problems=[ConfigProblem(backend, str(root), None, f"kvmtui failed to read {backend}'s "
                                                                       f"files: {type(exc).__name__}: {exc}")])


def _read_files(root: Path) -> _Files:
    files = _Files()
    files.parts["netplan"] = _guarded("netplan", root, lambda: netplan.read(root))
    keyfiles = _guarded("NetworkManager", root, lambda: networkmanager.read(root))
    keyfiles.add(_guarded("NetworkManager", root, lambda: ifcfg.read(root)))
    files.parts["NetworkManager"] = keyfiles
    files.parts["systemd-networkd"] = _guarded("systemd-networkd", root, lambda: networkd.read(root, _name_matches))
    files.parts["ifupdown"] = _guarded("ifupdown", root, lambda: ifupdown.read(root))
    try:
        files.nm = nm_conf.read_conf(root)
        files.problems += files.nm.problems
    except Exception as exc:  # noqa: BLE001
        files.problems.append(ConfigProblem("NetworkManager", str(root), None, f"kvmtui failed: {exc}"))
    for part in files.parts.values():
        files.problems += part.problems
    return files


def _name_matches(match: dict[str, list[str]], name: str | None) -> bool:
    """Whether a .network's [Match] Name= takes a .netdev's device (other conditions are
    judged against live links, in owners.py)."""
    words = list(match.get("Name", ()))
    if not words or name is None:
        return not words and name is not None and not match
    invert = words[0].startswith("!")
    words[0] = words[0].lstrip("!")
    return any(fnmatchcase(name, w) for w in words) != invert


def _in_use(root: Path, files: _Files) -> dict[str, tuple[bool, str]]:
    found = {"netplan": netplan.in_use(root), "NetworkManager": nm_conf.in_use(root),
             "systemd-networkd": networkd.in_use(root)}
    renders = {d.why for d in files.parts["netplan"].devices}
    if found["netplan"][0] and not found["systemd-networkd"][0] and "netplan renderer networkd" in renders:
        found["systemd-networkd"] = (True, "netplan renders for it (its generator enables systemd-networkd)")
    installed, why = ifupdown.flavour(root)
    for flavour in ("ifupdown", "ifupdown2"):
        found[flavour] = (True, why) if installed == flavour else (False, why if installed is None else
                                                                 f"{installed} is installed instead")
    return found


def read_text(path: str) -> str | None:
    """A configuration file's text for a renderer to edit (persist/): None when it is absent."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
