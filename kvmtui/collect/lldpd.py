"""The neighbours lldpd already knows, without listening: `lldpcli -f json0 show neighbors
details` (json0, because plain json changes shape when there is one neighbour).

The daemon is reached through its control socket, not a namespace: the default one is
the host's lldpd, so with --netns it is asked only when $KVMTUI_LLDPD_SOCKET names the
socket of that namespace's daemon. No lldpcli or no daemon: None, never an error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from kvmtui.model.wire import Neighbour, PortNeighbour

LLDPD_SOCKET_ENV = "KVMTUI_LLDPD_SOCKET"
DEFAULT_SOCKET = "/run/lldpd.socket"  # liblldpctl's
TIMEOUT = 5.0


def _first(obj: dict, key: str) -> dict:
    """json0 wraps every value in a list of objects: the first object, or {}."""
    values = obj.get(key) or [{}]
    return values[0] if isinstance(values, list) and isinstance(values[0], dict) else {}


def _values(obj: dict, key: str) -> list[str]:
    return [str(item["value"]) for item in obj.get(key) or [] if isinstance(item, dict) and "value" in item]


def _int(text: object) -> int | None:
    try:
        return int(str(text))
    except ValueError:
        return None


def parse_lldpcli_json0(text: str) -> dict[str, tuple[Neighbour, ...]]:
    """Interface name -> the neighbours lldpd heard on it (LLDP, or CDP when lldpd runs with -c)."""
    document = json.loads(text)
    found: dict[str, list[Neighbour]] = {}
    for block in document.get("lldp") or []:
        for entry in block.get("interface") or [] if isinstance(block, dict) else []:
            chassis, port = _first(entry, "chassis"), _first(entry, "port")
            via = str(entry.get("via", "LLDP")).lower()
            pvid = next((_int(vlan.get("vlan-id")) for vlan in entry.get("vlan") or []
                         if isinstance(vlan, dict) and vlan.get("pvid") in (True, "yes", "true")), None)
            vlans = sorted({vid for vlan in entry.get("vlan") or [] if isinstance(vlan, dict)
                            for vid in [_int(vlan.get("vlan-id"))] if vid is not None and 1 <= vid <= 4094})
            neighbour = Neighbour(
                protocol="cdp" if via.startswith("cdp") else via, chassis_id=_first(chassis, "id").get("value"),
                port_id=_first(port, "id").get("value"), port_description=_first(port, "descr").get("value"),
                system_name=_first(chassis, "name").get("value"), platform=_first(chassis, "descr").get("value"),
                native_vlan=pvid, management_addresses=tuple(_values(chassis, "mgmt-ip")),
                ttl=_int(_first(port, "ttl").get("value", "")), vlans=tuple(vlans))
            found.setdefault(str(entry.get("name", "")), []).append(neighbour)
    return {name: tuple(neighbours) for name, neighbours in found.items()}


def lldpd_neighbours(netns: str | None = None) -> dict[str, tuple[Neighbour, ...]] | None:
    """What the running lldpd knows, by interface; None when there is no lldpd to ask."""
    socket_path = os.environ.get(LLDPD_SOCKET_ENV)
    lldpcli = shutil.which("lldpcli") or shutil.which("lldpcli", path="/usr/sbin:/sbin")
    if lldpcli is None or (netns and not socket_path) or not os.path.exists(socket_path or DEFAULT_SOCKET):
        return None  # no lldpd: not worth a process on every snapshot
    command = [lldpcli, *(("-u", socket_path) if socket_path else ()), "-f", "json0", "show", "neighbors", "details"]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None  # not running, or its socket is not ours to read
    try:
        return parse_lldpcli_json0(proc.stdout)
    except (ValueError, AttributeError, TypeError):
        return None


def lldpd_port_neighbours(netns: str | None = None) -> tuple[PortNeighbour, ...]:
    """What lldpd knows, as the Snapshot holds it (nothing when no lldpd answers)."""
    known = lldpd_neighbours(netns) or {}
    return tuple(PortNeighbour(ifname, "lldpd", n) for ifname in sorted(known) for n in known[ifname])
