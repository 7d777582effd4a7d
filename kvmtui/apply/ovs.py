"""The Open vSwitch backend: runs an OVS step as its `ovs-vsctl` line, against the database
the collector reads (collect/ovs.py: $OVS_RUNDIR, else /var/run/openvswitch).

ovs-vsctl commits the change to the database, then waits until ovs-vswitchd has applied
it; `--timeout` bounds the whole and a subprocess timeout a tool that hangs regardless. A
step that timed out may be committed all the same (vswitchd hung or stopped): its inverse
is then run without waiting (`--no-wait`, the database alone), so that a failed step
leaves the database as it was, as the transaction expects of every failed step."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping

from kvmtui.apply.backend import refuse_if_readonly
from kvmtui.errors import KvmtuiError
from kvmtui.plan import steps as s
from kvmtui.plan.steps.ovs import OVS_STEPS

TIMEOUT = 10  # seconds ovs-vsctl waits for the database and for ovs-vswitchd (--timeout)
KILL_AFTER = 15.0  # seconds before an ovs-vsctl that ignored its own timeout is killed


class OvsRefused(KvmtuiError):
    """Open vSwitch refused a step, or did not answer: in ovs-vsctl's words, without its name."""


class _TimedOut(Exception):
    pass


class OvsBackend:
    def __init__(self, environ: Mapping[str, str] | None = None):
        self.environ = environ  # None: this process's, as the collector reads it

    def run(self, step: s.Step) -> None:
        refuse_if_readonly()
        if not isinstance(step, OVS_STEPS):
            raise KvmtuiError(f"the Open vSwitch backend does not run {step.action} steps")
        try:
            self._vsctl(step.argv)
        except _TimedOut:
            raise OvsRefused(self._taken_back(step)) from None

    def gone(self, step: s.Step, exc: BaseException) -> bool:
        """Deletes carry --if-exists: one whose bridge or port is gone already succeeds. An
        add that fails (its bridge deleted meanwhile) could not put the port back: a failure."""
        return False

    def _taken_back(self, step: s.Step) -> str:
        """After a timeout: the step's inverse in the database alone; what the user reads."""
        unconfirmed = f"Open vSwitch did not confirm the change within {TIMEOUT} s (is ovs-vswitchd running?)"
        if step.inverse is None:  # an inverse itself, in an undo
            return f"{unconfirmed}: the change may be in its database all the same"
        try:
            self._vsctl(("--no-wait", *step.inverse.argv))
        except (_TimedOut, OvsRefused):
            return f"{unconfirmed}, nor its undoing: the change may be in its database all the same"
        return f"{unconfirmed}: it was taken back out of the database"

    def _vsctl(self, args: tuple[str, ...]) -> None:
        from kvmtui.collect.ovs import db_socket

        environ = os.environ if self.environ is None else self.environ
        argv = ["ovs-vsctl", f"--timeout={TIMEOUT}", f"--db=unix:{db_socket(environ)}", *args]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=KILL_AFTER, env=dict(environ))
        except subprocess.TimeoutExpired:
            raise _TimedOut() from None
        except FileNotFoundError:
            raise OvsRefused("ovs-vsctl is not installed here") from None
        if done.returncode in (-signal.SIGALRM, 128 + signal.SIGALRM) or "timeout after" in done.stderr:
            raise _TimedOut()  # --timeout is an alarm: "terminating with signal 14 (Alarm clock)"
        if done.returncode != 0:
            raise OvsRefused(_sentence(done.stderr, done.returncode))


def _sentence(stderr: str, code: int) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return f"ovs-vsctl exited with status {code}"
    text = lines[-1].removeprefix("ovs-vsctl: ")
    if "database connection failed" in text:
        return f"cannot reach the Open vSwitch database ({text}): is ovsdb-server running?"
    return text
