"""Undo a guarded change from its journal, in whatever process holds it: the guard on its
timer, or a later kvmtui when the guard itself died. The same inverses a failed step
uses, in reverse; then the host is re-read and checked against what it was before."""

from __future__ import annotations

import time
from dataclasses import replace

from kvmtui.guard import journal
from kvmtui.guard.journal import APPLYING, PENDING, REVERTED, REVERTING, GuardRecord


def steps_to_undo(record: GuardRecord):
    """The steps that ran (or may have: the one in flight when its kvmtui died), less those
    the applying kvmtui undid itself; and which of them is the unsure one."""
    from kvmtui.plan.steps import step_from_data

    ran = max(record.done, record.running)
    steps = [step_from_data(data) for number, data in enumerate(record.steps[:ran], 1) if number not in record.undone]
    unsure = steps[-1] if record.running > record.done and record.running not in record.undone and steps else None
    return tuple(steps), unsure


def revert(guard_id: str, reason: str, allowed: tuple[str, ...] = (APPLYING, PENDING)) -> GuardRecord | None:
    """Revert unless someone kept it first (the journal's lock decides who was first).
    Returns the journal afterwards; None when there is none."""
    from kvmtui.apply import Executor
    from kvmtui.plan.expect import expectation_from_data

    with journal.revert_lock():  # two reverts never run at once, so never over the same devices
        record = journal.update(guard_id, lambda r: replace(r, state=REVERTING, reason=reason)
                                if r.state in allowed else None)
        if record is None or record.state != REVERTING:
            return record
        lines: list[str] = []
        restored_at = None
        try:
            nm_restored = _nm_rollback(record, lines)
            steps, unsure = steps_to_undo(record)
            steps = tuple(step for step in steps if step.target not in nm_restored)
            executor = Executor(record.netns, record.uri)
            undone, errors, gone = executor.undo(steps, unsure=unsure if unsure in steps else None)
            restored_at = journal.boottime()
            lines.append(f"undid {len(undone)} step(s)" + "".join(f"; {name} is gone: nothing to undo" for name in gone))
            lines += [f"could NOT undo: {error}" for error in errors]
            expectations = tuple(expectation_from_data(data) for data in record.restore)
            _snapshot, unmet, waiting = executor.verify(expectations, record.touches_libvirt)
            lines += [f"not as before: {text}" for text in unmet]
            lines += [f"waiting for the guest: {text}" for text in waiting]
            if not errors and not unmet and not waiting:  # a NIC still in the guest is not as before yet
                lines.append("re-read the host: as it was before the change")
        except Exception as exc:  # noqa: BLE001 - recorded: the journal must not stay "reverting"
            lines.append(f"the revert failed: {exc or type(exc).__name__}")
        return journal.set_fields(guard_id, state=REVERTED, outcome=tuple(lines), ended=time.time(),
                                  restored_at=restored_at)


def _nm_rollback(record: GuardRecord, lines: list[str]) -> set[str]:
    """First NetworkManager puts back the devices it manages, its own way: the checkpoint,
    then the profiles of the devices it could not (one deleted under NM is gone from its
    checkpoint). What NM restored is not kvmtui's to undo: its inverses would fight NM."""
    if not record.nm_checkpoint:
        return set()
    from kvmtui.apply.nm_checkpoint import reactivate, rollback

    summary, paths = rollback(record.nm_checkpoint)
    lines.append(summary)
    restored = {name for name, device, _profile in record.nm_devices if device in paths}
    again = tuple((name, profile) for name, _device, profile in record.nm_devices if name not in restored and profile)
    if again:
        said, activated = reactivate(again)
        lines.extend(said)
        restored |= set(activated)
        _until_present(record.netns, activated)  # the steps of their ports need them
    return restored


def _until_present(netns: str | None, names: tuple[str, ...], seconds: float = 10.0) -> None:
    from pyroute2 import IPRoute

    from kvmtui.collect.netns import run_in_netns

    def missing() -> list[str]:
        with IPRoute() as ipr:
            return [name for name in names if not ipr.link_lookup(ifname=name)]

    deadline = time.monotonic() + seconds
    while names and run_in_netns(netns, missing) and time.monotonic() < deadline:
        time.sleep(0.05)


def fully_restored(record: GuardRecord) -> bool:
    return record.state == REVERTED and not any(
        line.startswith(("could NOT", "not as before", "the revert failed")) for line in record.outcome)
