"""Confirm-or-revert over a real SSH session, the way an admin meets it: kvmtui runs on a
"remote host" through ssh, and the change either cuts that very session (the guard must
bring the host back, and a new login must work) or keeps it (confirmed from a second
login, it must stay past the deadline).

The remote host is network namespace H: bridge kt-br0 holds 10.66.0.1/24, its port
kt-p1 is a veth whose peer kt-c1 (10.66.0.2/24) sits in namespace C. sshd runs inside H
on 10.66.0.1; the ssh client runs inside C, which stands for the admin's workstation:
its only way to the host is the wire the change cuts. The root namespace gets no address
and no route, so nothing else can carry the session. kvmtui runs inside H without
--netns, as on a real host: it finds the session from SSH_CONNECTION, and its guard runs
in H too. Each test has its own guard directory (KVMTUI_RUN_DIR, passed through ssh:
sshd hands the session no environment of ours).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import REPO, guard_process_alive, sh
from tests.sshd import Sshd, netns_pids, netns_sshd
from tests.states import changes, no_dad, settled, steady, undo_state
from tests.topologies import ns_json

HOST_IP, CLIENT_IP = "10.66.0.1", "10.66.0.2"
TIMEOUT = 15  # --confirm: the guard's countdown
MARGIN = 3.0  # seconds past the deadline a revert may take (re-reading the host included)


def boottime() -> float:
    """The guard's clock (CLOCK_BOOTTIME): the journal's deadline and restored_at are on it."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@dataclass(frozen=True)
class Remote:
    host: str  # namespace H: the remote host
    client: str  # namespace C: the admin's workstation
    sshd: Sshd
    run: Path  # KVMTUI_RUN_DIR of this test

    def kvmtui(self, *args: str) -> str:
        """The remote command line: kvmtui of this checkout inside H, on H itself (no --netns)."""
        return shlex.join(["env", f"KVMTUI_RUN_DIR={self.run}", f"PYTHONPATH={REPO}",
                           sys.executable, "-m", "kvmtui", "--no-libvirt", *args])

    def ssh(self, remote_command: str, timeout: float = 60, connect_timeout: float | None = None):
        return subprocess.run(self.sshd.ssh(remote_command, tty=False, connect_timeout=connect_timeout),
                              capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)

    def journals(self) -> list[dict]:
        return [json.loads(path.read_text()) for path in sorted((self.run / "guards").glob("*.json"))]

    def wait_journal(self, predicate, what: str, timeout: float) -> dict:
        """The only journal of this test once predicate(journal) holds."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.journals()
            if len(found) == 1 and predicate(found[0]):
                return found[0]
            assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s; journals: {found}"
            time.sleep(0.05)


@pytest.fixture
def remote(make_netns, tmp_path):
    host, client = make_netns(), make_netns()
    for ns in (host, client):
        no_dad(ns)
    # the veth first: `bridge link` names a port's peer by the peer's ifindex looked up in
    # this namespace (kt-c1 is 2 in C); 2 here must be kt-p1 itself, not kt-br0, whose
    # ifindex changes when the revert re-creates it
    sh("ip", "-n", host, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-c1", "netns", client)
    sh("ip", "-n", host, "link", "add", "kt-br0", "type", "bridge")
    sh("ip", "-n", host, "link", "set", "kt-p1", "master", "kt-br0")
    sh("ip", "-n", host, "addr", "add", f"{HOST_IP}/24", "dev", "kt-br0")
    sh("ip", "-n", client, "addr", "add", f"{CLIENT_IP}/24", "dev", "kt-c1")
    for ns, dev in ((host, "kt-br0"), (host, "kt-p1"), (client, "kt-c1")):
        sh("ip", "-n", ns, "link", "set", dev, "up")
    run = tmp_path / "run"
    sshd_dir = tmp_path / "sshd"
    sshd_dir.mkdir()
    try:
        with netns_sshd(sshd_dir, host, HOST_IP, client) as server:
            yield Remote(host, client, server, run)
    finally:
        # whatever a failed test left in the remote host: its guard, a kvmtui, the sessions
        for pid in netns_pids(host):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _addresses(ns: str, dev: str) -> list[str]:
    found = ns_json(ns, "ip", "-j", "addr", "show", "dev", dev)
    return [f"{a['local']}/{a['prefixlen']}" for a in found[0]["addr_info"] if a["family"] == "inet"] if found else []


def test_a_change_that_cuts_the_session_is_reverted_and_ssh_works_again(remote):
    """`kvmtui apply delete kt-br0` over ssh deletes the bridge holding the very address the
    session reaches: the session hangs. Nobody can confirm over it, so the guard reverts
    (early, once its probe of the SSH client has failed for 10 s, or at the deadline):
    the namespace is exactly as before, a new login works, the journal says why."""
    before = steady(remote.host)
    session = subprocess.Popen(
        remote.sshd.ssh(remote.kvmtui("apply", "delete", "kt-br0", "--yes", "--confirm", str(TIMEOUT)), tty=False),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        pending = remote.wait_journal(lambda j: j["state"] != "applying", "the guard counting down", 30)
        assert pending["state"] == "pending", pending
        assert pending["ssh"] and pending["ssh"].split()[::2] == [CLIENT_IP, HOST_IP], pending["ssh"]
        assert pending["netns"] is None  # kvmtui ran inside the remote host, not with --netns
        assert guard_process_alive(pending)

        # the cut is real: the address is gone, nothing in C reaches H any more
        assert "kt-br0" not in {link["ifname"] for link in ns_json(remote.host, "ip", "-j", "link", "show")}
        assert remote.ssh("echo reached", timeout=15, connect_timeout=2).returncode != 0

        ended = remote.wait_journal(lambda j: j["state"] == "reverted",
                                    "the guard's revert", pending["deadline"] - boottime() + MARGIN + 5)
        assert ended["restored_at"] <= pending["deadline"] + MARGIN, (ended["restored_at"], pending["deadline"])
        assert ended["reason"] in (f"not kept within {TIMEOUT} s",
                                   f"stopped answering since the change: SSH client {CLIENT_IP}"), ended["reason"]
        assert ended["outcome"][-1] == "re-read the host: as it was before the change", ended["outcome"]

        after = settled(remote.host, before)
        assert after == before, changes(before, after)
        again = remote.ssh("echo reached again", timeout=30, connect_timeout=10)
        assert again.returncode == 0 and again.stdout.strip() == "reached again", again.stderr
    finally:
        try:  # the first session: it may come back to life once the address is back, or hang on
            output = session.communicate(timeout=2)[0]
        except subprocess.TimeoutExpired:
            session.kill()
            output = session.communicate()[0]
    # what the cut session managed to show: the plan text went out before the first step
    if "Plan: delete bridge kt-br0" in output:
        assert f"a countdown of {TIMEOUT} s" in " ".join(output.split()), output
        assert "which carries your SSH session" in " ".join(output.split()), output
    if "guard: " in output:
        assert f"guard: {ended['id']}" in output, output


def test_a_change_that_keeps_the_session_is_confirmed_from_a_second_login(remote):
    """The same deletion handing the address to the port (--move-ip-to kt-p1): the
    session survives, the countdown is announced, a second login keeps the change with
    `kvmtui confirm`, and past the deadline the change is still there. Then the way back,
    a new bridge taking the port and its address (--move-ip-from kt-p1), kept the same way."""
    before = steady(remote.host)
    first = remote.ssh(remote.kvmtui("apply", "delete", "kt-br0", "--move-ip-to", "kt-p1", "--yes",
                                     "--confirm", str(TIMEOUT)))
    assert first.returncode == 0, first.stdout + first.stderr
    text = " ".join(first.stdout.split())
    assert f"a countdown of {TIMEOUT} s" in text and "which carries your SSH session" in text, first.stdout
    found = re.search(r"^guard: ([0-9a-f]{8})$", first.stdout, re.M)
    assert found, first.stdout
    guard_id = found.group(1)
    pending = remote.wait_journal(lambda j: True, "the journal", 5)
    assert pending["id"] == guard_id and pending["state"] == "pending" and guard_process_alive(pending), pending

    second = remote.ssh(remote.kvmtui("confirm", guard_id))
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == f"kvmtui: guard {guard_id} (delete bridge kt-br0): kept", second.stdout
    kept_state = undo_state(remote.host)

    time.sleep(max(0.0, pending["deadline"] - boottime()) + 2)  # past the deadline
    ended = remote.journals()[0]
    assert ended["state"] == "kept" and ended["reason"] == "kept by kvmtui confirm", ended
    assert ended["restored_at"] is None and ended["outcome"] == [], ended
    assert not guard_process_alive(ended)  # it stood down
    after = undo_state(remote.host)
    assert after == kept_state, changes(kept_state, after)
    assert after != before
    names = {link["ifname"]: link for link in ns_json(remote.host, "ip", "-j", "link", "show")}
    assert "kt-br0" not in names and "master" not in names["kt-p1"]
    assert _addresses(remote.host, "kt-p1") == [f"{HOST_IP}/24"]
    again = remote.ssh("echo still here", timeout=30, connect_timeout=10)
    assert again.returncode == 0 and again.stdout.strip() == "still here", again.stderr

    back = remote.ssh(remote.kvmtui("apply", "bridge", "kt-br0", "--port", "kt-p1", "--move-ip-from", "kt-p1",
                                    "--yes", "--confirm", str(TIMEOUT)))
    assert back.returncode == 0, back.stdout + back.stderr
    assert "which carries your SSH session" in " ".join(back.stdout.split()), back.stdout
    guard_id = re.search(r"^guard: ([0-9a-f]{8})$", back.stdout, re.M).group(1)
    pending = next(j for j in remote.journals() if j["id"] == guard_id)
    confirmed = remote.ssh(remote.kvmtui("confirm"))  # the only open guard: no id needed
    assert confirmed.stdout.strip() == f"kvmtui: guard {guard_id} (create bridge kt-br0): kept", confirmed.stderr
    time.sleep(max(0.0, pending["deadline"] - boottime()) + 2)
    assert next(j for j in remote.journals() if j["id"] == guard_id)["state"] == "kept"
    names = {link["ifname"]: link for link in ns_json(remote.host, "ip", "-j", "link", "show")}
    assert names["kt-p1"].get("master") == "kt-br0"
    assert _addresses(remote.host, "kt-br0") == [f"{HOST_IP}/24"] and _addresses(remote.host, "kt-p1") == []
    again = remote.ssh("echo still here", timeout=30, connect_timeout=10)
    assert again.returncode == 0 and again.stdout.strip() == "still here", again.stderr
