"""A guarded change to a device NetworkManager manages: besides the guard, an NM checkpoint
(its own rollback) is taken, and an unkept change comes back whole, NM's side included.
Real NetworkManager in the test's namespace (tests/networkmanager.py)."""

from __future__ import annotations

import time

import pytest

from kvmtui.guard import journal
from tests.helpers import kvmtui_in
from tests.networkmanager import nmcli, private_networkmanager
from tests.states import changes, undo_state

BRIDGE = "kt-br0"
PROFILE = ("connection", "add", "type", "bridge", "ifname", BRIDGE, "con-name", BRIDGE, "bridge.stp", "no",
           "bridge.mac-address", "02:6b:74:00:00:02", "ipv4.method", "manual", "ipv4.addresses", "10.9.0.1/24",
           "ipv6.method", "disabled")


def until(predicate, what: str, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"{what}: not within {seconds:g} s"
        time.sleep(0.1)
    return value


def quiet(ns: str) -> dict:
    """The state once nothing moved for a second (NM acts a moment after the kernel)."""
    state, since = undo_state(ns), time.monotonic()
    while time.monotonic() - since < 1.0:
        time.sleep(0.1)
        if (again := undo_state(ns)) != state:
            state, since = again, time.monotonic()
    return state


@pytest.fixture
def nm(netns, tmp_path, monkeypatch):
    with private_networkmanager(netns, tmp_path / "nm") as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)  # kvmtui's subprocesses find this NM
        nmcli(address, *PROFILE)
        until(lambda: nmcli(address, "-g", "GENERAL.STATE", "device", "show", BRIDGE, check=False).startswith("100"),
              "NM activating kt-br0")
        yield address


def test_an_unkept_change_to_an_nm_device_is_rolled_back_with_nms_checkpoint(nm, netns):
    before = quiet(netns)
    proc = kvmtui_in(netns, "apply", "--yes", "--confirm", "10", "delete", BRIDGE)
    assert proc.returncode == 0, proc.stderr
    guard_id = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("guard: "))
    record = journal.read(guard_id)
    assert record.nm_checkpoint and record.nm_checkpoint.startswith("/org/freedesktop/NetworkManager/Checkpoint/")
    assert BRIDGE not in {link["ifname"] for link in undo_state(netns)["link"]}
    until(lambda: journal.read(guard_id).final, "the guard's revert", 30)
    record = journal.read(guard_id)
    assert record.state == journal.REVERTED and any("NetworkManager checkpoint rolled back" in line
                                                    for line in record.outcome), record.outcome
    until(lambda: quiet(netns) == before, "kt-br0 back as it was:\n" + changes(before, undo_state(netns)), 20)
    until(lambda: nmcli(nm, "-g", "GENERAL.STATE", "device", "show", BRIDGE).startswith("100"),
          "NM managing kt-br0 again (activated)")
    assert any("activated kt-br0's profile again" in line for line in record.outcome), record.outcome


def test_a_kept_change_destroys_the_checkpoint(nm, netns):
    proc = kvmtui_in(netns, "apply", "--yes", "--confirm", "10", "delete", BRIDGE)
    assert proc.returncode == 0, proc.stderr
    guard_id = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("guard: "))
    assert kvmtui_in(netns, "confirm", guard_id).returncode == 0
    time.sleep(journal.read(guard_id).timeout + 2)  # past the guard's deadline
    assert BRIDGE not in {link["ifname"] for link in undo_state(netns)["link"]}
