"""A fleet through real Ansible: three "hosts" are network namespaces, each with its own sshd
on a veth address reached from an "admin" namespace (tests/sshd.py); one has a bridge whose
only port is down, one is clean, and the third's sshd is stopped. `kvmtui fleet collect`
(the `ansible` command over SSH) collects the two that answer and records the third as
unreachable; `fleet audit` and the fleet view tell them apart; a host opens in the dashboard."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from contextlib import ExitStack

import pytest

from kvmtui.fleet.audit import fleet_findings
from kvmtui.fleet.rows import fleet_rows
from kvmtui.fleet.store import read_fleet
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.fleet_app import FleetApp
from tests.dashboard import tree_labels, wait_for
from tests.helpers import REPO, sh
from tests.sshd import netns_sshd

HOSTS = ("kvm1", "kvm2", "kvm3")  # kvm1: a bridge with its port down; kvm2: clean; kvm3: no sshd running
REMOTE_KVMTUI = f"env PYTHONPATH={REPO} {sys.executable} -m kvmtui --no-libvirt"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """-> (fleet directory, what `fleet collect` printed, its exit code)."""
    import uuid

    tmp = tmp_path_factory.mktemp("fleet")
    admin = f"kt-{uuid.uuid4().hex[:8]}"
    spaces = [admin]
    sh("ip", "netns", "add", admin)
    try:
        lines = []
        with ExitStack() as running:
            for n, host in enumerate(HOSTS, 1):
                ns = f"kt-{uuid.uuid4().hex[:8]}"
                spaces.append(ns)
                sh("ip", "netns", "add", ns)
                sh("ip", "-n", ns, "link", "add", "kt-up", "type", "veth", "peer", "name", f"kt-w{n}", "netns", admin)
                sh("ip", "-n", ns, "addr", "add", f"10.86.{n}.1/24", "dev", "kt-up")
                sh("ip", "-n", admin, "addr", "add", f"10.86.{n}.2/24", "dev", f"kt-w{n}")
                for where, dev in ((ns, "kt-up"), (ns, "lo"), (admin, f"kt-w{n}")):
                    sh("ip", "-n", where, "link", "set", dev, "up")
                if host == "kvm1":
                    sh("ip", "-n", ns, "link", "add", "kt-br0", "type", "bridge")
                    sh("ip", "-n", ns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
                    sh("ip", "-n", ns, "link", "set", "kt-p1", "master", "kt-br0")
                    sh("ip", "-n", ns, "link", "set", "kt-br0", "up")
                (tmp / host).mkdir()
                key = tmp / "kvm1" / "client_ed25519"  # kvm3 has no sshd: any key, it is never asked
                if host != "kvm3":
                    key = running.enter_context(netns_sshd(tmp / host, ns, f"10.86.{n}.1", admin)).client_key
                lines.append(f"{host} ansible_host=10.86.{n}.1 ansible_ssh_private_key_file={key}")
            inventory = tmp / "inventory"
            inventory.write_text("[kvm]\n" + "\n".join(lines) + "\n\n[kvm:vars]\nansible_user=root\n"
                                 "ansible_python_interpreter=/usr/bin/python3\n"
                                 f"ansible_remote_tmp={tmp / 'remote'}\n"
                                 "ansible_ssh_common_args='-F /dev/null -o StrictHostKeyChecking=no "
                                 "-o UserKnownHostsFile=/dev/null -o ConnectTimeout=5'\n")
            directory = tmp / "dir"
            proc = subprocess.run(
                ["ip", "netns", "exec", admin, sys.executable, "-m", "kvmtui", "fleet", "collect", "-i",
                 str(inventory), "--dir", str(directory), "--kvmtui", REMOTE_KVMTUI],
                capture_output=True, text=True, timeout=300, cwd="/",
                env={**os.environ, "PYTHONPATH": str(REPO), "ANSIBLE_LOCAL_TEMP": str(tmp / "local"),
                     "ANSIBLE_HOME": str(tmp / "home"), "ANSIBLE_HOST_KEY_CHECKING": "False"})
        yield directory, proc.stdout + proc.stderr, proc.returncode
    finally:
        for ns in spaces:
            sh("ip", "netns", "del", ns, check=False)


def test_collect_keeps_the_answering_hosts_and_names_the_unreachable_one(fleet):
    directory, output, code = fleet
    assert code == 1, output  # not every host collected
    assert "kvm1: ok" in output and "kvm2: ok" in output, output
    assert "kvm3: unreachable (" in output and "2 of 3 host(s) collected" in output, output
    hosts = {h.status.host: h for h in read_fleet(directory)}
    assert set(hosts) == set(HOSTS)
    assert hosts["kvm3"].latest is None and hosts["kvm3"].status.reason
    snapshot = hosts["kvm1"].snapshot()
    assert "kt-br0" in snapshot.links_by_name and snapshot.links_by_name["kt-p1"].master == "kt-br0"


def test_fleet_audit_fails_on_the_host_with_the_finding(fleet):
    directory, _, _ = fleet
    proc = subprocess.run([sys.executable, "-m", "kvmtui", "fleet", "audit", str(directory), "--format", "json",
                           "--fail-on", "warning"], capture_output=True, text=True, cwd="/",
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    by_host = {h["host"]: h for h in report["hosts"]}
    assert any(f["host"] == "kvm1" and "kt-br0" in f["subject"] + f["what"] for f in by_host["kvm1"]["findings"]), \
        by_host["kvm1"]
    assert by_host["kvm2"]["counts"]["warning"] == 0 and by_host["kvm2"]["counts"]["error"] == 0, by_host["kvm2"]
    assert [f["rule"] for f in by_host["kvm3"]["findings"]] == ["fleet-host-not-collected"]


async def test_the_fleet_view_has_a_row_per_host_and_enter_opens_one(fleet):
    directory, _, _ = fleet
    hosts = read_fleet(directory)
    snapshots = {h.status.host: h.snapshot() for h in hosts}
    rows = fleet_rows(hosts, fleet_findings(hosts), snapshots)
    app = FleetApp(rows, str(directory), sort="host")
    async with app.run_test(size=(100, 24)) as pilot:
        table = app.query_one("#fleet-table")
        cells = {table.get_row_at(i)[0]: table.get_row_at(i) for i in range(table.row_count)}
        assert set(cells) == set(HOSTS)
        assert cells["kvm1"][1] == "ok" and cells["kvm1"][3] == "1" and int(cells["kvm1"][7]) >= 1  # bridges, warnings
        assert cells["kvm2"][7] == "0" and cells["kvm3"][1] == "unreachable" and cells["kvm3"][3] == "-"
        await pilot.press("enter")  # the first row: kvm1
        await pilot.pause()
    assert app.return_value == "kvm1"
    dashboard = KvmtuiApp(DashboardOptions(readonly=True), snapshots["kvm1"])
    async with dashboard.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: any("kt-br0" in label for label in tree_labels(dashboard)), what="kvm1's tree")


def test_fleet_help_names_the_three_uses():
    proc = subprocess.run([sys.executable, "-m", "kvmtui", "fleet", "--help"], capture_output=True, text=True,
                          cwd="/", env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0 and all(word in proc.stdout for word in ("collect", "audit", "fleet [DIR]"))
    assert shlex.split(REMOTE_KVMTUI)[0] == "env"
