"""Keyfile changes (kvmtui.persist.networkmanager) written through NetworkManager's D-Bus API.

NM owns its profiles: kvmtui does not put files in its directories but hands each keyfile,
converted to NM's settings (a{sa{sv}}), to `Settings.AddConnection2` (a new uuid),
`Settings.Connection.Update2` (a uuid NM has) or `Delete` (a change to nothing), all
TO_DISK, and then activates what it wrote: masters first, then their ports, and waits until
NM says they are activated. NM is asked on the bus of $DBUS_SYSTEM_BUS_ADDRESS (as in
nm_checkpoint.py).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import struct
import time

from dbus_fast import Variant

from kvmtui.apply.backend import refuse_if_readonly
from kvmtui.nm_dbus import NM, NM_PATH, DBusError, NetworkManagerBus, NoNetworkManager, with_nm
from kvmtui.collect.netconfig.networkmanager import keyfile
from kvmtui.errors import KvmtuiError
from kvmtui.persist.model import FileChange
from kvmtui.persist.networkmanager import NETPLAN_PROFILE

SETTINGS, SETTINGS_PATH = f"{NM}.Settings", "/org/freedesktop/NetworkManager/Settings"
CONNECTION, ACTIVE = f"{NM}.Settings.Connection", f"{NM}.Connection.Active"
TO_DISK = 0x1
ACTIVATED, DEACTIVATED = 2, 4  # NMActiveConnectionState
ACTIVATE_TIMEOUT = 30.0
SETTING_NAMES = {"ethernet": "802-3-ethernet", "wifi": "802-11-wireless", "wifi-security": "802-11-wireless-security"}
U32 = {"mtu", "forward-delay", "hello-time", "max-age", "ageing-time", "priority", "path-cost", "id", "flags",
       "queue-id", "group-forward-mask", "multicast-hash-max", "vlan-default-pvid", "dhcp-timeout", "speed",
       "wait-device-timeout", "ip6-privacy-prefer", "destination-port", "ttl"}
I32 = {"autoconnect-priority", "autoconnect-retries", "autoconnect-slaves", "autoconnect-ports", "multi-connect",
       "auth-retries", "dad-timeout", "ip6-privacy", "lldp", "mdns", "llmnr", "dns-over-tls", "wait-activation-delay",
       "dns-priority", "required-timeout", "route-table", "mptcp-flags", "metered"}
I64 = {"route-metric", "timestamp"}
BOOL = {"autoconnect", "stp", "multicast-snooping", "vlan-filtering", "hairpin-mode", "may-fail", "never-default",
        "ignore-auto-dns", "ignore-auto-routes", "dhcp-send-hostname", "auto-negotiate", "read-only",
        "multicast-querier", "multicast-router", "learning", "tap"}
ADDR_GEN_MODES = {"eui64": 0, "stable-privacy": 1, "default-or-eui64": 2, "default": 3}
MAC_KEYS = {"mac-address", "cloned-mac-address"}
MAC_WORDS = {"preserve", "permanent", "random", "stable", "stable-ssid"}


def settings_of(text: str, file: str = "keyfile") -> dict[str, dict[str, Variant]]:
    """Keyfile text -> NM's D-Bus settings. Addresses and routes become address-data and
    route-data, bond options the bond's `options` dict, MACs bytes, enums and numbers their
    D-Bus types; an unknown key is passed as a string (NM then names it if it refuses)."""
    groups, problems = keyfile(text, file)
    if problems or "connection" not in groups:
        raise KvmtuiError(f"kvmtui cannot convert {file} to NetworkManager settings: "
                          + (problems[0].text if problems else "no [connection] group"))
    out: dict[str, dict[str, Variant]] = {}
    port = bool(groups["connection"].get("master") or groups["connection"].get("controller"))
    for group, entries in groups.items():
        values = {key: value for key, (value, _line) in entries.items() if key != "["}
        if port and group in ("ipv4", "ipv6", "proxy"):
            continue  # NM normalises a port's IP settings away
        if group == "bond":
            out["bond"] = {"options": Variant("a{ss}", {k: v for k, v in values.items()})}
            continue
        if group in ("ipv4", "ipv6"):
            out[group] = _ip(group, values, file)
            continue
        setting: dict[str, Variant] = {}
        for key, value in values.items():
            if group == "connection" and key == "type":
                setting[key] = Variant("s", SETTING_NAMES.get(value, value))
            elif key in ("controller", "port-type") and group == "connection":
                setting[{"controller": "master", "port-type": "slave-type"}[key]] = Variant("s", value)
            elif key in MAC_KEYS:
                if value.lower() in MAC_WORDS:
                    setting["assigned-mac-address"] = Variant("s", value)
                else:
                    setting[key] = Variant("ay", bytes.fromhex(value.replace(":", "").replace("-", "")))
            else:
                setting[key] = _typed(key, value, group)
        out[SETTING_NAMES.get(group, group)] = setting
    return out


def _typed(key: str, value: str, group: str = "") -> Variant:
    if key in BOOL:
        return Variant("b", value.strip().lower() in ("true", "yes", "1", "on"))
    if (key in U32 and group != "connection") or (key, group) == ("mode", "macvlan"):
        return Variant("u", int(value))
    if key in I32:
        return Variant("i", {"true": 1, "false": 0, "default": -1}.get(value.lower(), None) if not
                       re.fullmatch(r"-?\d+", value) else int(value))
    if key in I64:
        return Variant("x", int(value))
    if key in ("permissions", "secondaries", "dns-search", "dns-options"):
        return Variant("as", [v for v in value.split(";") if v])
    if key == "vlans" and group in ("bridge", "bridge-port"):
        return _bridge_vlans(value)
    return Variant("s", value)


def _bridge_vlans(value: str) -> Variant:
    """"1 pvid untagged, 10-20" -> NM's list of VLAN dicts (vid-start, vid-end, pvid, untagged)."""
    out = []
    for item in (words.split() for words in value.split(",") if words.strip()):
        first, _, last = item[0].partition("-")
        out.append({"vid-start": Variant("q", int(first)), "vid-end": Variant("q", int(last or first)),
                    "pvid": Variant("b", "pvid" in item), "untagged": Variant("b", "untagged" in item)})
    return Variant("aa{sv}", out)


def _ip(family: str, values: dict[str, str], file: str) -> dict[str, Variant]:
    out: dict[str, Variant] = {}
    addresses, routes, gateway = [], [], values.get("gateway")
    for key in sorted((k for k in values if re.fullmatch(r"(address|addresses)\d*", k)),
                      key=lambda k: int(re.sub(r"\D", "", k) or 0)):
        parts = [p.strip() for p in re.split(r"[,;]", values[key]) if p.strip()]
        network = ipaddress.ip_interface(parts[0] if "/" in parts[0] else f"{parts[0]}/{24 if family == 'ipv4' else 64}")
        addresses.append({"address": Variant("s", str(network.ip)), "prefix": Variant("u", network.network.prefixlen)})
        if len(parts) > 1 and not gateway:
            gateway = parts[1]
    for key in sorted((k for k in values if re.fullmatch(r"(route|routes)\d*", k)),
                      key=lambda k: int(re.sub(r"\D", "", k) or 0)):
        parts = [p.strip() for p in re.split(r"[,;]", values[key])]
        network = ipaddress.ip_network(parts[0], strict=False)
        route = {"dest": Variant("s", str(network.network_address)), "prefix": Variant("u", network.prefixlen)}
        if len(parts) > 1 and parts[1] and ipaddress.ip_address(parts[1]) != ipaddress.ip_address(
                "::" if family == "ipv6" else "0.0.0.0"):
            route["next-hop"] = Variant("s", parts[1])
        if len(parts) > 2 and parts[2]:
            route["metric"] = Variant("u", int(parts[2]))
        routes.append(route)
    for key, value in values.items():
        if re.fullmatch(r"(address|addresses|route|routes)\d*(_options)?", key) or key == "gateway":
            continue
        if key == "addr-gen-mode":
            out[key] = Variant("i", ADDR_GEN_MODES.get(value, int(value) if value.lstrip("-").isdigit() else 3))
        elif key == "dns":
            items = [v for v in value.split(";") if v]
            out[key] = (Variant("au", [struct.unpack("=I", socket.inet_aton(v))[0] for v in items]) if family == "ipv4"
                        else Variant("aay", [ipaddress.IPv6Address(v).packed for v in items]))
        else:
            out[key] = _typed(key, value)
    if addresses:
        out["address-data"] = Variant("aa{sv}", addresses)
    if routes:
        out["route-data"] = Variant("aa{sv}", routes)
    if gateway:
        out["gateway"] = Variant("s", gateway)
    return out


def _uuid(text: str) -> tuple[str, str, str | None]:
    """(uuid, interface name, master) of a keyfile."""
    groups, _ = keyfile(text, "keyfile")
    conn = {k: v for k, (v, _l) in groups.get("connection", {}).items()}
    return conn.get("uuid", ""), conn.get("interface-name", ""), conn.get("master") or conn.get("controller")


def write_profiles(changes: tuple[FileChange, ...]) -> list[str]:
    """Each keyfile change through NM (add, update, delete, to disk), then the written
    profiles activated and awaited; the lines to report. NM refusing raises KvmtuiError."""
    refuse_if_readonly()
    for change in changes:
        if NETPLAN_PROFILE.match(change.path):
            raise KvmtuiError(f"{change.path} is netplan's: kvmtui writes no NetworkManager profile netplan "
                              "generates (the next `netplan generate` would overwrite it)")
    plans = [(change, settings_of(change.after, change.path) if change.after is not None else None)
             for change in changes if change.changed]

    async def work(nm: NetworkManagerBus) -> list[str]:
        undo: list[tuple[str, str, object]] = []  # what puts NM's profiles back if a later one fails
        try:
            return await profiles(nm, undo)
        except KvmtuiError as exc:
            failed = await _undo(nm, undo)
            raise KvmtuiError(f"{exc}; " + ("the profiles written before it are as they were again" if not failed
                                            else "could NOT put back " + ", ".join(failed))) from None

    async def profiles(nm: NetworkManagerBus, undo: list) -> list[str]:
        lines: list[str] = []
        written: list[tuple[str, str, str | None]] = []  # (connection path, ifname, master)
        for change, settings in plans:
            uuid, ifname, master = _uuid(change.after if change.after is not None else change.before or "")
            try:
                path = (await nm.call(SETTINGS_PATH, SETTINGS, "GetConnectionByUuid", "s", (uuid,)))[0] if uuid else None
            except DBusError:
                path = None
            try:
                if settings is None:
                    if path:
                        await nm.call(path, CONNECTION, "Delete")
                        undo.append(("add", "", settings_of(change.before, change.path) if change.before else None))
                        lines.append(f"NetworkManager deleted profile {ifname or uuid} ({change.path})")
                    continue
                if path:
                    previous = (await nm.call(path, CONNECTION, "GetSettings"))[0]
                    await nm.call(path, CONNECTION, "Update2", "a{sa{sv}}ua{sv}", (settings, TO_DISK, {}))
                    undo.append(("update", path, previous))
                    lines.append(f"NetworkManager updated profile {ifname} ({change.path})")
                else:
                    path = (await nm.call(SETTINGS_PATH, SETTINGS, "AddConnection2", "a{sa{sv}}ua{sv}",
                                          (settings, TO_DISK, {})))[0]
                    undo.append(("delete", path, None))
                    lines.append(f"NetworkManager added profile {ifname} ({change.path})")
            except DBusError as exc:
                raise KvmtuiError(f"NetworkManager refused the profile of {ifname or uuid} ({change.path}): {exc}") from None
            written.append((path, ifname, master))
        written.sort(key=lambda w: w[2] is not None)  # masters first: a port waits for its master
        active: list[tuple[str, str]] = []
        for path, ifname, _master in written:
            try:
                device = (await nm.call(NM_PATH, NM, "GetDeviceByIpIface", "s", (ifname,)))[0]
            except DBusError:
                device = "/"  # a software device NM creates from the profile
            try:
                active.append(((await nm.call(NM_PATH, NM, "ActivateConnection", "ooo", (path, device, "/")))[0], ifname))
            except DBusError as exc:
                raise KvmtuiError(f"NetworkManager could not activate the profile of {ifname}: {exc}") from None
        deadline = time.monotonic() + ACTIVATE_TIMEOUT
        for path, ifname in active:
            while True:
                try:
                    state = await nm.prop(path, ACTIVE, "State")
                except DBusError:
                    state = DEACTIVATED  # NM dropped the activation: it failed
                if state == ACTIVATED:
                    lines.append(f"NetworkManager activated {ifname}")
                    break
                if state == DEACTIVATED or time.monotonic() > deadline:
                    raise KvmtuiError(f"NetworkManager did not activate {ifname} (state {state}): see its log")
                await asyncio.sleep(0.1)
        return lines

    try:
        return with_nm(work)
    except (NoNetworkManager, DBusError) as exc:
        raise KvmtuiError(f"cannot write NetworkManager profiles: {exc}") from None


async def _undo(nm: NetworkManagerBus, undo: list[tuple[str, str, object]]) -> list[str]:
    """Put back, newest first, what this write changed in NM's profiles: all or nothing."""
    failed = []
    for what, path, settings in reversed(undo):
        try:
            if what == "delete":
                await nm.call(path, CONNECTION, "Delete")
            elif what == "update":
                await nm.call(path, CONNECTION, "Update2", "a{sa{sv}}ua{sv}", (settings, TO_DISK, {}))
            elif settings is not None:
                await nm.call(SETTINGS_PATH, SETTINGS, "AddConnection2", "a{sa{sv}}ua{sv}", (settings, TO_DISK, {}))
        except DBusError as exc:
            failed.append(f"{path or 'a deleted profile'} ({exc})")
    return failed
