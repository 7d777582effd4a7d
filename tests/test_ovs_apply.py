"""Open vSwitch changes applied to a private OVS (tests/ovs.py: ovsdb-server and ovs-vswitchd
in a kt- namespace, dummy netdevs) through `kvmtui.cli.main` and the executor, in this
process pointed at it by OVS_RUNDIR; checked with ovs-vsctl's own output. The interfaces
are veth pairs in that namespace, whose kernel state the planner reads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from kvmtui.apply import Executor
from kvmtui.cli import main
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.kinds import make_plan
from kvmtui.kinds.ovs_bridge import CreateOvsBridge
from kvmtui.kinds.ovs_delete import DeleteOvs
from kvmtui.kinds.ovs_port import AddOvsPort
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.forms import ConfirmScreen
from kvmtui.ui.wizards import NewWhatScreen
from tests.dashboard import screen_text, select_in_tree, tree_keys, wait_for
from tests.helpers import REPO, sh
from tests.ovs import private_ovs

VETHS = tuple(f"kt-e{n}" for n in range(1, 14))


@pytest.fixture(scope="module")
def lab():
    """One OVS for the module: a netdev bridge kt-base, veths kt-e1..kt-e12 (kt-e12 a port of
    Linux bridge kt-lb), all in the OVS's namespace, which goes with it."""
    with private_ovs() as ovs, pytest.MonkeyPatch.context() as env:
        for name, value in ovs.env.items():
            env.setenv(name, value)
        for name in VETHS:
            sh("ip", "-n", ovs.netns, "link", "add", name, "type", "veth", "peer", "name", f"{name}p")
        sh("ip", "-n", ovs.netns, "link", "add", "kt-lb", "type", "bridge")
        sh("ip", "-n", ovs.netns, "link", "set", "kt-e12", "master", "kt-lb")
        ovs.add_bridge("kt-base")
        yield ovs


def apply(lab, *argv: str) -> int:
    return main(["--netns", lab.netns, "--no-libvirt", "apply", "--yes", "--no-persist", *argv])


def rows(lab, table: str) -> dict[str, dict]:
    """A table as ovs-vsctl prints it, by name, uuids turned into names (a port put back by an
    undo is a new row: the same port, another uuid)."""
    names = {}
    tables = {}
    for name in ("Bridge", "Port", "Interface"):
        doc = json.loads(lab.vsctl("--format=json", "list", name))
        tables[name] = [dict(zip(doc["headings"], row)) for row in doc["data"]]
        names.update({row["_uuid"][1]: row["name"] for row in tables[name]})

    def named(value):
        if isinstance(value, list) and value[:1] == ["uuid"]:
            return names.get(value[1], value[1])
        if isinstance(value, list) and value[:1] == ["set"]:
            return ["set", sorted(map(str, (named(v) for v in value[1])))]
        return value

    return {row["name"]: {key: named(value) for key, value in row.items()} for row in tables[table]}


def ovs_as_configured(lab) -> dict:
    """Bridges, ports and interfaces with the columns a user configures (not counters or state)."""
    keep = {"Bridge": ("ports", "datapath_type", "fail_mode"),
            "Port": ("interfaces", "tag", "trunks", "vlan_mode", "bond_mode", "lacp", "fake_bridge", "external_ids"),
            "Interface": ("type", "options", "external_ids")}
    return {table: {name: {key: row[key] for key in columns} for name, row in rows(lab, table).items()}
            for table, columns in keep.items()}


def test_each_kind_applied_from_the_cli_is_what_ovs_vsctl_shows(lab):
    assert apply(lab, "ovs-bridge", "kt-ovs1", "--port", "kt-e1") == 0
    bridge = rows(lab, "Bridge")["kt-ovs1"]
    assert bridge["ports"] == ["set", ["kt-e1", "kt-ovs1"]]
    assert bridge["datapath_type"] == "netdev"  # like the other bridge here

    assert apply(lab, "ovs-bond", "kt-ovs1", "kt-bond1", "--member", "kt-e2", "--member", "kt-e3",
                 "--mode", "balance-tcp", "--lacp", "active") == 0
    bond = rows(lab, "Port")["kt-bond1"]
    assert (bond["interfaces"], bond["bond_mode"], bond["lacp"]) == (["set", ["kt-e2", "kt-e3"]], "balance-tcp",
                                                                      "active")

    assert apply(lab, "ovs-port", "kt-base", "kt-e4", "--tag", "30") == 0
    assert lab.vsctl("get", "Port", "kt-e4", "tag").strip() == "30"
    assert apply(lab, "ovs-port", "kt-base", "kt-e5", "--trunks", "10,20-21") == 0
    assert lab.vsctl("get", "Port", "kt-e5", "trunks").strip() == "[10, 20, 21]"

    assert apply(lab, "ovs-del", "kt-e4") == 0
    assert "kt-e4" not in rows(lab, "Port")
    assert apply(lab, "ovs-del", "kt-ovs1") == 0
    assert "kt-ovs1" not in rows(lab, "Bridge")
    assert not {"kt-e1", "kt-bond1", "kt-ovs1"} & set(rows(lab, "Port"))


def test_a_step_that_fails_leaves_ovs_exactly_as_before(lab):
    """Planned while kt-e7 was free; someone adds it to kt-base before the apply: the third
    step fails in OVS itself, and the bridge and port made before it are undone."""
    plan = make_plan(CreateOvsBridge("kt-ovs2", ("kt-e6", "kt-e7")), collect_snapshot(lab.netns, with_libvirt=False))
    lab.vsctl("add-port", "kt-base", "kt-e7")
    before = ovs_as_configured(lab)
    report = Executor(lab.netns, None).apply(plan)
    assert not report.ok and report.failed == plan.steps[2] and not report.undo_errors
    assert "kt-e7" in report.error and "kt-base" in report.error  # ovs-vsctl's sentence
    assert [step.command for step in report.undone] == ["ovs-vsctl --if-exists del-port kt-ovs2 kt-e6",
                                                        "ovs-vsctl --if-exists del-br kt-ovs2"]
    assert ovs_as_configured(lab) == before


def test_an_undone_bridge_delete_puts_every_port_back_as_it_was(lab):
    """A bridge with a bond (LACP passive), a trunk and a fake bridge: its delete fails at its
    last step; each port comes back with its VLANs, bond mode and LACP, interface types."""
    lab.add_bridge("kt-ovs3")
    lab.vsctl("add-bond", "kt-ovs3", "kt-bond3", "kt-e8", "kt-e9", "bond_mode=balance-slb", "lacp=passive")
    lab.vsctl("add-port", "kt-ovs3", "kt-e10", "trunks=5,6", "vlan_mode=trunk")
    lab.vsctl("add-br", "kt-ovs3.7", "kt-ovs3", "7")
    plan = make_plan(DeleteOvs("kt-ovs3"), collect_snapshot(lab.netns, with_libvirt=False))
    before = ovs_as_configured(lab)

    def fail_last(number, step):
        if number == len(plan.steps):
            raise RuntimeError("injected failure")

    report = Executor(lab.netns, None, before_step=fail_last).apply(plan)
    assert not report.ok and not report.undo_errors and len(report.undone) == len(plan.steps) - 1
    assert ovs_as_configured(lab) == before
    assert apply(lab, "ovs-del", "kt-ovs3") == 0
    assert "kt-ovs3" not in rows(lab, "Bridge")


def test_a_step_vswitchd_does_not_confirm_is_taken_back_out_of_the_database(lab, monkeypatch):
    """ovs-vswitchd stopped (SIGSTOP): ovs-vsctl commits the port, then waits in vain (2 s
    here instead of 10, to keep the test short); the backend takes the port back out."""
    import kvmtui.apply.ovs

    monkeypatch.setattr(kvmtui.apply.ovs, "TIMEOUT", 2)
    plan = make_plan(AddOvsPort("kt-base", "kt-e11", tag=8), collect_snapshot(lab.netns, with_libvirt=False))
    before = ovs_as_configured(lab)
    vswitchd = lab.pid("ovs-vswitchd")
    os.kill(vswitchd, signal.SIGSTOP)
    try:
        report = Executor(lab.netns, None).apply(plan)
    finally:
        os.kill(vswitchd, signal.SIGCONT)
    assert not report.ok and report.failed == plan.steps[0]
    assert report.error == ("Open vSwitch did not confirm the change within 2 s (is ovs-vswitchd running?): "
                            "it was taken back out of the database")
    assert ovs_as_configured(lab) == before


@pytest.mark.parametrize("argv, words", [
    (("ovs-bond", "kt-base", "kt-b9", "--member", "kt-e11"), "--member: a bond needs at least two members"),
    (("ovs-bond", "kt-base", "kt-b9", "--member", "kt-e11", "--member", "kt-e6", "--mode", "balance-tcp"),
     "--lacp: balance-tcp needs LACP"),
    (("ovs-port", "kt-base", "kt-e11", "--tag", "4095"), "--tag: VLAN ids are 1 to 4094"),
    (("ovs-port", "kt-base", "kt-e11", "--trunks", "10,x"), "--trunks: 'x' is not a VLAN ID"),
    (("ovs-port", "kt-base", "kt-e12"), "ifname: kt-e12 is already a port of kt-lb"),
    (("ovs-port", "kt-nosuch", "kt-e11"), "bridge: there is no OVS bridge 'kt-nosuch'"),
    (("ovs-bridge", "kt-base"), "name: 'kt-base' is already OVS bridge kt-base"),
    (("ovs-bridge", "kt-sixteen-bytes"), "at most 15 bytes"),
])
def test_bad_input_changes_nothing_and_says_why(lab, capsys, argv, words):
    before = ovs_as_configured(lab)
    assert apply(lab, *argv) == 1
    assert words in capsys.readouterr().err
    assert ovs_as_configured(lab) == before


async def test_d_on_an_ovs_port_in_the_tree_deletes_it_once_confirmed(lab):
    """The dashboard on this OVS: `n` offers the OVS kinds; `d` on a port plans its ovs-vsctl
    line, `y` runs it, and the port is gone from OVS."""
    lab.vsctl("add-port", "kt-base", "kt-e13", "tag=44")
    app = KvmtuiApp(DashboardOptions(netns=lab.netns, uri="test:///default", interval=0.5))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "link:kt-e13" in tree_keys(app), what="the OVS port in the tree")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewWhatScreen), what="the new menu")
        assert {"ovs-bridge", "ovs-bond", "ovs-port"} <= {command.name for command in app.screen.offered}
        await pilot.press("escape")
        await select_in_tree(pilot, app, "link:kt-e13")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert "ovs-vsctl --if-exists del-port kt-base kt-e13" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: "applied 1 step(s) and verified the result" in screen_text(app),
                       what="the apply's result")
    assert "kt-e13" not in rows(lab, "Port")


READONLY_PROBE = """
import sys
from kvmtui.privileges import drop_net_admin
drop_net_admin()
from kvmtui.apply import Executor, ReadOnlyRefused
from kvmtui.apply.ovs import OvsBackend
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.kinds import make_plan
from kvmtui.kinds.ovs_port import AddOvsPort

plan = make_plan(AddOvsPort("kt-base", "kt-e11", tag=9), collect_snapshot(sys.argv[1], with_libvirt=False))
for what, call in (("plan", lambda: Executor(sys.argv[1], None, readonly=False).apply(plan)),
                   ("backend", lambda: OvsBackend().run(plan.steps[0]))):
    try:
        call()
        print(what, "RAN")
    except ReadOnlyRefused as exc:
        print(what, "refused:", exc)
"""


def test_a_readonly_process_refuses_ovs_changes(lab):
    before = ovs_as_configured(lab)
    proc = subprocess.run([sys.executable, "-c", READONLY_PROBE, lab.netns], capture_output=True, text=True,
                          timeout=60, cwd=REPO, env={**lab.environ(), "PYTHONPATH": str(REPO)})
    refusal = "refused: read-only mode: kvmtui changes nothing on this host"
    assert proc.stdout.splitlines() == [f"plan {refusal}", f"backend {refusal}"], proc.stderr
    assert ovs_as_configured(lab) == before
