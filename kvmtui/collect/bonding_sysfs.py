"""A bond read from sysfs, for when /proc/net/bonding/<bond> cannot be read.

Formats are the kernel's (drivers/net/bonding/bond_sysfs.c, bond_sysfs_slave.c): options
print as "<word> <number>" ("802.3ad 4", "layer2+3 2"), lists as space-separated words,
an unset primary or active slave as an empty file. Without CAP_NET_ADMIN the kernel
prints the LACP keys, partner MAC and actor system as empty files (some kernels refuse
with EPERM): those become None, as does a down link's speed (EINVAL).
"""

from __future__ import annotations

from pathlib import Path

from kvmtui.collect.bonding_values import BondingParseError, duplex_word, plausible_speed, unique_slaves
from kvmtui.model.bonding import Aggregator, Bond, BondSlave, LacpPort
from kvmtui.vocabulary import BOND_MODES

# Modes whose transmit hash policy matters (bond_mode_uses_xmit_hash); procfs shows it only there.
_HASHING_MODES = frozenset({"balance-xor", "802.3ad"})


def _attr(path: Path) -> str | None:
    """One sysfs value without its newline; None when absent, refused, or empty."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return text.strip() or None


def _word(text: str | None) -> str | None:
    """The name part of an option printed as "<name> <number>"."""
    return text.split()[0] if text else None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:  # "N/A" outside 802.3ad, or garbage
        return None


def _mac(text: str | None) -> str | None:
    return text.lower() if text else None


def _speed(text: str | None) -> int | None:
    mbps = _int(text)
    return plausible_speed(mbps) if mbps is not None else None


def _duplex(text: str | None) -> str | None:
    try:
        return duplex_word(text or "")
    except ValueError:
        return None


def _actor_system(text: str | None) -> str | None:
    """The configured LACP system MAC; all zeros means unset (the bond's own MAC is used)."""
    mac = _mac(text)
    return None if mac == "00:00:00:00:00:00" else mac


def _port_state(text: str | None) -> LacpPort | None:
    """sysfs carries only the LACP port state of each side; the rest stays unknown."""
    state = _int(text)
    return LacpPort(None, None, None, None, None, state) if state is not None else None


def _slave_names(bond_dir: Path) -> list[str]:
    listed = _attr(bond_dir / "bonding" / "slaves")
    if listed is not None:
        return [name for name in listed.split() if name != "++more++"]  # "++more++": page full
    return sorted(link.name.removeprefix("lower_") for link in bond_dir.glob("lower_*"))


def _read_slave(sysfs_net: Path, name: str, problems: list[str]) -> BondSlave | None:
    """None when the slave's bonding_slave files are gone (it left the bond while we read),
    or its failure count is negative (`problems` says so)."""
    base = sysfs_net / name / "bonding_slave"
    mii_status = _attr(base / "mii_status")
    link_failure_count = _int(_attr(base / "link_failure_count"))
    if mii_status is None or link_failure_count is None:
        return None
    if link_failure_count < 0:
        problems.append(f"slave {name}: link_failure_count {link_failure_count} is not a count: not shown")
        return None
    return BondSlave(
        name=name,
        mii_status=mii_status,
        speed=_speed(_attr(sysfs_net / name / "speed")),
        duplex=_duplex(_attr(sysfs_net / name / "duplex")),
        link_failure_count=link_failure_count,
        perm_hwaddr=_mac(_attr(base / "perm_hwaddr")),
        queue_id=_int(_attr(base / "queue_id")),
        aggregator_id=_int(_attr(base / "ad_aggregator_id")),
        actor=_port_state(_attr(base / "ad_actor_oper_port_state")),
        partner=_port_state(_attr(base / "ad_partner_oper_port_state")),
        state=_attr(base / "state"),
    )


def read_bond_sysfs(name: str, sysfs_net: Path = Path("/sys/class/net")) -> Bond:
    """The bond as <sysfs_net>/<name>/bonding/ and its slaves' bonding_slave/ show it.

    Raises OSError when the bond's mode file cannot be read (no such bond, no bonding
    module), BondingParseError when it names no known mode. Settings that only apply to
    other modes (hash policy, LACP) are left None, as procfs leaves them out. `mode_text`
    is the mode file as printed ("802.3ad 4"); there is no driver version in sysfs.
    """
    bonding = sysfs_net / name / "bonding"
    mode_path = bonding / "mode"
    mode_text = mode_path.read_text(encoding="utf-8", errors="replace").strip()
    mode = _word(mode_text) or ""
    if mode not in BOND_MODES:
        raise BondingParseError(str(mode_path), f"unknown bonding mode {mode_text!r}")

    def attr(file: str) -> str | None:
        return _attr(bonding / file)

    lacp = mode == "802.3ad"
    hashing = mode in _HASHING_MODES or (mode == "balance-tlb" and attr("tlb_dynamic_lb") == "0")
    aggregator_id = _int(attr("ad_aggregator")) if lacp else None
    aggregator = None
    if aggregator_id:  # 0: the kernel has no active aggregator
        aggregator = Aggregator(
            aggregator_id=aggregator_id,
            number_of_ports=_int(attr("ad_num_ports")),
            actor_key=_int(attr("ad_actor_key")),
            partner_key=_int(attr("ad_partner_key")),
            partner_mac=_mac(attr("ad_partner_mac")),
        )
    problems: list[str] = []
    slaves = unique_slaves((_read_slave(sysfs_net, slave, problems) for slave in _slave_names(sysfs_net / name)), problems)
    return Bond(
        name=name,
        source="sysfs",
        driver_version=None,
        mode=mode,
        mode_text=mode_text,
        fail_over_mac=_word(attr("fail_over_mac")),
        xmit_hash_policy=_word(attr("xmit_hash_policy")) if hashing else None,
        primary=attr("primary"),
        primary_reselect=_word(attr("primary_reselect")),
        active_slave=attr("active_slave"),
        mii_status=attr("mii_status"),
        miimon=_int(attr("miimon")),
        updelay=_int(attr("updelay")),
        downdelay=_int(attr("downdelay")),
        peer_notify_delay=_int(attr("peer_notif_delay")),
        arp_interval=_int(attr("arp_interval")),
        arp_ip_target=tuple((attr("arp_ip_target") or "").split()),
        arp_validate=_word(attr("arp_validate")),
        lacp_active=_word(attr("lacp_active")) if lacp else None,
        lacp_rate=_word(attr("lacp_rate")) if lacp else None,
        min_links=_int(attr("min_links")) if lacp else None,
        ad_select=_word(attr("ad_select")) if lacp else None,
        ad_actor_sys_prio=_int(attr("ad_actor_sys_prio")) if lacp else None,
        ad_actor_system=_actor_system(attr("ad_actor_system")) if lacp else None,
        active_aggregator=aggregator,
        slaves=slaves,
        no_active_aggregator=aggregator_id == 0,
        problems=tuple(problems),
    )
