"""The SSH session warning: found from the process ancestry when $SSH_CONNECTION is gone
(sudo, su -, env -u), and raised for every device the session's packets go through,
not only the one holding the address."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import replace

import pytest

from kvmtui.cli import read_snapshot_file
from kvmtui.model.links import Address, VlanInfo
from kvmtui.kinds import CreateBond, CreateVlan, DeleteLink, make_plan
from kvmtui.plan.diff import confirmation
from tests.helpers import EXAMPLE, REPO, sh
from tests.sshd import private_sshd

WARNING = "which carries your SSH session"


def with_address(snapshot, ifname: str, cidr: str):
    local, prefixlen = cidr.split("/")
    return replace(snapshot, links=tuple(
        replace(link, addresses=link.addresses + (Address("inet", local, int(prefixlen), "global"),))
        if link.ifname == ifname else link for link in snapshot.links))


def session_warnings(intent, snapshot, ssh: str) -> list[str]:
    return [w for w in confirmation(make_plan(intent, snapshot), snapshot, ssh).warnings if WARNING in w]


def test_deleting_a_port_below_the_sessions_bridge_warns():
    """examples/kvm-host.json: br100 <- bond0.100 <- bond0 <- eno1, eno2. A session on an
    address of br100 goes out through bond0.100, which the plan deletes."""
    snapshot = with_address(read_snapshot_file(str(EXAMPLE)), "br100", "198.51.100.1/24")
    ssh = "198.51.100.77 50000 198.51.100.1 22"
    assert session_warnings(DeleteLink("bond0.100"), snapshot, ssh) == [
        f"this changes bond0.100 below br100, {WARNING} (198.51.100.77 -> 198.51.100.1): you may lose this connection"]
    assert session_warnings(CreateVlan("bond0", 200), snapshot, ssh) == []  # adds, changes nothing below br100
    # br-mgmt (192.0.2.10, port eno3) is on another path: the same deletion does not touch it
    assert session_warnings(DeleteLink("bond0.100"), snapshot, "192.0.2.77 50000 192.0.2.10 22") == []


def test_enslaving_the_nic_below_the_sessions_vlan_warns():
    """A session on a VLAN of eno3 (eno3.10, made here from the example's eno3): putting
    eno3 into a bond cuts the VLAN off."""
    snapshot = read_snapshot_file(str(EXAMPLE))
    vlan = replace(snapshot.link("bond0.100"), ifname="eno3.10", ifindex=99, link="eno3", master=None, slave_kind=None,
                   info_slave_data=None, info_data=VlanInfo("802.1Q", 10), addresses=())
    snapshot = with_address(replace(snapshot, links=tuple(
        replace(link, master=None, slave_kind=None, info_slave_data=None) if link.ifname == "eno3" else link
        for link in snapshot.links) + (vlan,)), "eno3.10", "10.3.0.1/24")
    assert session_warnings(CreateBond("bond9", "active-backup", ("eno3",)), snapshot, "10.3.0.7 50000 10.3.0.1 22") == [
        f"this changes eno3 below eno3.10, {WARNING} (10.3.0.7 -> 10.3.0.1): you may lose this connection"]


@pytest.fixture
def vxlan_ns(netns):
    """kt-vx0, a vxlan over the veth kt-p1, holds the session's addresses: 10.1.0.1, and
    127.0.0.1 - the only address the private sshd listens on (the namespace stands for
    the host whose management address the session reaches). A vxlan, not a macvlan: a
    device carrying a macvlan cannot become a bridge port (EBUSY), so kvmtui refuses that
    plan; one under a vxlan can, and the vxlan's traffic then crosses the new bridge."""
    sh("ip", "-n", netns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    sh("ip", "-n", netns, "link", "add", "kt-vx0", "type", "vxlan", "id", "42", "dev", "kt-p1", "dstport", "4789")
    for cidr in ("10.1.0.1/24", "127.0.0.1/32"):
        sh("ip", "-n", netns, "addr", "add", cidr, "dev", "kt-vx0")
    for dev in ("kt-p1", "kt-q1", "kt-vx0"):
        sh("ip", "-n", netns, "link", "set", dev, "up")
    return netns


PLAN = ("plan", "bridge", "kt-br0", "--port", "kt-p1")  # kt-p1 is below kt-vx0


def test_cli_warns_about_a_device_below_the_session(vxlan_ns):
    env = {**os.environ, "SSH_CONNECTION": "10.1.0.77 50000 10.1.0.1 22"}
    proc = subprocess.run([sys.executable, "-m", "kvmtui", "--netns", vxlan_ns, "--no-libvirt", *PLAN],
                          capture_output=True, text=True, timeout=60, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert f"this changes kt-p1 below kt-vx0, {WARNING} (10.1.0.77 -> 10.1.0.1)" in " ".join(proc.stdout.split())


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    with private_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


KVMTUI = REPO / ".venv" / "bin" / "kvmtui"


@pytest.mark.parametrize("wrap", [
    "env -u SSH_CONNECTION sh -c",  # nothing in any environment: sshd's own TCP socket answers
    "su - root -c",  # su - starts a clean environment: an ancestor's environment (su's) answers
])
def test_the_session_is_found_without_ssh_connection(sshd, vxlan_ns, wrap):
    """A real login to the private sshd on 127.0.0.1; the plan runs with SSH_CONNECTION
    removed. The remote command is one simple command, so the login shell execs it and
    leaves no environment behind in the ancestry."""
    probe = shlex.join([str(REPO / ".venv" / "bin" / "python"), "-c",
                        "import os; from kvmtui.session import ssh_connection; "
                        "print('env', os.environ.get('SSH_CONNECTION'), 'found', ssh_connection())"])
    command = shlex.join([str(KVMTUI), "--netns", vxlan_ns, "--no-libvirt", *PLAN])
    proc = subprocess.run(sshd.ssh(f"{wrap} {shlex.quote(f'{probe}; {command}')}", tty=False), capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"env None found 127\.0\.0\.1 (\d+) 127\.0\.0\.1 (\d+)", proc.stdout)
    assert found and int(found.group(2)) == sshd.port, proc.stdout
    assert f"this changes kt-p1 below kt-vx0, {WARNING} (127.0.0.1 -> 127.0.0.1)" in " ".join(proc.stdout.split())
