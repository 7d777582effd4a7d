"""An apply that is stopped half-way - Ctrl-C, a hang-up, a verification that cannot
run, a closed pipe - leaves the namespace as it was, or finishes; never half-done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass, replace

import pytest

from kvmtui.apply import Executor
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.kinds import CreateBridge, make_plan
from tests.helpers import REPO
from tests.states import host_state
from tests.helpers import links


def test_ctrl_c_at_any_step_leaves_the_host_as_it_was(uplink_ns):  # noqa: F811
    """KeyboardInterrupt raised by the before_step hook at step N: steps 1..N-1 ran for
    real and are undone for real; the report says it was interrupted."""
    ns = uplink_ns
    before = host_state(ns)
    plan = make_plan(CreateBridge("kt-br0", ("kt-up", "kt-p1"), True, 3, None, "kt-up"),
                     collect_snapshot(netns=ns, with_libvirt=False))
    assert len(plan.steps) >= 8
    for stopped in range(1, len(plan.steps) + 1):
        def interrupt(number, step, stopped=stopped):
            if number == stopped:
                raise KeyboardInterrupt

        report = Executor(ns, None, readonly=False, before_step=interrupt).apply(plan)
        assert not report.ok and report.interrupted and not report.undo_errors
        assert report.failed == plan.steps[stopped - 1] and "interrupted (Ctrl-C)" in report.summary()
        assert host_state(ns) == before, f"host changed after Ctrl-C at step {stopped}: {plan.steps[stopped - 1].command}"


def test_ctrl_c_after_the_last_step_undoes_it_too(uplink_ns):  # noqa: F811
    """The progress callback runs inside the rollback's reach: an interrupt while the
    last step is reported done still undoes every step."""
    ns = uplink_ns
    before = host_state(ns)
    plan = make_plan(CreateBridge("kt-br0", ("kt-p1",)), collect_snapshot(netns=ns, with_libvirt=False))

    def progress(number, step, state):
        if number == len(plan.steps) and state == "done":
            raise KeyboardInterrupt

    report = Executor(ns, None, readonly=False).apply(plan, progress)
    assert not report.ok and report.interrupted and report.failed is None and not report.undo_errors
    assert report.summary().startswith(f"stopped after step {len(plan.steps)}: interrupted (Ctrl-C); undid")
    assert host_state(ns) == before


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An expectation whose check raises: it stands for a re-read of the host that fails
    after every step succeeded (netlink or libvirt gone away)."""

    def unmet(self, snapshot, read_config):
        raise OSError("the re-read failed")


def test_a_failing_verification_rolls_back(uplink_ns):  # noqa: F811
    ns = uplink_ns
    before = host_state(ns)
    plan = make_plan(CreateBridge("kt-br0", ("kt-p1",)), collect_snapshot(netns=ns, with_libvirt=False))
    report = Executor(ns, None, readonly=False).apply(replace(plan, expectations=(Unreadable(),)))
    assert not report.ok and len(report.undone) == len(plan.steps) and not report.undo_errors
    assert report.summary().startswith("stopped while re-reading the host: the re-read failed; undid")
    assert host_state(ns) == before


def run_cli(ns: str, signal_at: int, signum: int, *args: str) -> subprocess.CompletedProcess:
    """`kvmtui apply` in a child process that sends itself a real signal just before step
    `signal_at` (through the executor's test hook); prints the handlers it ends with."""
    return run_cli_hooked(ns, f"if number == {signal_at}: os.kill(os.getpid(), {int(signum)})", *args)


def run_cli_hooked(ns: str, hook: str, *args: str) -> subprocess.CompletedProcess:
    """`kvmtui apply` in a child process that runs `hook` (Python, with `number` and `step`)
    before each step; prints whether SIGHUP, SIGINT and SIGTERM have their handlers back."""
    code = textwrap.dedent(f"""
        import functools, os, signal, subprocess, sys
        from kvmtui import apply, cli

        def hook(number, step):
            {hook}

        apply.Executor = functools.partial(apply.Executor, before_step=hook)
        code = cli.main({["--netns", ns, "--no-libvirt", "apply", "--yes", *args]!r})
        print("handlers", signal.getsignal(signal.SIGHUP) == signal.SIG_DFL,
              signal.getsignal(signal.SIGINT) == signal.default_int_handler,
              signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, file=sys.stderr)
        sys.exit(code)
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)


def test_a_hang_up_does_not_stop_an_apply(uplink_ns):  # noqa: F811
    """SIGHUP (the SSH connection dropped) arrives at step 2: the apply finishes anyway."""
    proc = run_cli(uplink_ns, 2, signal.SIGHUP, "bridge", "kt-br0", "--port", "kt-p1", "--port", "kt-p2")
    assert proc.returncode == 0, proc.stderr
    assert links(uplink_ns)["kt-p2"]["master"] == "kt-br0"
    assert "handlers True True" in proc.stderr  # put back afterwards


def test_ctrl_c_in_the_cli_rolls_back_with_exit_3(uplink_ns):  # noqa: F811
    """A real SIGINT during step 3: the step finishes, the rest do not run, all is undone."""
    ns = uplink_ns
    before = host_state(ns)
    proc = run_cli(ns, 3, signal.SIGINT, "bridge", "kt-br0", "--port", "kt-p1", "--port", "kt-p2")
    assert proc.returncode == 3, proc.stderr
    assert "interrupted (Ctrl-C)" in proc.stderr and "undid" in proc.stderr and "Traceback" not in proc.stderr
    assert "handlers True True" in proc.stderr
    assert host_state(ns) == before


@pytest.mark.parametrize("step", [3, 6, 10])
def test_sigterm_in_the_cli_rolls_back_with_exit_3(uplink_ns, step):  # noqa: F811
    """`timeout`, `systemctl stop` or a container stop sends SIGTERM during the move of
    kt-up's address and routes to a new bridge: as with Ctrl-C, the step under way
    finishes, the rest do not run, and all is undone; nothing is left half-moved."""
    ns = uplink_ns
    before = host_state(ns)
    argv = ("bridge", "kt-br0", "--port", "kt-up", "--move-ip-from", "kt-up")
    proc = run_cli(ns, step, signal.SIGTERM, *argv)
    assert proc.returncode == 3, proc.stderr
    summary = proc.stderr.splitlines()[-2]
    assert summary.startswith("kvmtui: ") and "interrupted (SIGTERM)" in summary and "undid" in summary, proc.stderr
    assert "Traceback" not in proc.stderr and "handlers True True True" in proc.stderr
    assert host_state(ns) == before, f"host changed after SIGTERM at step {step}"


@pytest.mark.parametrize("deleted_before", [5, 6])
def test_a_port_deleted_meanwhile_is_nothing_to_undo(uplink_ns, deleted_before):  # noqa: F811
    """Someone deletes kt-p1 after it joined the bridge: before step 5 (which sets kt-p1
    up, and fails) or step 6 (the verification finds it missing). The rollback cannot
    take a port out of the bridge that no longer exists, and need not: exit 3, the
    report says kt-p1 is gone, and the host is as before but for kt-p1 (and its peer)."""
    ns = uplink_ns
    before = host_state(ns)
    proc = run_cli_hooked(ns, f"if number == {deleted_before}: subprocess.run(['ip', '-n', {ns!r}, 'link', 'del', "
                          "'kt-p1'], check=True)", "bridge", "kt-br0", "--port", "kt-p1", "--port", "kt-p2")
    assert proc.returncode == 3, proc.stderr
    summary = proc.stderr.splitlines()[-2]
    assert summary.endswith("; kt-p1 is gone: nothing to undo") and "could NOT" not in summary, proc.stderr
    assert "  [2/6] gone    ip link set kt-p1 nomaster" in proc.stderr.splitlines()
    gone = ("kt-p1", "kt-q1")  # a veth goes with its peer
    expected = {table: [entry for entry in entries if entry.get("ifname") not in gone]
                for table, entries in before.items()}
    assert host_state(ns) == expected


def kvmtui_piped(*args: str, stream: str) -> subprocess.CompletedProcess:
    """kvmtui with stdout or stderr on a pipe nobody reads any more: every write is EPIPE."""
    read, write = os.pipe()
    os.close(read)
    try:
        other = subprocess.PIPE
        return subprocess.run([sys.executable, "-m", "kvmtui", *args], text=True, timeout=60, cwd=REPO,
                              stdout=write if stream == "stdout" else other,
                              stderr=write if stream == "stderr" else other)
    finally:
        os.close(write)


def test_output_cut_short_exit_codes(uplink_ns):  # noqa: F811
    """`| head` on dump --json or audit is what was asked for (0); a plan that could not be
    shown, or an apply whose confirmation could not be shown, did nothing (1)."""
    example = str(REPO / "examples" / "kvm-host.json")
    for args in (("dump", "--json"), ("audit",)):
        cut = kvmtui_piped("--from", example, *args, stream="stdout")
        assert (cut.returncode, cut.stderr.strip()) == (0, ""), args
    plan = kvmtui_piped("--from", example, "plan", "delete", "bond0.100", stream="stdout")
    assert (plan.returncode, plan.stderr.strip()) == (1, "")
    before = host_state(uplink_ns)
    apply = kvmtui_piped("--netns", uplink_ns, "--no-libvirt", "apply", "--yes", "bridge", "kt-br0", "--port", "kt-p1",
                         stream="stdout")
    assert apply.returncode == 1 and "Traceback" not in apply.stderr
    assert host_state(uplink_ns) == before


def test_a_closed_stderr_does_not_stop_an_apply(uplink_ns):  # noqa: F811
    """The progress lines go to a dead pipe: the apply runs to the end and says so on stdout."""
    proc = kvmtui_piped("--netns", uplink_ns, "--no-libvirt", "apply", "--yes", "bridge", "kt-br0", "--port", "kt-p1",
                        stream="stderr")
    assert proc.returncode == 0
    assert "applied" in proc.stdout.splitlines()[-1]
    assert links(uplink_ns)["kt-p1"]["master"] == "kt-br0"
