"""Desired devices -> NetworkManager keyfiles (pure: no D-Bus, no file written here).

One profile per desired device, `/etc/NetworkManager/system-connections/<name>.nmconnection`
(mode 0600, as NM reads keyfiles). Where a NetworkManager profile of `saved` already
configures the interface, the change updates that profile (its file, its uuid, and the keys
kvmtui does not manage kept); otherwise it is a new profile with a uuid derived from the
name (the same on every rendering, so the diff shown is the file written). A device whose
configuration netplan owns (its generated profile under /run/NetworkManager, or its YAML) is
refused: the next `netplan generate` would overwrite an NM profile of it.

The keys are NM 1.42's: `master=`/`slave-type=` (newer NMs read them as aliases of
`controller=`/`port-type=`). kvmtui.apply.nm_profiles writes the text through NM's D-Bus API.
"""

from __future__ import annotations

import re
import uuid as uuidlib

from kvmtui.errors import KvmtuiError
from kvmtui.model.netconfig import ConfiguredDevice, SavedConfig
from kvmtui.persist.model import Desired, FileChange, ReadFile
from kvmtui.persist.overlay import NM_OWNED, nm_group
from kvmtui.persist.vlan_aware import NM_OWNED as NM_VLAN_OWNED, nm_keys as nm_vlan_keys

BACKEND = "NetworkManager"
DIRECTORY = "/etc/NetworkManager/system-connections"
NETPLAN_PROFILE = re.compile(r"^/run/NetworkManager/system-connections/netplan-")
UUID_SPACE = uuidlib.UUID("6b766d74-7569-4e4d-8000-6b766d747569")  # kvmtui's: uuid5(name) for a new profile
TYPES = {"ethernet": "ethernet", "bridge": "bridge", "bond": "bond", "vlan": "vlan", "vxlan": "vxlan",
         "macvlan": "macvlan"}
# Keys kvmtui decides; the others of an existing profile stay as they are.
OWNED = {
    "connection": ("interface-name", "master", "controller", "slave-type", "port-type"),
    "ethernet": ("mtu", "cloned-mac-address"),
    "bridge": ("stp", "forward-delay", "mac-address", *NM_VLAN_OWNED["bridge"]),
    "bridge-port": NM_VLAN_OWNED["bridge-port"],
    "vlan": ("id", "parent", "protocol"),
    **NM_OWNED,
}
IP_KEYS = re.compile(r"^(method|gateway|(address|addresses|route|routes)\d*(_options)?)$")


class NetplanOwned(KvmtuiError):
    """The interface's configuration is netplan's: kvmtui writes no NM profile of it."""


def render(saved: SavedConfig, desired: Desired, read: ReadFile) -> tuple[FileChange, ...]:
    """The keyfile changes that make NM's saved configuration say `desired`."""
    for name in [d.name for d in desired.devices] + list(desired.removed):
        refuse_netplan(saved, name)
    used = {d.uuid for d in saved.devices if d.uuid}
    changes: list[FileChange] = []
    for device in desired.devices:
        profile = existing(saved, device.name)
        if profile is not None:
            path, uuid = profile.file, profile.uuid
        else:
            path, uuid = f"{DIRECTORY}/{safe_file_name(device.name)}.nmconnection", new_uuid(device.name, used)
            used.add(uuid)
        before = read(path)
        groups = parse_groups(before) if profile is not None and before else {}
        after = text_of(merge(groups, device, uuid, master_kind(saved, desired, device.master)))
        what = "updated" if profile is not None else "new"
        changes.append(FileChange(path, before, after, 0o600, BACKEND, f"{what} NM profile of {device.kind} {device.name}"
                                  + (f", a port of {device.master}" if device.master else "")))
    for name in desired.removed:
        profile = existing(saved, name)
        if profile is not None:
            changes.append(FileChange(profile.file, read(profile.file), None, 0o600, BACKEND,
                                      f"{name} is deleted: its NM profile goes"))
    return tuple(changes)


def refuse_netplan(saved: SavedConfig, name: str) -> None:
    files = [d.file for d in saved.devices if d.name == name and (d.backend == "netplan" or NETPLAN_PROFILE.match(d.file))]
    files += [o.file or "netplan" for o in saved.owners if o.ifname == name and o.backend == "netplan"]
    if files:
        raise NetplanOwned(f"{name} is configured by netplan ({files[0]}): kvmtui writes no NetworkManager profile "
                           f"of it, since the next `netplan generate` would overwrite it; change the netplan YAML "
                           f"instead, or apply live only")


def existing(saved: SavedConfig, name: str | None) -> ConfiguredDevice | None:
    """The NM profile that configures `name` (one under /etc first: the one an admin edits)."""
    found = [d for d in saved.devices if d.name == name and d.backend == BACKEND and d.uuid and d.file]
    found.sort(key=lambda d: not d.file.startswith("/etc/"))
    return found[0] if found else None


def new_uuid(name: str | None, used: set[str]) -> str:
    for n in range(100):
        candidate = str(uuidlib.uuid5(UUID_SPACE, f"{name}#{n}" if n else str(name)))
        if candidate not in used:
            return candidate
    raise KvmtuiError(f"no free uuid for a new NetworkManager profile of {name}")


def safe_file_name(name: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", name or "unnamed")


def parse_groups(text: str) -> dict[str, dict[str, str]]:
    """Keyfile text -> ordered {group: {key: raw value}}; comments are not kept (NM drops
    them too when it writes the profile)."""
    groups: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip()
            current = groups.setdefault({"802-3-ethernet": "ethernet"}.get(name, name), {})
        elif "=" in line and current is not None:
            key, value = line.split("=", 1)
            current[key.strip()] = value.strip()
    return groups


def master_kind(saved: SavedConfig, desired: Desired, master: str | None) -> str:
    """bridge or bond: what the port's master is, as the plan or the saved config say it."""
    found = desired.device(master) if master else None
    found = found or next((d for d in saved.devices if master and d.name == master), None)
    return "bond" if found is not None and found.kind == "bond" else "bridge"


def merge(groups: dict[str, dict[str, str]], device: ConfiguredDevice, uuid: str,
          port_type: str = "bridge") -> dict[str, dict[str, str]]:
    """The profile's groups with what kvmtui decides for `device` set over them."""
    out = {group: dict(keys) for group, keys in groups.items()}
    for group, keys in OWNED.items():
        for key in keys:
            out.get(group, {}).pop(key, None)
    if not device.master:
        out.pop("bridge-port", None)
        out.pop("bond-port", None)
    conn = out.setdefault("connection", {})
    conn.setdefault("id", device.name or uuid)
    conn["uuid"] = uuid
    conn.setdefault("type", TYPES.get(device.kind, device.kind))
    conn["interface-name"] = device.name or ""
    if not device.autostart:
        conn["autoconnect"] = "false"
    if device.master:
        conn["master"] = device.master
        conn["slave-type"] = port_type
    if device.mtu:
        out.setdefault("ethernet", {})["mtu"] = str(device.mtu)
    elif device.kind == "ethernet":
        out.setdefault("ethernet", {})
    if device.kind == "bridge":
        bridge = out.setdefault("bridge", {})
        if device.mac:  # [bridge] mac-address for the NMs of old, cloned-mac-address (what 1.42 documents) too
            bridge["mac-address"] = device.mac.upper()
            out.setdefault("ethernet", {})["cloned-mac-address"] = device.mac.upper()
        bridge["stp"] = "true" if device.bridge_stp else "false"
        for key, value in device.bridge_options:
            if key == "forward_delay":
                bridge["forward-delay"] = str(value)
    elif device.kind == "bond":
        bond = {"mode": device.bond_mode or "balance-rr"}
        bond.update((key, value) for key, value in device.bond_options)
        out["bond"] = bond
    elif device.kind == "vlan":
        vlan = out.setdefault("vlan", {})
        vlan["id"] = str(device.vlan_id or 0)
        vlan["parent"] = device.parent or ""
        if device.vlan_protocol and device.vlan_protocol != "802.1Q":
            vlan["protocol"] = device.vlan_protocol
    elif device.kind in NM_OWNED:
        out.setdefault(device.kind, {}).update(nm_group(device))
    for group, keys in nm_vlan_keys(device).items():  # a VLAN-aware bridge's, or its port's
        out.setdefault(group, {}).update(keys)
    for family in ("ipv4", "ipv6"):
        out[family] = _ip(out.get(family, {}), device, family)
    return _ordered(out)


def _ip(group: dict[str, str], device: ConfiguredDevice, family: str) -> dict[str, str]:
    """[ipv4]/[ipv6]: a port has none (method=disabled); otherwise the addresses, the gateway
    and the routes of the family, the rest of an existing group kept."""
    six = family == "ipv6"
    if device.master:
        return {"method": "disabled"}
    was = group.get("method")
    kept = {k: v for k, v in group.items() if not IP_KEYS.match(k)}
    addresses = [a for a in device.addresses if (":" in a) == six]
    routes = [r for r in device.routes if (":" in (r.via or r.dst)) == six]
    out: dict[str, str] = {}
    for number, address in enumerate(addresses, 1):
        out[f"address{number}"] = address
    gateway = next((r.via for r in routes if r.dst == "default" and r.via), None)
    if gateway:
        out["gateway"] = gateway
    number = 0
    for route in routes:
        if route.dst == "default" and route.via == gateway:
            continue  # gateway=: its metric is NM's (route-metric of the profile), as for the prefix route
        number += 1
        dst = ("::/0" if six else "0.0.0.0/0") if route.dst == "default" else route.dst
        parts = [dst]
        if route.via or route.metric is not None:
            parts.append(route.via or ("::" if six else "0.0.0.0"))  # NM's "no gateway" before a metric
        if route.metric is not None:
            parts.append(str(route.metric))
        out[f"route{number}"] = ",".join(parts)
    if family in device.dhcp:
        method = "auto"
    elif addresses:
        method = "manual"
    elif six:  # no global address: a link-local one, as the kernel gives it (EUI-64)
        method = was if was in ("auto", "dhcp", "link-local", "ignore", "disabled") else "link-local"
        if method == "link-local" and "addr-gen-mode" not in kept:
            kept["addr-gen-mode"] = "eui64"
    else:
        method = "disabled"
    return {**out, "method": method, **kept}


ORDER = ("connection", "ethernet", "bridge", "bond", "vlan", "vxlan", "macvlan", "bridge-port", "bond-port", "ipv4",
         "ipv6", "proxy")


def _ordered(groups: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    rank = {name: n for n, name in enumerate(ORDER)}
    names = sorted(groups, key=lambda g: (rank.get(g, len(ORDER)), list(groups).index(g)))
    return {name: groups[name] for name in names}


def text_of(groups: dict[str, dict[str, str]]) -> str:
    return "\n".join(f"[{group}]\n" + "".join(f"{k}={v}\n" for k, v in keys.items()) for group, keys in groups.items())
