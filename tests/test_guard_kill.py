"""Confirm-or-revert when the kvmtui that applied dies, when its guard dies too, and when
the input is wrong: what an admin checks afterwards is the namespace (links, addresses,
routes, bridge ports: tests.states.undo_state, ifindexes of re-created devices aside)
and the guard's journal.

Each test works on a namespace of its own with `kvmtui --netns NS` run from the root
namespace (no sshd: nothing here is about the session itself), a guard directory of its
own (KVMTUI_RUN_DIR), and kills what it started - the kvmtui, a guard left alive - by
pid, also when it fails.

The namespace: bridge kt-br0 holds 10.66.0.1/24 and the route 10.77.0.0/16 via
10.66.0.254; its ports kt-p1, kt-p2 are veths (peers kt-q1, kt-q2). The plan deletes
kt-br0 and hands its address and route to kt-p1 (--move-ip-to): several steps, so that
one can die between them.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.helpers import REPO, guard_process_alive, kvmtui_in, sh
from tests.states import changes, settled, steady, undo_state
from tests.topologies import bridge_with_two_veth_ports, ns_json

PLAN = ("apply", "delete", "kt-br0", "--move-ip-to", "kt-p1")
TIMEOUT = 10  # --confirm: the shortest countdown a guard takes
MARGIN = 3.0  # seconds past the deadline a revert may take (re-reading the host included)
RESTORED = "re-read the host: as it was before the change"


def boottime() -> float:
    """The guard's clock (CLOCK_BOOTTIME): the journal's deadline and restored_at are on it."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@pytest.fixture
def bridged(netns):
    bridge_with_two_veth_ports(netns)
    sh("ip", "-n", netns, "addr", "add", "10.66.0.1/24", "dev", "kt-br0")
    sh("ip", "-n", netns, "route", "add", "10.77.0.0/16", "via", "10.66.0.254")
    return netns


@pytest.fixture
def run(tmp_path):
    """This test's KVMTUI_RUN_DIR; afterwards any guard still alive in it is killed."""
    run = tmp_path / "run"
    yield run
    for journal in journals(run):
        if guard_process_alive(journal):
            os.kill(journal["guard_pid"], signal.SIGKILL)


def journals(run: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted((run / "guards").glob("*.json"))]


def wait_journal(run: Path, predicate, what: str, timeout: float) -> dict:
    """The only journal in `run` once predicate(journal) holds."""
    deadline = time.monotonic() + timeout
    while True:
        found = journals(run)
        if len(found) == 1 and predicate(found[0]):
            return found[0]
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s; journals: {found}"
        time.sleep(0.05)


def env(run: Path) -> dict[str, str]:
    return {**os.environ, "KVMTUI_RUN_DIR": str(run), "PYTHONPATH": str(REPO)}


def inet(ns: str, dev: str) -> list[str]:
    found = ns_json(ns, "ip", "-j", "addr", "show", "dev", dev)
    return [f"{a['local']}/{a['prefixlen']}" for a in found[0]["addr_info"] if a["family"] == "inet"] if found else []


def assert_reverted_on_time(journal: dict, pending: dict, reason: str) -> None:
    assert journal["state"] == "reverted" and journal["reason"] == reason, journal
    assert journal["outcome"][-1] == RESTORED, journal["outcome"]
    late = journal["restored_at"] - pending["deadline"]
    assert 0 <= late <= MARGIN, f"restored {late:+.2f} s from the deadline"


class Terminal:
    """A process on a pty of its own (stdin, stdout and stderr), as in a terminal."""

    def __init__(self, argv: list[str], environ: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=environ, cwd="/",
                                     start_new_session=True)
        os.close(slave)
        self.text = ""

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match:
        deadline = time.monotonic() + timeout
        while not (found := re.search(pattern, self.text)):
            left = deadline - time.monotonic()
            assert left > 0, f"{pattern!r} not shown within {timeout:g} s; the terminal shows:\n{self.text}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    data = os.read(self.master, 4096)
                except OSError:  # EIO: nothing holds the pty's other side any more
                    data = b""
                assert data, f"the terminal closed before {pattern!r}; it showed:\n{self.text}"
                self.text += data.decode(errors="replace")
        return found

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        os.close(self.master)


def test_kill_9_of_the_cli_during_its_countdown_still_reverts_on_time(bridged, run):
    """The interactive apply (a terminal on stdin, no --yes) asks, applies, and counts down
    ("Keep these changes? ..."); SIGKILL of it leaves the guard to revert at the deadline,
    not before, not much after."""
    before = steady(bridged)
    term = Terminal([sys.executable, "-m", "kvmtui", "--netns", bridged, "--no-libvirt", *PLAN,
                     "--confirm", str(TIMEOUT)], env(run))
    try:
        term.wait_for(r"Apply this plan\? \[y/N\]")
        term.type("y\n")
        term.wait_for(r"Keep these changes\? \d+ s: y keep, n revert now")
        pending = wait_journal(run, lambda j: j["state"] == "pending", "the countdown", 5)
        assert inet(bridged, "kt-p1") == ["10.66.0.1/24"]  # applied
        term.proc.send_signal(signal.SIGKILL)
        assert term.proc.wait(10) == -signal.SIGKILL
    finally:
        term.close()
    assert guard_process_alive(pending)
    ended = wait_journal(run, lambda j: j["state"] == "reverted", "the revert",
                         pending["deadline"] - boottime() + MARGIN + 5)
    assert_reverted_on_time(ended, pending, f"not kept within {TIMEOUT} s")
    after = settled(bridged, before)
    assert after == before, changes(before, after)


# The plan's steps: 1 ip route del 10.77.0.0/16 ... dev kt-br0, 2 ip addr del 10.66.0.1/24
# dev kt-br0, 3 ip link set kt-br0 down, 4 ip link set kt-p2 nomaster, 5 ip link set kt-p1
# nomaster, 6 ip link del kt-br0, 7 ip addr add 10.66.0.1/24 dev kt-p1, 8 ip route add ...
PAUSE_AT = 5  # in flight when killed: 1-4 ran (route, address, bridge down, kt-p2 out)

# kvmtui's own main(), with a pause injected before step PAUSE_AT through the Executor's
# test hook (before_step: the journal already says the step is running): no product code
# changes, and the kill lands between two steps for sure - a kill timed from outside
# would hit the apply anywhere, or after it ended. The pause lasts while the marker file
# it writes exists: deleting it lets the apply go on.
PAUSED_APPLY = """
import sys, time
from pathlib import Path
import kvmtui.apply
from kvmtui.cli import main

marker, pause_at, plain_init = Path(sys.argv[1]), int(sys.argv[2]), kvmtui.apply.Executor.__init__

def paused_init(self, *args, **kwargs):
    plain_init(self, *args, **kwargs)
    def before_step(number, step):
        if number == pause_at:
            marker.write_text(step.command)
            end = time.monotonic() + 600
            while marker.exists() and time.monotonic() < end:
                time.sleep(0.05)
    self.before_step = before_step

kvmtui.apply.Executor.__init__ = paused_init
sys.exit(main(sys.argv[3:]))
"""


def paused_apply(ns: str, marker: Path, *options: str) -> list[str]:
    """argv of the guarded apply that pauses before its step PAUSE_AT."""
    return [sys.executable, "-c", PAUSED_APPLY, str(marker), str(PAUSE_AT), "--netns", ns, "--no-libvirt", *PLAN,
            "--confirm", str(TIMEOUT), *options]


def start_paused_apply(ns: str, run: Path, tmp_path: Path) -> tuple[subprocess.Popen, dict]:
    """A guarded apply (--yes) stopped before its step PAUSE_AT; (the process, its journal then)."""
    marker = tmp_path / "paused"
    proc = subprocess.Popen(paused_apply(ns, marker, "--yes"), env=env(run), cwd="/", stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    return proc, wait_paused(ns, run, marker, proc)


def wait_paused(ns: str, run: Path, marker: Path, proc: subprocess.Popen) -> dict:
    """The journal once the apply pauses before step PAUSE_AT (checked half-applied)."""
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert proc.poll() is None, f"the apply ended ({proc.returncode})"
        assert time.monotonic() < deadline, f"the apply never reached step {PAUSE_AT}"
        time.sleep(0.05)
    assert marker.read_text() == "ip link set kt-p1 nomaster"
    journal = wait_journal(run, lambda j: j["running"] == PAUSE_AT, f"step {PAUSE_AT} in the journal", 5)
    assert journal["state"] == "applying" and journal["done"] == PAUSE_AT - 1 and guard_process_alive(journal), journal
    # half-applied: the bridge lost its address and its port kt-p2, kt-p1 is still in it
    ports = {link["ifname"]: link.get("master") for link in ns_json(ns, "ip", "-j", "link", "show")}
    assert inet(ns, "kt-br0") == [] and (ports["kt-p1"], ports["kt-p2"]) == ("kt-br0", None), ports
    return journal


def kill_guard(journal: dict) -> None:
    os.kill(journal["guard_pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while guard_process_alive(journal):
        assert time.monotonic() < deadline, "the guard did not die"
        time.sleep(0.05)


def kill_9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL
    proc.communicate()


def test_kill_9_in_the_middle_of_the_apply_is_undone_at_once(bridged, run, tmp_path):
    """Killed between steps 4 and 5 of the apply, before any countdown: the guard sees its
    kvmtui end and undoes the steps that ran at once (plus the one in flight, which may
    or may not have run), not at a deadline."""
    before = steady(bridged)
    proc, applying = start_paused_apply(bridged, run, tmp_path)
    try:
        kill_9(proc)
        killed = boottime()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    ended = wait_journal(run, lambda j: j["state"] == "reverted", "the revert", 10)
    assert ended["reason"] == f"kvmtui (pid {proc.pid}) ended during step {PAUSE_AT} of {len(applying['steps'])}: " \
                              "the steps it ran are undone", ended
    assert ended["outcome"][-1] == RESTORED, ended["outcome"]
    assert ended["deadline"] is None and ended["restored_at"] - killed < MARGIN
    after = settled(bridged, before)
    assert after == before, changes(before, after)


def test_kill_9_of_the_guard_and_the_apply_leaves_a_journal_to_revert(bridged, run, tmp_path):
    """The guard dies first (SIGKILL), then the kvmtui in the middle of its apply: nothing
    is left to revert by itself. `kvmtui guards` says so, and `kvmtui revert ID` undoes
    the change from the journal."""
    before = steady(bridged)
    proc, applying = start_paused_apply(bridged, run, tmp_path)
    guard_id = applying["id"]
    try:
        kill_guard(applying)
        kill_9(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    time.sleep(1)  # nobody is left to act: give a revert a chance to show up if one did
    assert journals(run)[0]["state"] == "applying"
    assert inet(bridged, "kt-br0") == []  # still half-applied

    listed = kvmtui_in(bridged, "guards", env={"KVMTUI_RUN_DIR": str(run)})
    assert listed.returncode == 0, listed.stderr
    row = next((line for line in listed.stdout.splitlines() if line.startswith(guard_id)), "")
    assert "its guard died" in row and f"delete bridge kt-br0 (netns {bridged})" in row, listed.stdout

    reverted = kvmtui_in(bridged, "revert", guard_id, env={"KVMTUI_RUN_DIR": str(run)})
    assert reverted.returncode == 0, reverted.stdout + reverted.stderr
    assert reverted.stdout.splitlines()[0] == (f"kvmtui: guard {guard_id} (delete bridge kt-br0): reverted: "
                                               "its guard had died: reverted by `kvmtui revert`"), reverted.stdout
    assert reverted.stdout.splitlines()[-1] == f"  {RESTORED}", reverted.stdout
    assert journals(run)[0]["state"] == "reverted"
    after = settled(bridged, before)
    assert after == before, changes(before, after)


def test_a_guard_killed_during_the_apply_is_not_promised_to_the_script(bridged, run, tmp_path):
    """The guard dies mid-apply and the apply (--yes) goes on to the end: kvmtui must not
    print that the change will be undone - nothing is left to undo it - but say how to."""
    proc, applying = start_paused_apply(bridged, run, tmp_path)
    guard_id = applying["id"]
    try:
        kill_guard(applying)
        (tmp_path / "paused").unlink()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    assert "the change is undone" not in out, out
    assert out.splitlines()[-2:] == [
        f"guard: {guard_id}",
        f"kvmtui: guard {guard_id} died during the apply: nothing undoes the change by itself; "
        f"`kvmtui revert {guard_id}` undoes it, `kvmtui confirm {guard_id}` keeps it"], out
    assert inet(bridged, "kt-p1") == ["10.66.0.1/24"]  # applied, and it stays
    listed = kvmtui_in(bridged, "guards", env={"KVMTUI_RUN_DIR": str(run)})
    assert "its guard died" in listed.stdout, listed.stdout


def test_a_guard_killed_during_the_apply_is_replaced_by_the_countdown(bridged, run, tmp_path):
    """The same in a terminal: the countdown that follows keeps the guard's word itself -
    unkept, the change is reverted at the deadline by this kvmtui, which says so and
    exits 3 (the guard died; without this it would wait for a word that never comes)."""
    before = steady(bridged)
    marker = tmp_path / "paused"
    term = Terminal(paused_apply(bridged, marker), env(run))
    try:
        term.wait_for(r"Apply this plan\? \[y/N\]")
        term.type("y\n")
        applying = wait_paused(bridged, run, marker, term.proc)
        kill_guard(applying)
        marker.unlink()
        term.wait_for(r"Keep these changes\? \d+ s: y keep, n revert now")
        pending = wait_journal(run, lambda j: j["state"] == "pending", "the countdown", 5)
        assert term.proc.wait(pending["deadline"] - boottime() + MARGIN + 5) == 3
        term.wait_for(r"as it was before the change")
    finally:
        term.close()
    ended = journals(run)[0]
    assert_reverted_on_time(ended, pending,
                            f"not kept within {TIMEOUT} s; its guard had died: reverted by kvmtui apply")
    assert f"kvmtui: guard {ended['id']} (delete bridge kt-br0): reverted: not kept within" in term.text, term.text
    after = settled(bridged, before)
    assert after == before, changes(before, after)


def refused(proc: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 1 and one line on stderr, `kvmtui: ...`, saying `words`."""
    lines = proc.stderr.splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("kvmtui: "), \
        (proc.returncode, proc.stderr, proc.stdout)
    assert all(word in lines[0] for word in words), lines[0]


def test_bad_confirm_input_is_refused_and_changes_nothing(bridged, run):
    before = undo_state(bridged)
    guarded = {"KVMTUI_RUN_DIR": str(run)}
    for options, words in ((("--confirm", "0"), ("--confirm", "0 s is outside 10-3600 s", "nothing changed")),
                           (("--confirm", "abc"), ("--confirm", "'abc' is not a whole number", "nothing changed")),
                           (("--confirm", "5000"), ("--confirm", "5000 s is outside 10-3600 s", "nothing changed")),
                           (("--confirm", "30", "--no-confirm"), ("--confirm and --no-confirm",))):
        refused(kvmtui_in(bridged, *PLAN, "--yes", *options, env=guarded), *words)
    refused(kvmtui_in(bridged, "confirm", "deadbeef", env=guarded), "no guard 'deadbeef'")
    refused(kvmtui_in(bridged, "revert", "deadbeef", env=guarded), "no guard 'deadbeef'")
    refused(kvmtui_in(bridged, "confirm", env=guarded), "no guard is pending")
    refused(kvmtui_in(bridged, "confirm", "not-an-id", env=guarded), "'not-an-id' is not a guard id")
    assert journals(run) == []
    after = undo_state(bridged)
    assert after == before, changes(before, after)


def test_what_a_pending_guard_refuses_and_its_revert_on_time(bridged, run):
    """While a guard counts down: a second guarded apply touching one of its devices is
    refused naming it, and so is any other apply over them; a read-only kvmtui can
    neither keep nor revert it. It reverts on time all the same; afterwards `confirm`
    says it expired, and with no id that none is pending."""
    before = steady(bridged)
    guarded = {"KVMTUI_RUN_DIR": str(run)}
    first = kvmtui_in(bridged, *PLAN, "--yes", "--confirm", str(TIMEOUT), env=guarded)
    assert first.returncode == 0, first.stderr
    guard_id = re.search(r"^guard: ([0-9a-f]{8})$", first.stdout, re.M).group(1)
    pending = journals(run)[0]
    assert pending["id"] == guard_id and pending["state"] == "pending"
    applied = undo_state(bridged)

    second = kvmtui_in(bridged, "apply", "bridge", "kt-br9", "--port", "kt-p1", "--yes", "--confirm", "30",
                       env=guarded)
    refused(second, f"kt-p1 is under guard {guard_id}", "nothing changed")
    unguarded = kvmtui_in(bridged, "apply", "bridge", "kt-br9", "--port", "kt-p2", "--yes", env=guarded)
    refused(unguarded, f"kt-p2 is under guard {guard_id}", "nothing changed")
    for verb in ("confirm", "revert"):
        refused(kvmtui_in(bridged, "--readonly", verb, guard_id, env=guarded), "read-only")
    assert len(journals(run)) == 1 and journals(run)[0]["state"] == "pending"
    now = undo_state(bridged)
    assert now == applied, changes(applied, now)

    ended = wait_journal(run, lambda j: j["state"] == "reverted", "the revert",
                         pending["deadline"] - boottime() + MARGIN + 5)
    assert_reverted_on_time(ended, pending, f"not kept within {TIMEOUT} s")
    after = settled(bridged, before)
    assert after == before, changes(before, after)

    refused(kvmtui_in(bridged, "confirm", guard_id, env=guarded), f"guard {guard_id}", "expired", "nothing to keep")
    refused(kvmtui_in(bridged, "confirm", env=guarded), "no guard is pending")
    again = undo_state(bridged)
    assert again == before, changes(before, again)
