"""`kvmtui fleet apply`: one plan rolled out host by host through real ansible-playbook,
each host under a real guard. Two "hosts" are network namespaces with their own sshd on a
veth address reached from an "admin" namespace: kvm1's SSH address sits on its NIC, kvm2's
on its bridge kt-br0. A new bridge is kept on both; deleting kt-br0 is kept on kvm1 and
cuts kvm2's path, so kvm2 answers no more, its guard puts the bridge and address back by
itself, and the rollout says it stopped there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack

import pytest

from tests.helpers import REPO, sh
from tests.sshd import netns_sshd

GUARD_SECONDS = 30  # apply, poll, reconnect and confirm take 10-15 s per host on a busy machine


@pytest.fixture
def two_hosts(make_netns, tmp_path):
    """-> (inventory, {host: namespace}, the run dir of the hosts' kvmtui, the remote kvmtui command)."""
    admin = make_netns()
    spaces, lines = {}, []
    run_dir = tmp_path / "run"
    remote = f"env PYTHONPATH={REPO} KVMTUI_RUN_DIR={run_dir} {sys.executable} -m kvmtui --no-libvirt"
    with ExitStack() as running:
        for n, host in enumerate(("kvm1", "kvm2"), 1):
            ns = spaces[host] = make_netns()
            sh("ip", "-n", ns, "link", "add", "kt-up", "type", "veth", "peer", "name", f"kt-w{n}", "netns", admin)
            sh("ip", "-n", admin, "addr", "add", f"10.87.{n}.2/24", "dev", f"kt-w{n}")
            sh("ip", "-n", ns, "link", "add", "kt-br0", "type", "bridge")
            if host == "kvm1":  # the SSH address on the NIC; kt-br0 holds another port only
                sh("ip", "-n", ns, "addr", "add", f"10.87.{n}.1/24", "dev", "kt-up")
                sh("ip", "-n", ns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
                sh("ip", "-n", ns, "link", "set", "kt-p1", "master", "kt-br0")
            else:  # the SSH address on the bridge, the NIC its port
                sh("ip", "-n", ns, "link", "set", "kt-up", "master", "kt-br0")
                sh("ip", "-n", ns, "addr", "add", f"10.87.{n}.1/24", "dev", "kt-br0")
            for where, dev in ((ns, "kt-up"), (ns, "kt-br0"), (admin, f"kt-w{n}")):
                sh("ip", "-n", where, "link", "set", dev, "up")
            (tmp_path / host).mkdir()
            server = running.enter_context(netns_sshd(tmp_path / host, ns, f"10.87.{n}.1", admin))
            lines.append(f"{host} ansible_host=10.87.{n}.1 ansible_ssh_private_key_file={server.client_key}")
        inventory = tmp_path / "inventory"
        inventory.write_text(
            "[kvm]\n" + "\n".join(lines) + "\n\n[kvm:vars]\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\n"
            f"ansible_remote_tmp={tmp_path / 'remote'}\nansible_async_dir={tmp_path / 'async'}\n"
            "ansible_ssh_common_args='-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
            "-o ConnectTimeout=3'\n")
        yield inventory, spaces, run_dir, remote, admin


def fleet_apply(inventory, admin: str, remote: str, *args: str) -> subprocess.CompletedProcess:
    tmp = inventory.parent
    return subprocess.run(
        ["ip", "netns", "exec", admin, sys.executable, "-m", "kvmtui", "fleet", "apply", "-i", str(inventory),
         "--serial", "1", "--confirm", str(GUARD_SECONDS), "--kvmtui", remote, *args],
        capture_output=True, text=True, timeout=300, cwd="/",
        env={**os.environ, "PYTHONPATH": str(REPO), "ANSIBLE_LOCAL_TEMP": str(tmp / "local"),
             "ANSIBLE_HOME": str(tmp / "home"), "ANSIBLE_HOST_KEY_CHECKING": "False"})


def guard_states(run_dir) -> list[str]:
    return sorted(json.loads(p.read_text())["state"] for p in (run_dir / "guards").glob("*.json"))


def addresses(ns: str, dev: str) -> list[str]:
    found = json.loads(sh("ip", "-n", ns, "-j", "addr", "show", "dev", dev, check=False) or "[]")
    return [f"{a['local']}/{a['prefixlen']}" for link in found for a in link.get("addr_info", [])
            if a.get("scope") == "global"]


def test_a_bridge_rolled_out_to_two_hosts_is_kept_on_both(two_hosts):
    inventory, spaces, run_dir, remote, admin = two_hosts
    proc = fleet_apply(inventory, admin, remote, "bridge", "kt-br9")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kvm1: kept" in proc.stdout and "kvm2: kept" in proc.stdout, proc.stdout
    for ns in spaces.values():
        assert "kt-br9" in sh("ip", "-n", ns, "-br", "link")
    assert guard_states(run_dir) == ["kept", "kept"]


def test_a_change_that_cuts_the_second_host_is_reverted_there_and_stops_the_rollout(two_hosts):
    inventory, spaces, run_dir, remote, admin = two_hosts
    proc = fleet_apply(inventory, admin, remote, "delete", "kt-br0")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "kvm1: kept" in proc.stdout, proc.stdout
    assert "kvm2: " in proc.stdout and "kvm2: kept" not in proc.stdout, proc.stdout
    assert "the rollout stopped at kvm2" in proc.stdout, proc.stdout
    assert "kt-br0" not in sh("ip", "-n", spaces["kvm1"], "-br", "link")  # kept where SSH survived
    deadline = time.monotonic() + GUARD_SECONDS + 20
    while addresses(spaces["kvm2"], "kt-br0") != ["10.87.2.1/24"]:  # kvm2's guard puts it back by itself
        assert time.monotonic() < deadline, sh("ip", "-n", spaces["kvm2"], "addr")
        time.sleep(0.5)
    assert sh("ip", "-n", spaces["kvm2"], "-j", "link", "show", "kt-up").count('"master":"kt-br0"') == 1
    deadline = time.monotonic() + 10
    while "reverted" not in guard_states(run_dir):
        assert time.monotonic() < deadline, guard_states(run_dir)
        time.sleep(0.2)
    assert sorted(guard_states(run_dir)) == ["kept", "reverted"]
