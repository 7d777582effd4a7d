"""NetworkManager checkpoints (kvmtui/apply/nm_checkpoint.py) against a real NetworkManager
in a test namespace (tests/networkmanager.py): what counts is the kernel state that
`ip -n NS -j ...` shows before, after the change and after the rollback."""

from __future__ import annotations

import asyncio
import re
import socket
import time

import pytest

from kvmtui.apply.nm_checkpoint import create_checkpoint, destroy_checkpoint, managed_devices, rollback_checkpoint
from kvmtui.errors import KvmtuiError
from tests.helpers import sh, wait_until
from tests.networkmanager import nmcli, private_networkmanager, private_system_bus
from tests.states import changes, settled, steady, undo_state
from tests.topologies import ns_json

BRIDGE = "kt-br0"
# A fixed MAC: a bridge NM deletes and re-creates would otherwise come back with a new one.
PROFILE = ("connection", "add", "type", "bridge", "ifname", BRIDGE, "con-name", BRIDGE, "bridge.stp", "no",
           "bridge.mac-address", "02:6b:74:00:00:01", "ipv4.method", "manual", "ipv4.addresses", "10.9.0.1/24",
           "ipv6.method", "disabled")




def bridge_now(ns: str) -> tuple[int, list[str]] | None:
    """kt-br0's MTU and IPv4 addresses as the kernel has them; None without kt-br0."""
    links = {link["ifname"]: link for link in ns_json(ns, "ip", "-j", "addr", "show")}  # one read: it may go
    if BRIDGE not in links:
        return None
    return links[BRIDGE]["mtu"], [f"{a['local']}/{a['prefixlen']}" for a in links[BRIDGE]["addr_info"]
                                  if a["family"] == "inet"]


def change_profile(nm: str, ns: str) -> dict:
    """Another address and MTU through NM (the profile, then reapply); the kernel state after."""
    nmcli(nm, "connection", "modify", BRIDGE, "ipv4.addresses", "10.9.1.1/24", "ethernet.mtu", "1400")
    nmcli(nm, "device", "reapply", BRIDGE)
    wait_until(lambda: bridge_now(ns) == (1400, ["10.9.1.1/24"]), timeout=10, what="the change through NM reaching the kernel")
    return undo_state(ns)




@pytest.fixture
def nm(netns, tmp_path, monkeypatch):
    """NetworkManager in `netns`, and this process's system bus pointed at its bus."""
    with private_networkmanager(netns, tmp_path / "nm") as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        yield address


@pytest.fixture
def before(nm, netns):
    """kt-br0 made by NM from a profile, activated; the namespace's kernel state then."""
    nmcli(nm, *PROFILE)
    wait_until(lambda: nmcli(nm, "-g", "GENERAL.STATE", "device", "show", BRIDGE, check=False).startswith("100"),
               timeout=10, what="NM activating kt-br0")
    assert bridge_now(netns) == (1500, ["10.9.0.1/24"])
    return steady(netns)


def test_no_system_bus_or_no_networkmanager_is_no_device(monkeypatch, tmp_path, netns):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-such-socket")
    started = time.monotonic()
    assert managed_devices(("eth0",), None) == ()
    assert time.monotonic() - started < 1.5
    assert "was gone already" in destroy_checkpoint("/org/freedesktop/NetworkManager/Checkpoint/1")

    with socket.socket(socket.AF_UNIX) as silent:  # accepts connections, never answers
        silent.bind(str(tmp_path / "silent"))
        silent.listen()
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'silent'}")
        started = time.monotonic()
        assert managed_devices(("eth0",), None) == ()
        assert time.monotonic() - started < 2.5

    with private_system_bus(netns, tmp_path / "bus") as address:  # a bus, no NM on it
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        assert managed_devices(("eth0",), None) == ()

        async def in_a_running_loop():  # as from the dashboard: asyncio.run cannot nest there
            return managed_devices(("eth0",), None)

        assert asyncio.run(in_a_running_loop()) == ()


def test_rollback_puts_back_what_nm_changed(nm, netns, before):
    sh("ip", "-n", netns, "link", "add", "kt-v0", "type", "veth", "peer", "name", "kt-v1")  # NM leaves it unmanaged
    devices = managed_devices((BRIDGE, "kt-v0", "lo"), netns)
    assert len(devices) == 1 and devices == managed_devices((BRIDGE,), netns)
    assert managed_devices((BRIDGE,), None) == ()  # that NM is not this namespace's
    before = steady(netns)
    checkpoint = create_checkpoint(devices, 30)
    assert change_profile(nm, netns) != before

    assert rollback_checkpoint(checkpoint) == f"NetworkManager checkpoint rolled back: {BRIDGE} ok"
    after = settled(netns, before)
    assert after == before, changes(before, after)
    assert bridge_now(netns) == (1500, ["10.9.0.1/24"])
    assert "was gone already" in rollback_checkpoint(checkpoint)


def test_rollback_recreates_a_bridge_deleted_through_nm(nm, netns, before):
    checkpoint = create_checkpoint(managed_devices((BRIDGE,), netns), 30)
    nmcli(nm, "connection", "delete", BRIDGE)  # NM deletes the device it made with its profile
    wait_until(lambda: bridge_now(netns) is None, timeout=10, what="kt-br0 deleted")

    summary = rollback_checkpoint(checkpoint)
    assert re.fullmatch(r"NetworkManager checkpoint rolled back: device #\d+ \(deleted meanwhile\) ok", summary)
    after = settled(netns, before)
    assert after == before, changes(before, after)


def test_destroyed_checkpoint_leaves_the_change(nm, netns, before):
    checkpoint = create_checkpoint(managed_devices((BRIDGE,), netns), 5)  # seconds: time to change and keep
    created = time.monotonic()
    changed = change_profile(nm, netns)

    assert destroy_checkpoint(checkpoint) == f"NetworkManager checkpoint {checkpoint} destroyed: the change stays"
    time.sleep(max(0.0, created + 6 - time.monotonic()))  # past the checkpoint's own timeout
    assert undo_state(netns) == changed, changes(changed, undo_state(netns))
    assert "was gone already" in destroy_checkpoint(checkpoint)


def test_networkmanager_rolls_back_by_itself_at_the_timeout(nm, netns, before):
    checkpoint = create_checkpoint(managed_devices((BRIDGE,), netns), 4)  # seconds: time to see the change
    assert change_profile(nm, netns) != before
    after = settled(netns, before, seconds=12)
    assert after == before, changes(before, after)
    # the guard's revert comes later: the checkpoint is gone, which is no error
    assert rollback_checkpoint(checkpoint) == (f"NetworkManager checkpoint {checkpoint} was gone already "
                                               "(NetworkManager rolled it back at its own timeout, or restarted)")


def test_leftover_checkpoint_is_named_and_changes_nothing(nm, netns, before):
    devices = managed_devices((BRIDGE,), netns)
    leftover = create_checkpoint(devices, 30)
    with pytest.raises(KvmtuiError) as refused:
        create_checkpoint(devices, 30)
    text = str(refused.value)
    assert text.startswith(f"NetworkManager checkpoint {leftover} already covers {BRIDGE} ("), text
    assert re.search(r"rolls it back by itself in (29|30) s\): no new one can be taken before it ends", text), text
    assert f"CheckpointDestroy o {leftover}" in text
    assert steady(netns) == before

    destroy_checkpoint(leftover)
    fresh = create_checkpoint(devices, 30)
    assert fresh != leftover
    change_profile(nm, netns)
    assert rollback_checkpoint(fresh) == f"NetworkManager checkpoint rolled back: {BRIDGE} ok"
    after = settled(netns, before)
    assert after == before, changes(before, after)
