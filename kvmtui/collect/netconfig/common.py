"""What every backend's reader shares: reading a file safely, the kernel's names for
bond and bridge options, addresses, VLAN ranges, and the parsed result.

Readers are split in two: a pure parser (text -> devices + problems) the tests feed
real files to, and a small reader that finds the files under a root directory.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path

from kvmtui.model.netconfig import ConfiguredDevice, ConfiguredVlan, ConfigProblem
from kvmtui.vocabulary import BOND_MODES, LACP_RATE

MAX_BYTES = 1 << 20  # no network configuration file is this large; a bigger one is not one
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what `dump --json` cannot carry back (serialize)


@dataclass
class Parsed:
    """One parser's result; `extra` carries what a backend's ownership needs beside devices."""

    devices: list[ConfiguredDevice] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def add(self, other: Parsed) -> None:
        self.devices += other.devices
        self.problems += other.problems


def shown(root: Path, path: Path) -> str:
    """A file as the host it describes names it: /etc/... also when read under a test root."""
    try:
        return "/" + str(path.relative_to(root)).lstrip("/") if str(root) != "/" else str(path)
    except ValueError:
        return str(path)


def safe_name(text: str) -> str:
    """A path fit for a problem's sentence: control characters and undecodable bytes escaped."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text)


def read_text(path: Path, backend: str, name: str) -> tuple[str | None, ConfigProblem | None]:
    """A regular file's text, or the one problem that says why not."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return None, ConfigProblem(backend, name, None, "not a regular file")
        if info.st_size > MAX_BYTES:
            return None, ConfigProblem(backend, name, None, f"larger than {MAX_BYTES >> 20} MiB")
        data = path.read_bytes()
    except OSError as exc:
        return None, ConfigProblem(backend, name, None, exc.strerror or str(exc))
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, ConfigProblem(backend, name, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x})")


def listing(directory: Path, backend: str, root: Path, problems: list[ConfigProblem]) -> list[str]:
    """File names in a directory, sorted; a missing directory is empty, a name that is not
    text (or holds control characters) is a problem and skipped."""
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    except OSError as exc:
        problems.append(ConfigProblem(backend, shown(root, directory), None, exc.strerror or str(exc)))
        return []
    kept = []
    for name in names:
        if CONTROL.search(name) or name != safe_name(name):
            problems.append(ConfigProblem(backend, safe_name(shown(root, directory / name)), None,
                                          "a file name with control characters or bytes that are not UTF-8"))
        else:
            kept.append(name)
    return kept


def control_lines(text: str, backend: str, file: str) -> tuple[set[int], list[ConfigProblem]]:
    """Line numbers holding control characters: a parser skips them, with a problem each."""
    bad, problems = set(), []
    if CONTROL.search(text):
        for number, line in enumerate(text.splitlines(), 1):
            found = CONTROL.search(line)
            if found:
                bad.add(number)
                problems.append(ConfigProblem(backend, file, number, f"a control character ({ord(found[0]):#04x})"))
    return bad, problems


def exists(root: Path, *paths: str) -> str | None:
    """The first of `paths` (host paths) present under root, or None."""
    for path in paths:
        if os.path.lexists(root / path.lstrip("/")):
            return path
    return None


def truth(value: object) -> bool | None:
    """A boolean as any backend writes it (yes/no, on/off, true/false, 1/0, y/n); None otherwise."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("1", "yes", "y", "true", "on"):
        return True
    if word in ("0", "no", "n", "false", "off"):
        return False
    return None


def address(value: str, mask: str | None = None) -> str | None:
    """"a/p" from "a/p", "a" + a netmask or prefix length, or "a" alone (a host address, as ip adds it)."""
    value = str(value).strip().strip("\"'")
    try:
        if mask:
            mask = str(mask).strip().strip("\"'")
            prefix = mask if mask.isdigit() else str(ipaddress.ip_network(f"0.0.0.0/{mask}").prefixlen)
            value = f"{value.split('/')[0]}/{prefix}"
        interface = ipaddress.ip_interface(value)
    except ValueError:
        return None
    return f"{interface.ip}/{interface.network.prefixlen}"


def ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(str(value).strip().strip("\"'")))
    except ValueError:
        return None


def mac(value: object) -> str | None:
    text = str(value).strip().strip("\"'").lower().replace("-", ":")
    return text if re.fullmatch(r"[0-9a-f]{1,2}(:[0-9a-f]{1,2}){5}", text) else None


def integer(value: object) -> int | None:
    try:
        return int(str(value).strip().strip("\"'"), 10)
    except ValueError:
        return None


def bond_mode(value: object) -> str:
    """The bonding driver's word for a mode written as a word or a number (0-6)."""
    word = str(value).strip().strip("\"'").lower()
    number = integer(word)
    return BOND_MODES[number] if number is not None and 0 <= number < len(BOND_MODES) else word


def bond_value(name: str, value: object) -> str:
    """A bond option's value in the sysfs word where backends differ (lacp_rate 1 -> fast)."""
    text = str(value).strip().strip("\"'")
    if name == "lacp_rate" and text in ("0", "1"):
        return LACP_RATE[int(text)]
    if isinstance(value, bool):
        return "1" if value else "0"
    return text


_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*(us|usec|ms|msec|s|sec|seconds?|m|min|minutes?|h|hr|hours?)?")
_UNIT_MS = {"us": 0.001, "usec": 0.001, "ms": 1, "msec": 1, "s": 1000, "sec": 1000, "second": 1000,
            "seconds": 1000, "m": 60000, "min": 60000, "minute": 60000, "minutes": 60000,
            "h": 3600000, "hr": 3600000, "hour": 3600000, "hours": 3600000}


def milliseconds(value: object, unit: str = "ms") -> str:
    """A time span ("1s", "200ms", "2" in `unit`) in milliseconds; as written when not one."""
    text = str(value).strip().lower()
    parts = _SPAN.findall(text.replace(" ", ""))
    if not parts or _SPAN.sub("", text.replace(" ", "")):
        return str(value)
    total = sum(float(number) * _UNIT_MS[suffix or unit] for number, suffix in parts)
    return f"{total:g}"


def seconds(value: object, unit: str = "s") -> str:
    """A time span in seconds ("9" -> "9", "500ms" -> "0.5")."""
    ms = milliseconds(value, unit)
    try:
        return f"{float(ms) / 1000:g}"
    except ValueError:
        return str(value)


def vlan_ranges(words: str | list, pvid: bool = False, untagged: bool = False) -> tuple[list[ConfiguredVlan], list[str]]:
    """"2000-2079 4094" (or a list of such) as VLAN ranges; what is not one comes back as text."""
    found, bad = [], []
    for word in (words.split() if isinstance(words, str) else [str(w) for w in words]):
        match = re.fullmatch(r"(\d{1,4})(?:-(\d{1,4}))?", word.strip())
        if match and 0 <= int(match[1]) <= 4095 and 0 <= int(match[2] or match[1]) <= 4095:
            found.append(ConfiguredVlan(int(match[1]), int(match[2] or match[1]), pvid, untagged))
        else:
            bad.append(word)
    return found, bad


def vlan_of_name(name: str) -> tuple[str | None, int | None]:
    """The parent and id a VLAN's name implies: eth0.100 -> (eth0, 100); vlan100 -> (None, 100)."""
    match = re.fullmatch(r"(.+)\.(\d{1,4})", name)
    if match and int(match[2]) <= 4095:
        return match[1], int(match[2])
    match = re.fullmatch(r"vlan0*(\d{1,4})", name)
    if match and int(match[1]) <= 4095:
        return None, int(match[1])
    return None, None


def device(name: str | None, kind: str, backend: str, file: str, line: int, why: str, **fields) -> ConfiguredDevice:
    """A ConfiguredDevice from a parser's working dict: lists become tuples, empty options go."""
    converted = {key: tuple(value) if isinstance(value, list) else value for key, value in fields.items()}
    return ConfiguredDevice(name=name, kind=kind, backend=backend, file=file, line=line, why=why, **converted)


def pairs(mapping: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((key, str(value)) for key, value in mapping.items())


def link_masters(devices: list[ConfiguredDevice]) -> list[ConfiguredDevice]:
    """Fill both directions of membership within one backend's devices: a port naming its
    master (networkd Bond=, NM controller=) appears in the master's `ports`, and a master
    listing its ports (netplan interfaces:, ifupdown bridge-ports) is each port's `master`."""
    ports: dict[str, list[str]] = {}
    masters: dict[str, str] = {}
    for dev in devices:
        if dev.name and dev.master:
            ports.setdefault(dev.master, []).append(dev.name)
        for port in dev.ports:
            if dev.name:
                masters.setdefault(port, dev.name)
    result = []
    for dev in devices:
        extra = [p for p in ports.get(dev.name or "", ()) if p not in dev.ports]
        master = dev.master or (masters.get(dev.name) if dev.name else None)
        if extra or master != dev.master:
            dev = replace(dev, ports=dev.ports + tuple(extra), master=master)
        result.append(dev)
    return result
