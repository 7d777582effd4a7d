"""What other kvmtui processes do to a guard: find it, keep its change, have it reverted
now, and tell which devices are under one. Read-only processes may look, never act."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from datetime import datetime

from kvmtui.collect.netns import netns_identity, netns_name
from kvmtui.errors import KvmtuiError
from kvmtui.guard import journal
from kvmtui.guard.journal import APPLYING, DISCARDED, KEPT, PENDING, REVERTED, REVERTING, ROLLED_BACK, GuardRecord


class GuardError(KvmtuiError):
    """No such guard, it has ended, or it cannot do that now: one sentence."""


class GuardConflict(GuardError):
    def __init__(self, record: GuardRecord, overlap: list[str]) -> None:
        super().__init__(f"{', '.join(overlap)} {'is' if len(overlap) == 1 else 'are'} under guard {record.id} "
                         f"({record.title}, {describe_state(record)}): keep it (`kvmtui confirm {record.id}`) "
                         f"or revert it (`kvmtui revert {record.id}`) first; nothing changed")
        self.record = record


def open_guards() -> list[GuardRecord]:
    """Guards that still hold a change undecided: counting down, applying, or orphaned."""
    return [r for r in journal.records()[0] if not r.final]


def orphaned(record: GuardRecord) -> bool:
    """Its guard died (or never started) with the change neither kept nor reverted."""
    return not record.final and not journal.alive(record.id)


def describe_state(record: GuardRecord) -> str:
    if orphaned(record):
        return "its guard died: `kvmtui revert` undoes the change, `kvmtui confirm` keeps it"
    if record.state == PENDING:
        return f"reverts in {record.seconds_left():.0f} s unless kept"
    if record.state == APPLYING:
        return f"applying, step {max(record.running, record.done)} of {len(record.steps)}"
    if record.state == REVERTING:
        return "reverting"
    when = datetime.fromtimestamp(record.ended).strftime("%H:%M:%S") if record.ended else "?"
    return f"{record.state} at {when}" + (f": {record.reason}" if record.reason else "")


def find(guard_id: str | None) -> GuardRecord:
    """The guard named, or the only open one."""
    if guard_id is not None:
        record = journal.read(guard_id)
        if record is None or record.boot_id != journal.boot_id():
            raise GuardError(f"no guard {guard_id!r} (`kvmtui guards` lists them)")
        return record
    candidates = open_guards()
    if not candidates:
        raise GuardError("no guard is pending: nothing to keep or revert")
    if len(candidates) > 1:
        raise GuardError(f"{len(candidates)} guards are pending ({', '.join(r.id for r in candidates)}): name one")
    return candidates[0]


def open_guards_in(netns: str | None) -> list[GuardRecord]:
    """The open guards of one namespace, known by its identity: a name, or none (`ip netns
    exec`, sshd living there), says too little."""
    here = netns_identity(netns)
    return [record for record in open_guards() if record.netns_id == here]


def conflict(devices: tuple[str, ...], domains: tuple[str, ...], netns: str | None) -> None:
    """Refuse a change to devices or guests an open guard holds: its revert would undo over it."""
    for record in open_guards_in(netns):
        overlap = sorted(set(devices) & set(record.devices)) + sorted(set(domains) & set(record.domains))
        if overlap:
            raise GuardConflict(record, overlap)


def revert_here(record: GuardRecord, reason: str, allowed: tuple[str, ...]) -> GuardRecord:
    """Revert a journal whose guard died, in this process: only from where its change is.
    A journal made inside a namespace (`ip netns exec`, sshd there) names none: run
    elsewhere, its inverses would change another namespace, or the host."""
    from kvmtui.guard.revert import revert

    if record.netns is None and record.netns_id and record.netns_id != netns_identity(None):
        name = netns_name(record.netns_id)
        where = f"`ip netns exec {name} kvmtui revert {record.id}`" if name else \
            "kvmtui revert from a process in that namespace"
        raise GuardError(f"guard {record.id} ({record.title}) changed another network namespace than this "
                         f"process's: run {where}; nothing changed")
    return revert(record.id, reason, allowed) or record


def wake(record: GuardRecord) -> None:
    if record.guard_pid and journal.alive(record.id):
        try:
            os.kill(record.guard_pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass


def _ended(record: GuardRecord) -> GuardError:
    if record.state == KEPT:
        return GuardError(f"guard {record.id} ({record.title}) was kept already: nothing to do")
    if record.state == REVERTED:
        return GuardError(f"guard {record.id} ({record.title}) expired: {describe_state(record)}; nothing to keep")
    if record.state == ROLLED_BACK:
        return GuardError(f"guard {record.id} ({record.title}): the apply failed and was rolled back; nothing to keep")
    return GuardError(f"guard {record.id} ({record.title}) was discarded: nothing to do")


def keep(guard_id: str | None, who: str = "kvmtui confirm") -> GuardRecord:
    """Keep the change: the guard stands down. A journal whose guard died is discarded
    (the change stays as it is, half-applied or not)."""
    from kvmtui.apply.backend import refuse_if_readonly

    refuse_if_readonly()
    record = find(guard_id)
    dead = orphaned(record)

    def kept(r: GuardRecord) -> GuardRecord | None:
        if r.state == PENDING or (dead and not r.final):
            return replace(r, state=DISCARDED if dead else KEPT, ended=time.time(),
                           reason=f"{'discarded' if dead else 'kept'} by {who}")
        return None

    after = journal.update(record.id, kept)
    if after is None or after.state not in (KEPT, DISCARDED):
        if after is not None and after.state == APPLYING:
            raise GuardError(f"guard {record.id} ({record.title}) is still applying: confirm once its countdown runs")
        if after is not None and after.state == REVERTING:
            raise GuardError(f"guard {record.id} ({record.title}) is reverting the change already: too late to keep it")
        raise _ended(after or record)
    if after.nm_checkpoint:
        from kvmtui.apply.nm_checkpoint import destroy_checkpoint

        destroy_checkpoint(after.nm_checkpoint)
    wake(after)
    if after.saved and after.state == KEPT:
        after = _write_saved(after)
    return after


def _write_saved(record: GuardRecord) -> GuardRecord:
    """Kept: now the change is written into the host's configuration, not before (a reboot
    during the countdown had to undo it too). A failed write keeps the live change."""
    from kvmtui.apply.persist_files import write_saved
    from kvmtui.persist.saved import saved_from_data

    saved = saved_from_data(record.saved)
    try:
        lines = [f"saved in {saved.backend}: {line}" for line in write_saved(saved.backend, saved.changes)]
    except KvmtuiError as exc:
        lines = [f"the change is live but NOT saved: {exc}"]
    return journal.set_fields(record.id, outcome=record.outcome + tuple(lines)) or record


def revert_now(guard_id: str | None, wait: float = 60.0) -> GuardRecord:
    """Have the guard revert now and wait for it; a journal whose guard died is reverted here."""
    from kvmtui.apply.backend import refuse_if_readonly

    refuse_if_readonly()
    record = find(guard_id)
    if record.final:
        raise _ended(record)
    if orphaned(record):
        return revert_here(record, "its guard had died: reverted by `kvmtui revert`", (APPLYING, PENDING))
    after = journal.update(record.id, lambda r: replace(r, request="revert")
                           if r.state in (APPLYING, PENDING) else None)
    if after is None:
        raise GuardError(f"no guard {record.id!r}")
    wake(after)
    deadline = time.monotonic() + wait
    while not after.final and time.monotonic() < deadline:
        time.sleep(0.05)
        after = journal.read(record.id) or after
        if not after.final and orphaned(after):  # it died meanwhile
            return revert_here(after, "its guard died: reverted by `kvmtui revert`", (APPLYING, PENDING, REVERTING))
    return after


def wait_until_ended(guard_id: str, timeout: float) -> GuardRecord | None:
    """The journal once its guard has decided (kept, reverted...), or as it is at `timeout`."""
    deadline = time.monotonic() + timeout
    record = journal.read(guard_id)
    while record is not None and not record.final and time.monotonic() < deadline:
        time.sleep(0.05)
        record = journal.read(guard_id)
    return record
