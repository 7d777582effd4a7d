"""A bond's runtime health from /proc/net/bonding/<bond>, with sysfs as the fallback.

The procfs text is what administrators read, but its layout drifted across driver
versions (header forms, optional lines, indentation of the aggregator block, order of
slave lines). So the parser goes by line labels, never by position, and every label it
does not know lands in `extra` verbatim: a newer kernel's line is shown, not dropped.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import MISSING, fields
from functools import cache
from pathlib import Path
from typing import TypeVar

from kvmtui.collect.bonding_sysfs import read_bond_sysfs
from kvmtui.collect.bonding_values import BondingParseError, duplex_word, plausible_speed, unique_slaves
from kvmtui.model.bonding import Aggregator, Bond, BondSlave, LacpPort
from kvmtui.privileges import reading_bonding_files

# bond_mode_name() in the kernel's bond_main.c; the sysfs names are BOND_MODES.
_MODE_BY_TEXT = {
    "load balancing (round-robin)": "balance-rr",
    "fault-tolerance (active-backup)": "active-backup",
    "load balancing (xor)": "balance-xor",
    "fault-tolerance (broadcast)": "broadcast",
    "IEEE 802.3ad Dynamic link aggregation": "802.3ad",
    "transmit load balancing": "balance-tlb",
    "adaptive load balancing": "balance-alb",
}

_NOT_A_VALUE = frozenset({"N/A", "None", "Unknown", "unknown"})
_FAIL_OVER_MAC = re.compile(r"\(fail_over_mac (\S+)\)")
_DRIVER = re.compile(r"v?(\S+)(?: \((.+)\))?")
_HASH_POLICY = re.compile(r"(\S+)(?: \(\d+\))?")
_PRIMARY = re.compile(r"(\S+)(?: \(primary_reselect (\S+)\))?")
_SPEED = re.compile(r"(-?\d+) ?Mbps")
_NO_AGGREGATOR = re.compile(r"bond \S+ has no active aggregator")


# -- value converters: a ValueError sends the line to `extra` unchanged ------------------


def _number(raw: str) -> int | None:
    return None if raw in _NOT_A_VALUE else int(raw)


def _count(raw: str) -> int | None:
    """A counter the kernel keeps unsigned: a negative one is no count."""
    number = _number(raw)
    if number is not None and number < 0:
        raise ValueError(raw)
    return number


def _text(raw: str) -> str | None:
    return None if raw in ("", "None") else raw


def _mac(raw: str) -> str | None:
    return raw.lower() or None


def _speed(raw: str) -> int | None:
    if raw in _NOT_A_VALUE:
        return None
    match = _SPEED.fullmatch(raw)
    if match is None:
        raise ValueError(raw)
    return plausible_speed(int(match[1]))


def _ip_list(raw: str) -> tuple[str, ...]:
    return tuple(ip.strip() for ip in raw.split(",") if ip.strip())


def _must(pattern: re.Pattern[str], raw: str) -> re.Match[str]:
    match = pattern.fullmatch(raw)
    if match is None:
        raise ValueError(raw)
    return match


def _driver(raw: str) -> dict[str, object]:
    match = _must(_DRIVER, raw)
    return {"driver_version": match[1], "driver_date": match[2]}


def _mode(raw: str) -> dict[str, object]:
    for text, mode in _MODE_BY_TEXT.items():
        if raw == text or raw.startswith(text + " "):
            suffix = _FAIL_OVER_MAC.search(raw, len(text))
            return {"mode": mode, "mode_text": raw, "fail_over_mac": suffix[1] if suffix else None}
    raise ValueError(raw)


def _primary(raw: str) -> dict[str, object]:
    match = _must(_PRIMARY, raw)
    return {"primary": _text(match[1]), "primary_reselect": match[2]}


def _to(field: str, convert: Callable[[str], object]) -> Callable[[str], dict[str, object]]:
    return lambda raw: {field: convert(raw)}


# -- what each label means, per section of the file -----------------------------------

_Table = dict[str, Callable[[str], dict[str, object]]]

_BOND_KEYS: _Table = {
    "Ethernet Channel Bonding Driver": _driver,
    "Bonding Mode": _mode,
    "Transmit Hash Policy": lambda raw: {"xmit_hash_policy": _must(_HASH_POLICY, raw)[1]},
    "Primary Slave": _primary,
    "Currently Active Slave": _to("active_slave", _text),
    "MII Status": _to("mii_status", _text),
    "MII Polling Interval (ms)": _to("miimon", _number),
    "Up Delay (ms)": _to("updelay", _number),
    "Down Delay (ms)": _to("downdelay", _number),
    "Peer Notification Delay (ms)": _to("peer_notify_delay", _number),
    "ARP Polling Interval (ms)": _to("arp_interval", _number),
    "ARP IP target/s (n.n.n.n form)": _to("arp_ip_target", _ip_list),
    "LACP active": _to("lacp_active", _text),
    "LACP rate": _to("lacp_rate", _text),
    "Min links": _to("min_links", _number),
    "Aggregator selection policy (ad_select)": _to("ad_select", _text),
    "System priority": _to("ad_actor_sys_prio", _number),
    "System MAC address": _to("ad_actor_system", _mac),
}
_AGGREGATOR_KEYS: _Table = {
    "Aggregator ID": _to("aggregator_id", _number),
    "Number of ports": _to("number_of_ports", _number),
    "Actor Key": _to("actor_key", _number),
    "Partner Key": _to("partner_key", _number),
    "Partner Mac Address": _to("partner_mac", _mac),
}
_SLAVE_KEYS: _Table = {
    "MII Status": _to("mii_status", _text),
    "Speed": _to("speed", _speed),
    "Duplex": _to("duplex", duplex_word),
    "Link Failure Count": _to("link_failure_count", _count),
    "Permanent HW addr": _to("perm_hwaddr", _mac),
    "Slave queue ID": _to("queue_id", _number),
    "Aggregator ID": _to("aggregator_id", _number),
    "Actor Churn State": _to("actor_churn_state", _text),
    "Partner Churn State": _to("partner_churn_state", _text),
    "Actor Churned Count": _to("actor_churned_count", _count),
    "Partner Churned Count": _to("partner_churned_count", _count),
}
# The partner's key is printed as "oper key" (its operational key); it is LacpPort.port_key.
_LACP_KEYS: _Table = {
    "system priority": _to("system_priority", _number),
    "system mac address": _to("system_mac", _mac),
    "port key": _to("port_key", _number),
    "oper key": _to("port_key", _number),
    "port priority": _to("port_priority", _number),
    "port number": _to("port_number", _number),
    "port state": _to("port_state", _number),
}
_PDU_SECTIONS = {"details actor lacp pdu": "actor", "details partner lacp pdu": "partner"}
_SECTION_TITLES = frozenset({"Slave Interface", "Active Aggregator Info", *_PDU_SECTIONS})

# Every label the parser maps to a field; anything else in a file ends up in `extra`.
PROCFS_KEYS = frozenset(
    {*_BOND_KEYS, *_AGGREGATOR_KEYS, *_SLAVE_KEYS, *_LACP_KEYS, *_SECTION_TITLES}
)

_Line = tuple[str, int, str, str | None]  # section, slave index (-1 before slaves), key, value


def _split(text: str) -> tuple[str, str | None]:
    """"Key: value" (the value may hold colons: MACs, IPv6); a bare line has value None."""
    if ": " in text:
        key, _, value = text.partition(": ")
        return key.rstrip(), value.strip()
    if text.endswith(":"):
        return text[:-1].rstrip(), ""
    return text, None


def _sections(lines: Iterable[str]) -> Iterator[_Line]:
    """Label each line with the block it belongs to.

    Nested blocks (Active Aggregator Info, details ... lacp pdu) are indented by the kernel,
    but copies strip or change that indentation, so a known nested label also counts as inside.
    """
    section, slave = "bond", -1
    for line in lines:
        text = line.strip()
        if not text:
            section = {"aggregator": "bond", "actor": "slave", "partner": "slave"}.get(section, section)
            continue
        key, value = _split(text)
        inside = line[0].isspace()
        if key == "Slave Interface" and value is not None:
            section, slave = "slave", slave + 1
        elif section == "aggregator" and not (inside or key in _AGGREGATOR_KEYS):
            section = "bond"
        elif section in ("actor", "partner") and not (inside or key in _LACP_KEYS):
            section = "slave"
        if section == "bond" and key == "Active Aggregator Info" and value is not None:
            section = "aggregator"
        elif section == "slave" and key in _PDU_SECTIONS and value is not None:
            section = _PDU_SECTIONS[key]
        else:
            yield section, slave, key, value


def _fill(
    lines: Iterable[tuple[str, str | None]],
    table: _Table,
    extra: list[tuple[str, str]],
    prefix: str = "",
    ignore_bare: Callable[[str], object] = lambda text: False,
) -> dict[str, object]:
    """Map labelled lines to field values; unknown, unparsable or repeated lines go to extra."""
    values: dict[str, object] = {}
    for key, raw in lines:
        if raw is None:
            if not ignore_bare(key):
                extra.append((prefix + key, ""))
            continue
        convert = table.get(key)
        try:
            converted = convert(raw) if convert else None
        except ValueError:
            converted = None
        if converted is None or not converted.keys().isdisjoint(values):
            extra.append((prefix + key, raw))
        else:
            values.update(converted)
    return values


_T = TypeVar("_T")


@cache
def _fields_of(cls: type) -> tuple[frozenset[str], dict[str, None]]:
    return (frozenset(f.name for f in fields(cls)),  # type: ignore[arg-type]
            {f.name: None for f in fields(cls) if f.default is MISSING})  # type: ignore[arg-type]


def _build(cls: type[_T], values: dict[str, object]) -> _T:
    """The dataclass with the values found; required fields not found are None."""
    names, required = _fields_of(cls)
    return cls(**{**required, **{k: v for k, v in values.items() if k in names}})


_Blocks = dict[tuple[str, int], list[tuple[str, str | None]]]


def _blocks(lines: Iterable[_Line]) -> _Blocks:
    """The lines of each (section, slave index), in one pass over the file."""
    blocks: _Blocks = defaultdict(list)
    for section, index, key, value in lines:
        blocks[section, index].append((key, value))
    return blocks


def _slave(blocks: _Blocks, index: int, problems: list[str]) -> BondSlave | None:
    """One slave block, or None when it is cut short (no MII Status or Link Failure Count)
    or makes no sense (no name, a negative failure count: then `problems` says so)."""
    lines = blocks["slave", index]
    name = lines[0][1] or ""
    extra: list[tuple[str, str]] = []
    body = [(k, v) for k, v in lines if k != "Slave Interface"]
    # A bare label ("Speed" with no colon, seen in a v3.2.4 sample) is a stray fragment: skip it.
    values = _fill(body, _SLAVE_KEYS, extra, ignore_bare=_SLAVE_KEYS.__contains__)
    if not name:
        problems.append(f"slave block {index + 1} has a 'Slave Interface:' line without a name: not shown")
        return None
    if values.get("mii_status") is None or values.get("link_failure_count") is None:
        printed = next((raw for key, raw in extra if key == "Link Failure Count"), None)
        if printed is not None:
            problems.append(f"slave {name}: 'Link Failure Count: {printed}' is not a count: not shown")
        return None
    for side in ("actor", "partner"):
        pdu = blocks.get((side, index), [])
        port = _fill(pdu, _LACP_KEYS, extra, prefix=f"details {side} lacp pdu/")
        values[side] = _build(LacpPort, port) if pdu else None
    return _build(BondSlave, {**values, "name": name, "extra": tuple(extra)})


def parse_bonding_file(name: str, text: str, *, path: str | None = None) -> Bond:
    """Parse the text of /proc/net/bonding/<name> (any mode, any driver version).

    Truncation: the kernel ends every line with a newline, so an unterminated last line
    was cut and is ignored. Text without a recognisable "Bonding Mode:" line (empty, cut
    before it, or not a bonding file at all) raises BondingParseError. Text cut later
    keeps everything before the cut; a slave block is kept only if it has its "MII Status"
    and "Link Failure Count" lines (every driver version prints both), so a slave cut
    before them disappears rather than showing invented health.

    A bare "Speed" line with no colon (seen in a v3.2.4 sample) is tolerated and skipped:
    it is a fragment, not a field. `path` only names the file in error messages.
    """
    path = path or f"/proc/net/bonding/{name}"
    complete_lines = text.split("\n")[:-1]
    if not any(line.strip() for line in complete_lines):
        raise BondingParseError(path, "the file is empty (or holds no complete line)")
    blocks = _blocks(_sections(complete_lines))
    extra: list[tuple[str, str]] = []
    problems: list[str] = []
    bond_lines = blocks["bond", -1]
    values = _fill(
        bond_lines, _BOND_KEYS, extra,
        ignore_bare=lambda text: text == "802.3ad info" or _NO_AGGREGATOR.fullmatch(text) or text in _BOND_KEYS,
    )
    if "mode" not in values:
        printed = next((raw for key, raw in extra if key == "Bonding Mode"), None)
        raise BondingParseError(
            path,
            f"unknown bonding mode {printed!r}" if printed is not None
            else "it has no 'Bonding Mode:' line, so it was cut short or is not a bonding status file",
        )
    aggregator = _fill(blocks.get(("aggregator", -1), []), _AGGREGATOR_KEYS, extra, prefix="Active Aggregator Info/")
    slave_count = 1 + max((index for section, index in blocks if section == "slave"), default=-1)
    slaves = unique_slaves((_slave(blocks, index, problems) for index in range(slave_count)), problems)
    return _build(Bond, {
        **values,
        "name": name,
        "source": "procfs",
        "arp_ip_target": values.get("arp_ip_target", ()),
        "active_aggregator": _build(Aggregator, aggregator) if aggregator.get("aggregator_id") is not None else None,
        "no_active_aggregator": any(v is None and _NO_AGGREGATOR.fullmatch(k) for k, v in bond_lines),
        "slaves": slaves,
        "extra": tuple(extra),
        "problems": tuple(problems),
    })


def _why(error: Exception) -> str:
    if isinstance(error, OSError):
        return (error.strerror or str(error)).lower()
    return str(error)


def collect_bonds(
    names: Iterable[str],
    proc_dir: Path = Path("/proc/net/bonding"),
    sysfs_net: Path | None = Path("/sys/class/net"),
) -> tuple[tuple[Bond, ...], tuple[str, ...]]:
    """Every named bond that can be read, and a sentence for each one that could not.

    procfs first (it has the LACP details); sysfs when procfs is unreadable or garbled.
    `sysfs_net=None` means no fallback: sysfs shows only the namespace it was mounted in.
    """
    bonds: list[Bond] = []
    problems: list[str] = []
    for name in names:
        proc_path = proc_dir / name
        garbled = False
        try:
            with reading_bonding_files():  # LACP details are printed to CAP_NET_ADMIN only
                text = proc_path.read_bytes().decode("utf-8", errors="replace")
        except OSError as error:
            proc_failure = f"cannot read {proc_path} ({_why(error)})"
        else:
            try:
                bonds.append(parse_bonding_file(name, text, path=str(proc_path)))
                problems.extend(f"{name}: {proc_path}: {problem}" for problem in bonds[-1].problems)
                continue
            except BondingParseError as error:
                proc_failure, garbled = str(error), True
        if sysfs_net is None:
            problems.append(f"{name}: {proc_failure}, and sysfs cannot show this namespace")
            continue
        try:
            bonds.append(read_bond_sysfs(name, sysfs_net))
        except (OSError, BondingParseError) as error:
            problems.append(f"{name}: {proc_failure}, nor {sysfs_net / name / 'bonding'} ({_why(error)})")
        else:
            problems.extend(f"{name}: {sysfs_net / name}: {problem}" for problem in bonds[-1].problems)
            if garbled:
                problems.append(f"{name}: {proc_failure}; showing what sysfs reports instead")
    return tuple(bonds), tuple(problems)
