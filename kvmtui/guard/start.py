"""A guarded apply: the journal is written and the guard is running before the first
step, each step is journalled as it runs, and once the change is verified the guard's
countdown starts. Whatever happens to this process from then on, the guard reverts the
change unless someone keeps it."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from kvmtui.collect.netns import netns_identity
from kvmtui.errors import KvmtuiError
from kvmtui.guard import journal
from kvmtui.guard.control import conflict, wake
from kvmtui.guard.journal import APPLYING, PENDING, ROLLED_BACK, GuardRecord
from kvmtui.guard.probes import probe_targets
from kvmtui.model import Snapshot
from kvmtui.plan.model import Plan
from kvmtui.plan.restore import involved_devices, involved_domains, restored_expectations

DEFAULT_SECONDS, MIN_SECONDS, MAX_SECONDS = 60, 10, 3600
READY_TIMEOUT = 15.0  # seconds the guard may take to start and probe before nothing is applied
NM_MARGIN = 30  # seconds NetworkManager's checkpoint outlives the countdown: the apply's own time


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """`seconds`: the countdown; None: no guard (either nothing asked for one, or --no-confirm)."""

    seconds: int | None
    forced: bool = False  # --confirm N: on for any plan
    refused: bool = False  # --no-confirm on a plan that needed one


def guard_policy(at_risk: bool, confirm: int | None, no_confirm: bool) -> GuardPolicy:
    if no_confirm:
        return GuardPolicy(None, refused=at_risk)
    if confirm is not None:
        return GuardPolicy(confirm, forced=True)
    return GuardPolicy(DEFAULT_SECONDS if at_risk else None)


def parse_seconds(text: str) -> int:
    """--confirm's value: whole seconds from 10 to 3600, or one sentence why not."""
    try:
        seconds = int(text)
    except (TypeError, ValueError):
        raise KvmtuiError(f"--confirm: {text!r} is not a whole number of seconds "
                          f"({MIN_SECONDS}-{MAX_SECONDS}); nothing changed") from None
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise KvmtuiError(f"--confirm: {seconds} s is outside {MIN_SECONDS}-{MAX_SECONDS} s "
                          "(the time you get to confirm the change); nothing changed")
    return seconds


def check_unguarded(plan: Plan, netns: str | None) -> None:
    """Any apply, guarded or not, keeps off what an open guard holds."""
    conflict(involved_devices(plan), involved_domains(plan), netns)


def begin(plan: Plan, before: Snapshot, seconds: int, netns: str | None, uri: str | None,
          ssh: str | None) -> GuardRecord:
    """Journal the plan and start its guard; raises (nothing applied) when that fails."""
    from kvmtui.apply.backend import refuse_if_readonly

    refuse_if_readonly()
    devices, domains = involved_devices(plan), involved_domains(plan)
    try:
        journal.prune()
        return _begin(plan, before, seconds, netns, uri, ssh, devices, domains)
    except OSError as exc:  # /run read-only or full, not root: no journal, so no guard and no change
        raise KvmtuiError(f"cannot keep the guard's journal in {journal.guard_dir()}: "
                          f"{exc.strerror or exc}; nothing changed") from None


def _begin(plan: Plan, before: Snapshot, seconds: int, netns: str | None, uri: str | None, ssh: str | None,
           devices: tuple[str, ...], domains: tuple[str, ...]) -> GuardRecord:
    from kvmtui.plan.expect import expectation_to_data

    with journal.start_lock():
        conflict(devices, domains, netns)
        record = GuardRecord(
            id=journal.new_id(), title=plan.title, state=APPLYING,
            steps=tuple(step.to_data() for step in plan.steps),
            restore=tuple(expectation_to_data(e) for e in restored_expectations(plan, before)),
            timeout=seconds, netns=netns, netns_id=netns_identity(netns), uri=uri, touches_libvirt=plan.touches_libvirt,
            devices=devices, domains=domains, ssh=ssh,
            probes=tuple(p.to_data() for p in probe_targets(before, ssh)),
            created=time.time(), owner_pid=os.getpid(), boot_id=journal.boot_id())
        journal.write(record)
    checkpoint = None
    try:
        checkpoint, nm_devices = _nm_checkpoint(devices, netns, seconds)
        if checkpoint:
            journal.set_fields(record.id, nm_checkpoint=checkpoint, nm_devices=nm_devices)
        _spawn(record.id)
    except BaseException:
        journal.remove(record.id)
        if checkpoint:
            from kvmtui.apply.nm_checkpoint import destroy_checkpoint

            destroy_checkpoint(checkpoint)
        raise
    return journal.read(record.id) or record


def _nm_checkpoint(devices: tuple[str, ...], netns: str | None,
                   seconds: int) -> tuple[str | None, tuple[tuple[str, str, str], ...]]:
    """Where NetworkManager manages a device the plan touches, NM would fight a revert it
    did not make: it gets a checkpoint of its own, rolled back with the guard's revert. Its
    timeout leaves room for the apply itself; NM rolls back alone if everything else died.
    (checkpoint path, (name, device path, profile path) of the devices it covers)."""
    from kvmtui.apply.nm_checkpoint import create_checkpoint, managed

    found = managed(devices, netns)
    if not found:
        return None, ()
    checkpoint = create_checkpoint(tuple(device for device, _profile in found.values()), seconds + NM_MARGIN)
    return checkpoint, tuple((name, device, profile) for name, (device, profile) in found.items())


def _spawn(guard_id: str) -> None:
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    log = os.open(journal.guard_dir() / f"{guard_id}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        starter = subprocess.Popen([sys.executable, "-m", "kvmtui.guard", guard_id, str(write_fd)],
                                   pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=log, start_new_session=True, close_fds=True)
    finally:
        os.close(write_fd)
        os.close(log)
    try:
        starter.wait(READY_TIMEOUT)  # it forks the guard off and ends at once
        answer = b""
        if select.select([read_fd], [], [], READY_TIMEOUT)[0]:
            answer = os.read(read_fd, 16)
    finally:
        os.close(read_fd)
    if answer != b"ready\n":
        raise KvmtuiError(f"the guard did not start (see {journal.guard_dir() / guard_id}.log); nothing changed")


def journalled(guard_id: str, progress: Callable) -> Callable:
    """The executor's progress, also written to the journal: the guard (or a later kvmtui)
    knows which steps ran if this process dies."""
    def each(number: int, step, state: str) -> None:
        if state == "running":
            journal.set_fields(guard_id, running=number)
        elif state == "done":
            journal.set_fields(guard_id, done=number, running=0)
        elif state in ("undone", "gone"):
            journal.update(guard_id, lambda r: replace(r, undone=r.undone + (number,))
                           if number not in r.undone else None)
        progress(number, step, state)
    return each


def arm(guard_id: str) -> GuardRecord | None:
    """The change is verified: the countdown starts now."""
    def armed(record: GuardRecord) -> GuardRecord:
        now = journal.boottime()
        return replace(record, state=PENDING, running=0, deadline=now + record.timeout,
                       deadline_wall=time.time() + record.timeout)
    record = journal.update(guard_id, armed)
    if record is not None:
        wake(record)
    return record


def stand_down(guard_id: str, summary: str) -> None:
    """The apply failed and undid itself: nothing left for the guard."""
    record = journal.set_fields(guard_id, state=ROLLED_BACK, reason=summary, ended=time.time())
    if record is not None:
        wake(record)


def apply_guarded(executor, plan: Plan, before: Snapshot, seconds: int, ssh: str | None,
                  progress: Callable | None = None, saved=None):
    """(ApplyReport, the journal after it): counting down after a success, ended otherwise.
    `saved`: the configuration files to write when the change is kept (persist.saved)."""
    record = begin(plan, before, seconds, executor.netns, executor.uri, ssh)
    if saved is not None:
        record = journal.set_fields(record.id, saved=saved.to_data()) or record
    try:
        report = executor.apply(plan, journalled(record.id, progress or (lambda *_: None)))
    except BaseException as exc:  # the executor undid what it ran before this reached here
        stand_down(record.id, f"stopped: {exc or type(exc).__name__}")
        raise
    if not report.ok:
        stand_down(record.id, report.summary())
        return report, journal.read(record.id)
    return report, arm(record.id)
