"""The only code that changes the host: the transaction.

Runs a Plan step by step, each by the backend it names (kernel.py: pyroute2; libvirt.py:
a read-write libvirt connection); on a failed step it runs the inverses of the completed
steps in reverse; after success it re-reads the host and checks the plan's expectations,
rolling back if they do not hold. In a read-only process it refuses before touching
anything, whatever its caller says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kvmtui.apply.backend import Backend, ReadOnlyRefused, refuse_if_readonly
from kvmtui.apply.kernel import KernelBackend, LinkGone
from kvmtui.apply.libvirt import LibvirtBackend
from kvmtui.apply.ovs import OvsBackend
from kvmtui.model import Domain, Snapshot
from kvmtui.plan.expect import Expectation, GuestNic
from kvmtui.plan.model import Plan
from kvmtui.plan.steps import Step

DETACH_GRACE = 10.0  # seconds a guest OS gets to release a device detached from it live
Progress = Callable[[int, Step, str], None]  # step number, step, "running" | "done" | "failed" | "undone" | "gone"


@dataclass(frozen=True, slots=True)
class ApplyReport:
    ok: bool
    applied: tuple[Step, ...]
    failed: Step | None = None
    error: str | None = None
    undone: tuple[Step, ...] = ()
    undo_errors: tuple[str, ...] = ()
    unmet: tuple[str, ...] = ()  # expectations that did not hold after all steps ran
    snapshot: Snapshot | None = None  # the host as re-read after a success
    interrupted: bool = False  # Ctrl-C or SIGTERM stopped it; the completed steps were undone
    waiting: tuple[str, ...] = ()  # live detaches the guest's OS has not completed yet
    gone: tuple[str, ...] = ()  # devices someone else deleted meanwhile: their inverses had nothing to undo

    def summary(self) -> str:
        if self.ok and self.waiting:
            return (f"applied {len(self.applied)} step(s); waiting for the guest: {'; '.join(self.waiting)} "
                    "(its OS must release the NIC, then libvirt removes it; see `virsh domiflist`)")
        if self.ok:
            return f"applied {len(self.applied)} step(s) and verified the result"
        if self.failed:
            cause = f"{self.error} at step {self.failed.command!r}" if self.interrupted else \
                f"step {self.failed.command!r} failed: {self.error}"
        elif self.error:
            cause = f"stopped {self.error}"
        else:
            cause = "verification failed: " + "; ".join(self.unmet)
        undo = f"; undid {len(self.undone)} step(s)" + "".join(f"; {name} is gone: nothing to undo" for name in self.gone)
        return cause + undo + (f"; could NOT undo: {'; '.join(self.undo_errors)}" if self.undo_errors else "")


class Executor:
    """`before_step` is called before each step runs; tests use it to make a chosen step fail.
    `readonly` can only add a refusal: a read-only process is refused whatever it says."""

    def __init__(self, netns: str | None, uri: str | None, readonly: bool = False,
                 before_step: Callable[[int, Step], None] | None = None):
        self.netns, self.uri, self.readonly, self.before_step = netns, uri, readonly, before_step
        self.backends: dict[str, Backend] = {}

    def apply(self, plan: Plan, progress: Progress | None = None) -> ApplyReport:
        """Whatever stops the run half-way - a failed step, an exception in `progress` or
        `before_step`, Ctrl-C, a re-read that fails - undoes the completed steps first.
        Ctrl-C is then reported (`interrupted`); other BaseExceptions are raised again."""
        if self.readonly:
            raise ReadOnlyRefused()
        refuse_if_readonly()
        progress = progress or (lambda *_: None)
        self.backends = self.new_backends()  # fresh: what a backend remembers is of this run only
        done: list[Step] = []
        number, step = 0, None
        try:
            for number, step in enumerate(plan.steps, 1):
                progress(number, step, "running")
                if self.before_step is not None:
                    self.before_step(number, step)
                self._run(step)
                done.append(step)
                progress(number, step, "done")
            number, step = 0, None
            snapshot, unmet, waiting = self.verify(plan.expectations, plan.touches_libvirt)
        except BaseException as exc:  # noqa: BLE001 - anything that stops the run means: roll back
            failed = step if step is not None and len(done) < number else None
            if failed is not None:
                _quietly(progress, number, failed, "failed")
            undone, errors, gone = self._undo(done, progress)
            if not isinstance(exc, Exception | KeyboardInterrupt):
                raise
            interrupted = isinstance(exc, KeyboardInterrupt)
            reason = f"interrupted ({str(exc) or 'Ctrl-C'})" if interrupted else _reason(exc)  # or SIGTERM (cli_plan)
            if failed is None:
                reason = f"after step {number}: {reason}" if step is not None else f"while re-reading the host: {reason}"
            return ApplyReport(False, tuple(done), failed, reason, undone, errors, interrupted=interrupted, gone=gone)
        if unmet:
            undone, errors, gone = self._undo(done, progress)
            return ApplyReport(False, tuple(done), None, None, undone, errors, unmet, gone=gone)
        return ApplyReport(True, tuple(done), snapshot=snapshot, waiting=waiting)

    def undo(self, done: tuple[Step, ...], progress: Progress | None = None,
             unsure: Step | None = None) -> tuple[tuple[Step, ...], tuple[str, ...], tuple[str, ...]]:
        """Undo steps that ran in another process (a guard reverting a plan from its journal):
        (undone, errors, gone). `unsure` is the last of them, which may or may not have run
        (its process died during it): its inverse is tried, and a failure of it is no error."""
        if self.readonly:
            raise ReadOnlyRefused()
        refuse_if_readonly()
        self.backends = self.new_backends()
        return self._undo(list(done), progress or (lambda *_: None), unsure)

    def _undo(self, done: list[Step], progress: Progress,
              unsure: Step | None = None) -> tuple[tuple[Step, ...], tuple[str, ...], tuple[str, ...]]:
        """Every inverse is tried, in reverse order; one that fails (or is interrupted) is
        reported and the rest still run. One whose device someone else deleted meanwhile
        is done, not failed: nothing of that device is left to undo (returned as gone)."""
        undone, errors, gone = [], [], {}
        for number, step in reversed(list(enumerate(done, 1))):
            if step.inverse is None or step.inverse.does_nothing:
                continue
            for part in (step.inverse, *step.inverse.then):  # the `then` steps need the inverse
                try:
                    self._run(part)
                except BaseException as exc:  # noqa: BLE001 - keep undoing the rest, report this one
                    if step is unsure:  # it had not run (or not completely): nothing of it to undo
                        break
                    if self.backends[part.backend].gone(part, exc):
                        gone[part.target] = True
                        _quietly(progress, number, part, "gone")
                        continue
                    errors.append(f"{part.command}: {_reason(exc)}")
                    if part is step.inverse:
                        errors += [f"{after.command}: not tried" for after in step.inverse.then]
                        break
                    continue
                undone.append(part)
                _quietly(progress, number, part, "undone")
        return tuple(undone), tuple(errors), tuple(gone)

    def verify(self, expectations: tuple[Expectation, ...],
               with_libvirt: bool) -> tuple[Snapshot, tuple[str, ...], tuple[str, ...]]:
        """Re-read the host and check what must hold: (snapshot, unmet, waiting).
        A live detach is only a request to the guest, whose OS releases the device a
        moment later: while nothing but such removals is pending, read again for up to
        DETACH_GRACE seconds. One still pending then is `waiting`, not a failure: the
        NIC is still in the guest, so re-attaching it (the rollback) could not work."""
        deadline = time.monotonic() + DETACH_GRACE
        while True:
            snapshot = self._reread(with_libvirt)
            pending = [(e, u) for e in expectations if (u := e.unmet(snapshot, self._read_config)) is not None]
            only_guests = all(_awaits_guest(e) for e, _ in pending)
            if not pending or not only_guests:
                return snapshot, tuple(u for _, u in pending), ()
            if time.monotonic() >= deadline:
                return snapshot, (), tuple(u for _, u in pending)
            time.sleep(0.5)

    def _reread(self, with_libvirt: bool) -> Snapshot:
        from kvmtui.collect.snapshot import collect_snapshot

        return collect_snapshot(netns=self.netns, uri=self.uri, with_libvirt=with_libvirt)

    def _read_config(self, domain: str) -> Domain | None:
        from kvmtui.collect.libvirt import read_inactive_domain

        return read_inactive_domain(self.uri, domain)

    def new_backends(self) -> dict[str, Backend]:
        """The backends a step can name (Step.backend) -> the one that runs it."""
        return {"kernel": KernelBackend(self.netns), "libvirt": LibvirtBackend(self.uri), "ovs": OvsBackend()}

    def _run(self, step: Step) -> None:
        self.backends[step.backend].run(step)


def _quietly(progress: Progress, number: int, step: Step, state: str) -> None:
    """Progress during a rollback: nothing it raises may stop the undoing."""
    try:
        progress(number, step, state)
    except BaseException:  # noqa: BLE001, S110 - a closed terminal or a second Ctrl-C
        pass


def _awaits_guest(expectation: object) -> bool:
    return isinstance(expectation, GuestNic) and expectation.live and not expectation.present


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


__all__ = ["DETACH_GRACE", "ApplyReport", "Backend", "Executor", "KernelBackend", "LibvirtBackend", "LinkGone",
           "Progress", "ReadOnlyRefused"]
