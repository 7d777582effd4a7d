"""NetworkManager's own word on its devices, over D-Bus: managed or not (state 10 is
"unmanaged"), the active profile and the file it came from. One ObjectManager call reads
it all. Better than NM's state files where NM answers: it names the profile's file
(a netplan-generated one under /run belongs to netplan) and tells an external
connection (NM mirroring a device someone else configured) from one NM made.
"""

from __future__ import annotations

from kvmtui.collect.netconfig.nm_conf import DeviceState

NM = "org.freedesktop.NetworkManager"
DEVICE, ACTIVE, SETTING = f"{NM}.Device", f"{NM}.Connection.Active", f"{NM}.Settings.Connection"
UNMANAGED = 10  # NM_DEVICE_STATE_UNMANAGED
FLAG_EXTERNAL = 0x8  # NM_SETTINGS_CONNECTION_FLAG_EXTERNAL: generated to mirror an outside configuration
SOURCE = "NetworkManager over D-Bus"


def device_states_over_dbus(names: set[str]) -> dict[str, DeviceState] | None:
    """ifname -> NM's state of that device, for the `names` NM knows; None when NM does not
    answer (no bus, not running, an error): then the state files are all there is.
    D-Bus (asyncio, dbus-fast) is imported here, not with the module: every kvmtui command
    reads the saved configuration, few of them on a host where NM runs."""
    from kvmtui.nm_dbus import DBusError, NoNetworkManager, with_nm

    try:
        objects = with_nm(_managed_objects)
    except (NoNetworkManager, DBusError):
        return None
    return states_of(objects, names)


async def _managed_objects(nm) -> dict:
    return (await nm.call("/org/freedesktop", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"))[0]


def states_of(objects: dict, names: set[str]) -> dict[str, DeviceState]:
    """GetManagedObjects' answer (path -> interface -> property -> Variant) -> the states."""
    def props(path: str, interface: str) -> dict:
        return {k: getattr(v, "value", v) for k, v in objects.get(path, {}).get(interface, {}).items()}

    found = {}
    for path in objects:
        device = props(path, DEVICE)
        name = device.get("Interface")
        if name not in names:
            continue
        managed = bool(device.get("Managed", True)) and device.get("State") != UNMANAGED
        active = props(device.get("ActiveConnection") or "/", ACTIVE)
        setting = props(active.get("Connection") or "/", SETTING)
        found[name] = DeviceState(managed, active.get("Uuid") or None, SOURCE, setting.get("Filename") or None,
                                  bool(int(setting.get("Flags", 0)) & FLAG_EXTERNAL))
    return found
