"""The LLDP neighbours NetworkManager heard itself (a profile with `connection.lldp enable`),
without lldpd: each Device object's `LldpNeighbors` (aa{sv}, libnm's NM_LLDP_ATTR_* names),
read with one ObjectManager call over D-Bus. Asked only where NM answered the saved
configuration's reader (the host's own namespace); no NM, no neighbours, never an error.
"""

from __future__ import annotations

import ipaddress

from kvmtui.model.wire import Neighbour, PortNeighbour

DEVICE = "org.freedesktop.NetworkManager.Device"
SOURCE = "NetworkManager"
ADDRESS_FAMILIES = {1: 4, 2: 6}  # the LLDP management address subtype (IANA address family) -> IP version


def nm_port_neighbours() -> tuple[PortNeighbour, ...]:
    """What NM's devices heard, by port; () when NM does not answer."""
    from kvmtui.nm_dbus import DBusError, NoNetworkManager, with_nm

    try:
        objects = with_nm(_managed_objects)
    except (NoNetworkManager, DBusError):
        return ()
    return neighbours_of(objects)


async def _managed_objects(nm) -> dict:
    return (await nm.call("/org/freedesktop", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"))[0]


def _plain(value: object) -> object:
    """A D-Bus Variant (nested in lists and dicts) as plain Python values."""
    value = getattr(value, "value", value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _address(entry: dict) -> str | None:
    raw, version = entry.get("address"), ADDRESS_FAMILIES.get(entry.get("address-subtype"))
    if not isinstance(raw, (bytes, bytearray)) or version is None or len(raw) != (4 if version == 4 else 16):
        return None
    return str(ipaddress.ip_address(bytes(raw)))


def _vlan_id(value: object) -> int | None:
    return value if isinstance(value, int) and 1 <= value <= 4094 else None


def neighbour_from(tlvs: dict) -> Neighbour:
    """One entry of LldpNeighbors (plain values) as a Neighbour."""
    def text(key: str) -> str | None:
        value = tlvs.get(key)
        return value if isinstance(value, str) and value else None

    vlans = {_vlan_id(vlan.get("vid")) for vlan in tlvs.get("ieee-802-1-vlans") or [] if isinstance(vlan, dict)}
    if not vlans and _vlan_id(tlvs.get("ieee-802-1-vid")):  # NM before 1.32 names the first VLAN only
        vlans = {_vlan_id(tlvs.get("ieee-802-1-vid"))}
    addresses = [_address(entry) for entry in tlvs.get("management-addresses") or [] if isinstance(entry, dict)]
    return Neighbour(protocol="lldp", chassis_id=text("chassis-id"), port_id=text("port-id"),
                     port_description=text("port-description"), system_name=text("system-name"),
                     platform=text("system-description"), native_vlan=_vlan_id(tlvs.get("ieee-802-1-pvid")),
                     management_addresses=tuple(a for a in addresses if a), vlans=tuple(sorted(vlans - {None})))


def neighbours_of(objects: dict) -> tuple[PortNeighbour, ...]:
    """GetManagedObjects' answer (path -> interface -> property -> Variant) -> the neighbours, by port."""
    found = []
    for interfaces in objects.values():
        device = interfaces.get(DEVICE) if isinstance(interfaces, dict) else None
        if not device:
            continue
        name = _plain(device.get("Interface"))
        for tlvs in _plain(device.get("LldpNeighbors")) or []:
            if isinstance(name, str) and isinstance(tlvs, dict):
                found.append(PortNeighbour(name, SOURCE, neighbour_from(tlvs)))
    return tuple(sorted(found, key=lambda heard: heard.ifname))
