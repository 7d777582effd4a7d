"""`guest-set` through the real libvirtd (qemu:///system): one diskless TCG guest, started
once for the module, with a virtio NIC on a kt- bridge and a macvtap NIC. Nothing here
needs the guest's help (a link state, a bridge move and a definition's model are libvirt's
and QEMU's business), so the guest may sit in iPXE."""

from __future__ import annotations

import json
import re

import pytest

from kvmtui import cli
from kvmtui.apply import Executor
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.guard.control import wait_until_ended
from kvmtui.guard.journal import REVERTED
from kvmtui.guard.revert import fully_restored
from kvmtui.kinds import SetGuestNic, make_plan
from tests.guests import SYSTEM_URI, diskless_guest, domiflist, kt_bridge, kt_veth, unique_name
from tests.helpers import kvmtui, sh

pytestmark = pytest.mark.libvirt
MAC = "52:54:00:4b:77:01"
MACVTAP = "52:54:00:4b:77:02"


@pytest.fixture(scope="module")
def guest():
    with kt_bridge() as first, kt_bridge() as second, kt_veth() as (lower, _):
        nics = [f"<interface type='bridge'><mac address='{MAC}'/><source bridge='{first}'/>"
                "<model type='virtio'/></interface>",
                f"<interface type='direct'><mac address='{MACVTAP}'/><source dev='{lower}' mode='vepa'/>"
                "<model type='virtio'/></interface>"]
        with diskless_guest(unique_name("n"), nics) as dom:
            yield {"name": dom.name(), "first": first, "second": second, "lower": lower}


def apply(*args: str) -> int:
    return cli.main(["apply", "--yes", "guest-set", *args])


def getlink(name: str) -> str:
    return sh("virsh", "domif-getlink", name, MAC).split()[-1]


def master(tap: str) -> str | None:
    return json.loads(sh("ip", "-j", "link", "show", tap))[0].get("master")


def inactive(name: str) -> str:
    return sh("virsh", "dumpxml", "--inactive", name)


def test_link_down_then_up(guest, capsys):
    name = guest["name"]
    assert apply(name, MAC, "--link", "down") == 0, capsys.readouterr()
    assert getlink(name) == "down"
    assert "<link state='down'/>" in inactive(name)  # the definition too: it stays down after a restart
    assert cli.main(["dump"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if MAC in line)
    assert name in line and "link down" in line
    assert apply(name, MAC, "--link", "up") == 0, capsys.readouterr()
    assert getlink(name) == "up"
    assert cli.main(["dump"]) == 0
    assert "link down" not in next(line for line in capsys.readouterr().out.splitlines() if MAC in line)


def test_a_live_move_to_another_bridge_and_back(guest, capsys):
    name, first, second = guest["name"], guest["first"], guest["second"]
    tap = domiflist(name)[MAC]["target"]
    assert master(tap) == first
    assert apply(name, MAC, "--bridge", second) == 0, capsys.readouterr()
    row = domiflist(name)[MAC]
    assert (row["target"], row["source"]) == (tap, second)  # the same tap, on the other bridge
    assert master(tap) == second
    assert f"<source bridge='{second}'/>" in inactive(name)
    assert apply(name, MAC, "--bridge", first) == 0, capsys.readouterr()
    assert master(tap) == first and domiflist(name)[MAC]["source"] == first


def test_a_model_changes_in_the_definition_only(guest, capsys):
    name = guest["name"]
    assert apply(name, MAC, "--model", "e1000") == 0
    assert "next start" in capsys.readouterr().out
    assert "<model type='e1000'/>" in inactive(name)
    assert domiflist(name)[MAC]["model"] == "virtio"  # the running guest keeps its NIC
    assert apply(name, MAC, "--model", "virtio") == 0, capsys.readouterr()
    assert "<model type='e1000'/>" not in inactive(name)


@pytest.mark.parametrize("args, words", [
    (("kt-no-such-guest", MAC, "--link", "down"), "there is no guest 'kt-no-such-guest'"),
    (("{guest}", "52:54:00:4b:77:99", "--link", "down"), "has no interface 52:54:00:4b:77:99"),
    (("{guest}", MAC, "--bridge", "kt-nosuchbr"), "there is no bridge 'kt-nosuchbr'"),
    (("{guest}", MACVTAP, "--bridge", "{first}"), "is a macvtap interface on {lower}"),
])
def test_bad_input_changes_nothing(guest, capsys, args, words):
    before = domiflist(guest["name"]), inactive(guest["name"])
    assert apply(*(a.format(guest=guest["name"], first=guest["first"]) for a in args)) != 0
    assert words.format(lower=guest["lower"]) in capsys.readouterr().err
    assert (domiflist(guest["name"]), inactive(guest["name"])) == before


def test_a_bridge_deleted_between_plan_and_apply_leaves_the_guest_as_it_was(guest):
    """The definition's step runs (libvirt does not look for the bridge there), the live one
    is refused; the rollback puts the definition back."""
    name, first = guest["name"], guest["first"]
    tap = domiflist(name)[MAC]["target"]
    before = inactive(name)
    with kt_bridge() as doomed:
        plan = make_plan(SetGuestNic(name, MAC, bridge=doomed), collect_snapshot(uri=SYSTEM_URI))
    report = Executor(None, SYSTEM_URI).apply(plan)
    assert not report.ok and "doesn't exist" in report.error
    assert [step.config for step in report.undone] == [True]
    assert inactive(name) == before
    assert domiflist(name)[MAC]["source"] == first and master(tap) == first and getlink(name) == "up"


def test_a_guarded_move_nobody_keeps_goes_back(guest):
    """`--confirm 10` (the shortest countdown): the guard process moves the NIC back, live
    and in the definition, and checks it against the NIC as it was."""
    name, first, second = guest["name"], guest["first"], guest["second"]
    tap = domiflist(name)[MAC]["target"]
    proc = kvmtui("apply", "--yes", "--confirm", "10", "guest-set", name, MAC, "--bridge", second)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert master(tap) == second
    guard_id = re.search(r"^guard: ([0-9a-f]{8})$", proc.stdout, re.M).group(1)
    ended = wait_until_ended(guard_id, 40.0)
    assert ended.state == REVERTED and fully_restored(ended), ended
    assert master(tap) == first and domiflist(name)[MAC]["source"] == first
    assert f"<source bridge='{first}'/>" in inactive(name)
