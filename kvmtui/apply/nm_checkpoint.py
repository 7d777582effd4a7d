"""NetworkManager checkpoints around a guarded change.

NM would put a device it manages back its own way after kvmtui's guard reverted it (or
undo kvmtui's change at its own pace): so the guard also takes an NM checkpoint of those
devices, destroys it when the change is kept and rolls it back when the guard reverts.
NM is asked over D-Bus on the system bus that $DBUS_SYSTEM_BUS_ADDRESS names, else the
default socket. Synchronous: called from plain threads and from processes without a loop.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

from kvmtui.apply.backend import refuse_if_readonly
from kvmtui.nm_dbus import (BUS, BUS_PATH, DEVICE, NM, NM_PATH, DBusError, NetworkManagerBus, NoNetworkManager,
                                  with_nm)
from kvmtui.collect.netns import netns_path
from kvmtui.errors import KvmtuiError

CHECKPOINT = f"{NM}.Checkpoint"
DEVICE_STATE_UNMANAGED = 10
ROLLBACK_RESULTS = {0: "ok", 1: "gone", 2: "unmanaged", 3: "FAILED"}  # NMRollbackResult


async def _in_netns(nm: NetworkManagerBus, netns: str | None) -> bool:
    """Does NM run in the namespace of the change? NM knows only its own namespace's devices:
    eth1 in namespace NS is not the host's eth1. Unknowable (NM in another PID namespace,
    /proc hidden): the bus the caller's environment names is trusted."""
    pid = (await nm.call(BUS_PATH, BUS, "GetConnectionUnixProcessID", "s", (NM,), destination=BUS))[0]
    try:
        ours = os.stat(netns_path(netns) if netns else "/proc/self/ns/net")
    except OSError:  # no such namespace: none of its devices is NM's
        return False
    try:
        theirs = os.stat(f"/proc/{pid}/ns/net")
    except OSError:
        return True
    return (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino)


def managed_devices(ifnames: tuple[str, ...], netns: str | None) -> tuple[str, ...]:
    """NM's device object paths of those of `ifnames` NM manages, in their order."""
    return tuple(device for device, _profile in managed(ifnames, netns).values())


def managed(ifnames: tuple[str, ...], netns: str | None) -> dict[str, tuple[str, str]]:
    """Those of `ifnames` NM manages -> (NM's device object path, the profile active on it or
    ""), in their order. Empty without a system bus, without NM on it, or with NM in another
    namespace than `netns`; NM there but not answering raises: a guard must not go on blind."""
    async def work(nm: NetworkManagerBus) -> dict[str, tuple[str, str]]:
        if not await _in_netns(nm, netns):
            return {}
        paths = (await nm.call(NM_PATH, NM, "GetDevices"))[0]
        found = await asyncio.gather(*(asyncio.gather(nm.prop(p, DEVICE, "Interface"), nm.prop(p, DEVICE, "State"))
                                       for p in paths), return_exceptions=True)  # one may vanish meanwhile
        by_name = {info[0]: path for path, info in zip(paths, found)
                   if not isinstance(info, BaseException) and info[1] != DEVICE_STATE_UNMANAGED}
        return {name: (by_name[name], await _profile(nm, by_name[name])) for name in ifnames if name in by_name}

    try:
        return with_nm(work)
    except NoNetworkManager:
        return {}
    except DBusError as exc:
        raise KvmtuiError(f"cannot ask NetworkManager which devices it manages: {exc}") from None


async def _profile(nm: NetworkManagerBus, device: str) -> str:
    active = await nm.prop(device, DEVICE, "ActiveConnection")
    return "" if active in ("", "/") else await nm.prop(active, f"{NM}.Connection.Active", "Connection")


def reactivate(profiles: tuple[tuple[str, str], ...]) -> tuple[list[str], tuple[str, ...]]:
    """(device, profile) pairs that NM's rollback could not put back: a software device
    deleted under NM is gone from its checkpoint too. Activating its profile again has NM
    re-create it its own way (or take the device back, where it exists). Returns the
    lines to report and the devices NM took on."""
    refuse_if_readonly()
    done: list[str] = []

    async def work(nm: NetworkManagerBus) -> list[str]:
        lines = []
        for ifname, profile in profiles:
            try:
                try:
                    device = (await nm.call(NM_PATH, NM, "GetDeviceByIpIface", "s", (ifname,)))[0]
                except DBusError:
                    device = "/"  # no such device: NM creates it from the profile
                await nm.call(NM_PATH, NM, "ActivateConnection", "ooo", (profile, device, "/"))
                lines.append(f"NetworkManager activated {ifname}'s profile again")
                done.append(ifname)
            except DBusError as exc:
                lines.append(f"could NOT have NetworkManager activate {ifname}'s profile again: {exc}")
        return lines

    try:
        return with_nm(work), tuple(done)
    except (NoNetworkManager, DBusError) as exc:
        return [f"could NOT have NetworkManager activate {', '.join(n for n, _ in profiles)} again: {exc}"], ()


def create_checkpoint(device_paths: tuple[str, ...], seconds: int) -> str:
    """A checkpoint of these NM devices that NM rolls back by itself after `seconds`. Flags
    0: a rollback touches only these devices and deletes no profile someone made meanwhile.
    A checkpoint that already covers one of them blocks it: kvmtui names it and when NM ends
    it, and never destroys it (DESTROY_ALL would end every checkpoint, a running guard's or
    another tool's too, and NM does not say whose a checkpoint is)."""
    refuse_if_readonly()
    if not device_paths or seconds < 1:  # to NM, no device is "every device" and 0 s is "never roll back"
        raise KvmtuiError(f"a NetworkManager checkpoint needs one device or more and a rollback timeout of "
                          f"1 s or more (not {len(device_paths)} devices, {seconds} s)")

    async def work(nm: NetworkManagerBus) -> str:
        try:
            return (await nm.call(NM_PATH, NM, "CheckpointCreate", "aouu", (list(device_paths), seconds, 0)))[0]
        except DBusError as exc:
            for other in await nm.checkpoints():
                if covered := sorted(set(await nm.prop(other, CHECKPOINT, "Devices")) & set(device_paths)):
                    names = ", ".join([await nm.name_of(d) for d in covered])
                    raise KvmtuiError(
                        f"NetworkManager checkpoint {other} already covers {names} ({await _ends(nm, other)}): "
                        f"no new one can be taken before it ends (`busctl call {NM} {NM_PATH} {NM} "
                        f"CheckpointDestroy o {other}` ends it now, if no one needs it)") from None
            names = ", ".join([await nm.name_of(d) for d in device_paths])
            raise KvmtuiError(f"NetworkManager refused a checkpoint of {names}: {exc}") from None

    try:
        return with_nm(work)
    except (NoNetworkManager, DBusError) as exc:
        raise KvmtuiError(f"cannot take a NetworkManager checkpoint: {exc}") from None


async def _ends(nm: NetworkManagerBus, checkpoint: str) -> str:
    created_ms = await nm.prop(checkpoint, CHECKPOINT, "Created")  # CLOCK_BOOTTIME milliseconds
    if not (timeout := await nm.prop(checkpoint, CHECKPOINT, "RollbackTimeout")):
        return "it has no rollback timeout: it stays until someone destroys it"
    left = created_ms / 1000 + timeout - time.clock_gettime(time.CLOCK_BOOTTIME)
    return f"NetworkManager rolls it back by itself in {max(0, round(left))} s"


def _end(path: str, work: Callable[[NetworkManagerBus], Awaitable[str]], what: str, gone: str) -> str:
    """Destroy or roll back; a checkpoint that is no more is a summary line, not an error."""
    refuse_if_readonly()

    async def or_gone(nm: NetworkManagerBus) -> str:
        try:
            return await work(nm)
        except DBusError as exc:
            if path not in await nm.checkpoints():
                return f"NetworkManager checkpoint {path} was gone already ({gone})"
            raise KvmtuiError(f"NetworkManager could not {what} checkpoint {path}: {exc}") from None

    try:
        return with_nm(or_gone)
    except NoNetworkManager as exc:  # checkpoints live in NM's memory: none is left
        return f"NetworkManager checkpoint {path} was gone already ({exc})"
    except DBusError as exc:  # NM went away meanwhile, or stopped answering
        raise KvmtuiError(f"NetworkManager could not {what} checkpoint {path}: {exc}") from None


def destroy_checkpoint(path: str) -> str:
    """Keep the change: NM forgets the checkpoint and will not roll it back."""
    async def work(nm: NetworkManagerBus) -> str:
        await nm.call(NM_PATH, NM, "CheckpointDestroy", "o", (path,))
        return f"NetworkManager checkpoint {path} destroyed: the change stays"

    return _end(path, work, "destroy", "NetworkManager rolled it back at its own timeout, or restarted: "
                "its devices may be as before the change")


def rollback_checkpoint(path: str) -> str:
    """Put NM's devices (profiles, activation) back as they were when the checkpoint was taken."""
    return rollback(path)[0]


def rollback(path: str) -> tuple[str, tuple[str, ...]]:
    """rollback_checkpoint, and the device paths NM put back (the others are kvmtui's to undo)."""
    restored: list[str] = []

    async def work(nm: NetworkManagerBus) -> str:
        results = (await nm.call(NM_PATH, NM, "CheckpointRollback", "o", (path,)))[0]
        restored.extend(device for device, code in results.items() if code == 0)
        summary = [f"{await nm.name_of(device)} {ROLLBACK_RESULTS.get(code, f'result {code}')}"
                   for device, code in sorted(results.items())]
        return f"NetworkManager checkpoint rolled back: {', '.join(summary) or 'no device'}"

    summary = _end(path, work, "roll back", "NetworkManager rolled it back at its own timeout, or restarted")
    return summary, tuple(restored)
