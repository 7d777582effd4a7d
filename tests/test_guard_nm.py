"""A guarded change to a device NetworkManager manages: besides the guard, an NM checkpoint
(its own rollback) is taken, and an unkept change comes back whole, NM's side included.
Real NetworkManager in the test's namespace (tests/networkmanager.py)."""

from __future__ import annotations

import time

import pytest

from kvmtui.guard import journal
from tests.helpers import kvmtui_in, wait_until
from tests.networkmanager import nmcli, private_networkmanager
from tests.states import changes, steady, undo_state

BRIDGE = "kt-br0"
PROFILE = ("connection", "add", "type", "bridge", "ifname", BRIDGE, "con-name", BRIDGE, "bridge.stp", "no",
           "bridge.mac-address", "02:6b:74:00:00:02", "ipv4.method", "manual", "ipv4.addresses", "10.9.0.1/24",
           "ipv6.method", "disabled")






@pytest.fixture
def nm(netns, tmp_path, monkeypatch):
    with private_networkmanager(netns, tmp_path / "nm") as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)  # kvmtui's subprocesses find this NM
        nmcli(address, *PROFILE)
        wait_until(lambda: nmcli(address, "-g", "GENERAL.STATE", "device", "show", BRIDGE,
                                 check=False).startswith("100"), timeout=20, what="NM activating kt-br0")
        yield address


def test_an_unkept_change_to_an_nm_device_is_rolled_back_with_nms_checkpoint(nm, netns):
    before = steady(netns)
    proc = kvmtui_in(netns, "apply", "--yes", "--confirm", "10", "delete", BRIDGE)
    assert proc.returncode == 0, proc.stderr
    guard_id = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("guard: "))
    record = journal.read(guard_id)
    assert record.nm_checkpoint and record.nm_checkpoint.startswith("/org/freedesktop/NetworkManager/Checkpoint/")
    assert BRIDGE not in {link["ifname"] for link in undo_state(netns)["link"]}
    wait_until(lambda: journal.read(guard_id).final, timeout=30, what="the guard's revert")
    record = journal.read(guard_id)
    assert record.state == journal.REVERTED and any("NetworkManager checkpoint rolled back" in line
                                                    for line in record.outcome), record.outcome
    after = steady(netns)
    assert after == before, changes(before, after)
    wait_until(lambda: nmcli(nm, "-g", "GENERAL.STATE", "device", "show", BRIDGE).startswith("100"), timeout=20,
               what="NM managing kt-br0 again (activated)")
    assert any("activated kt-br0's profile again" in line for line in record.outcome), record.outcome


def test_a_kept_change_destroys_the_checkpoint(nm, netns):
    proc = kvmtui_in(netns, "apply", "--yes", "--confirm", "10", "delete", BRIDGE)
    assert proc.returncode == 0, proc.stderr
    guard_id = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("guard: "))
    assert kvmtui_in(netns, "confirm", guard_id).returncode == 0
    time.sleep(journal.read(guard_id).timeout + 2)  # past the guard's deadline
    assert BRIDGE not in {link["ifname"] for link in undo_state(netns)["link"]}
