"""The Ansible local fact (contrib/ansible/kvmtui.fact) through real Ansible: a "host" is a
network namespace with its own sshd (tests/sshd.py) and a bridge whose port is down; the
admin's side is a second namespace running `ansible -m setup -a filter=ansible_local`.
The fact file is the shipped script, run from a fact_path of the test's (the machine's
/etc/ansible is not touched), with this checkout's kvmtui first on its PATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO, sh
from tests.sshd import netns_sshd

ANSIBLE = Path(sys.executable).with_name("ansible")  # ansible-core: kvmtui[fleet], part of kvmtui[test]


def test_ansible_local_fact_names_the_bridge_and_the_findings(make_netns, tmp_path):
    host, admin = make_netns(), make_netns()
    sh("ip", "-n", host, "link", "add", "kt-up", "type", "veth", "peer", "name", "kt-ws", "netns", admin)
    sh("ip", "-n", host, "addr", "add", "10.84.0.1/24", "dev", "kt-up")
    sh("ip", "-n", admin, "addr", "add", "10.84.0.2/24", "dev", "kt-ws")
    for ns, dev in ((host, "kt-up"), (admin, "kt-ws"), (host, "lo"), (admin, "lo")):
        sh("ip", "-n", ns, "link", "set", dev, "up")
    sh("ip", "-n", host, "link", "add", "kt-br0", "type", "bridge")
    sh("ip", "-n", host, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    sh("ip", "-n", host, "link", "set", "kt-p1", "master", "kt-br0")
    sh("ip", "-n", host, "link", "set", "kt-br0", "up")  # its only port stays down: a finding
    facts = tmp_path / "facts.d"
    facts.mkdir()
    fact = facts / "kvmtui.fact"
    fact.write_text(f"#!/bin/sh\nPATH={Path(sys.executable).parent}:$PATH PYTHONPATH={REPO} "
                    f"exec sh {REPO / 'contrib/ansible/kvmtui.fact'}\n")
    fact.chmod(0o755)
    with netns_sshd(tmp_path, host, "10.84.0.1", admin) as server:
        inventory = tmp_path / "inventory"
        inventory.write_text(
            f"kvm1 ansible_host=10.84.0.1 ansible_port={server.port} ansible_user=root "
            f"ansible_ssh_private_key_file={server.client_key} ansible_python_interpreter=/usr/bin/python3 "
            f"ansible_remote_tmp={tmp_path / 'remote'} "
            "ansible_ssh_common_args='-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n")
        proc = subprocess.run(
            ["ip", "netns", "exec", admin, str(ANSIBLE), "-i", str(inventory), "kvm1", "-m", "setup",
             "-a", f"filter=ansible_local fact_path={facts}"],
            capture_output=True, text=True, timeout=180,
            env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "minimal", "ANSIBLE_LOCAL_TEMP": str(tmp_path / "local"), "ANSIBLE_HOME": str(tmp_path / "home"),
                 "ANSIBLE_HOST_KEY_CHECKING": "False"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.startswith("kvm1 | SUCCESS => "), proc.stdout[-3000:]
    result = json.loads(proc.stdout.split(" => ", 1)[1])  # the minimal callback: HOST | STATUS => JSON
    fact = result["ansible_facts"]["ansible_local"]["kvmtui"]
    assert fact["fact_version"] == 1 and fact["schema_version"] >= 2, fact
    assert {"name": "kt-br0", "up": True, "ports": ["kt-p1"]} in fact["bridges"], fact
    assert fact["findings"]["warning"] >= 1 and any(":bridge-" in rule for rule in fact["finding_rules"]), fact
