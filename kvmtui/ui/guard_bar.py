"""Pending guards in the dashboard: the bar under the status line, its keys (y keeps,
u reverts now: `n` is "new" on the main screen), and the question after the dashboard's
own guarded apply (keep_screen.py).

A guard counts down in a process of its own, whoever started it (this dashboard, or the
CLI in another SSH session), so a new kvmtui finds it in the journals. The dashboard only
shows it and asks it, through kvmtui.guard.control: the journals and their locks are read
in worker threads, which post immutable messages; the UI thread only computes the
seconds left from the deadline it was given. A recorded host (--from) shows no guards,
and --readonly shows them but refuses the keys.
"""

from __future__ import annotations

import time

from rich.markup import escape
from textual.widgets import Static

from kvmtui.errors import KvmtuiError
from kvmtui.guard.journal import APPLYING, DISCARDED, KEPT, PENDING, REVERTING, GuardRecord
from kvmtui.ui.keep_screen import KEEP, REVERT, KeepScreen, left_text, outcome_lines
from kvmtui.ui.messages import GuardActed, GuardsRead, GuardView

GUARDS, GUARD_ACTION = "guards", "guard-action"  # worker groups: the journals' poll, keep/revert
FAST = 1.0  # seconds between reads while a guard is open or awaited (its end is told promptly)
WHO = "y in the kvmtui dashboard"  # the journal's "kept by ..."


def bar_text(view: GuardView, busy: str | None, more: int) -> str:
    """One guard as the bar says it: title, what happens when, the keys, the id."""
    record = view.record
    if busy:
        state = "keeping…" if busy == KEEP else "reverting now…"
        keys = ""
    elif view.orphaned:
        state, keys = "its guard died: u reverts the change, y keeps it as it is", ""
    elif view.starting:
        state, keys = "starting its guard", ""
    elif record.state == PENDING and record.seconds_left():
        state, keys = f"reverts in {left_text(record)} unless kept", "y keep · u revert now"
    elif record.state in (PENDING, REVERTING):
        state, keys = "the guard is reverting it", ""
    elif record.state == APPLYING:
        state = f"applying, step {max(record.running, record.done)} of {len(record.steps)}"
        keys = "u revert (once applied)"
    else:
        state, keys = record.state, ""
    parts = [f"{record.title}: {state}", keys, f"guard {record.id}",
             f"+{more} more (kvmtui guards)" if more else ""]
    return " · ".join(part for part in parts if part)


def told_text(record: GuardRecord) -> str:
    return f"guard {record.id} ({record.title}): " + "\n".join(outcome_lines(record))


class GuardBar(Static):
    """Under the status line while a guard of the namespace on screen is open; hidden otherwise."""

    def on_mount(self) -> None:
        self.display = False

    def show(self, text: str | None) -> None:
        self.display = text is not None
        if text is not None:
            self.update(f"[b]GUARD[/b] {escape(text)}")


def read_guards(netns: str | None, watched: frozenset[str]) -> GuardsRead:
    """In a worker thread: the open guards of `netns`, most urgent first, and the watched
    journals that have ended since. A guard of another namespace is not this screen's."""
    from kvmtui.guard import control, journal
    from kvmtui.guard.start import READY_TIMEOUT

    views = []
    for record in control.open_guards_in(netns):
        dead = control.orphaned(record)
        starting = (dead and record.state == APPLYING and not record.guard_pid
                    and time.time() - record.created < READY_TIMEOUT)
        views.append(GuardView(record, dead and not starting, starting))
    views.sort(key=lambda v: (v.record.deadline is None, v.record.deadline or 0.0, v.record.created))
    open_ids = {v.record.id for v in views}
    ended = tuple(r for guard_id in sorted(watched - open_ids)
                  if (r := journal.read(guard_id)) is not None and r.final)
    return GuardsRead(tuple(views), ended)


class GuardWatch:
    """An object the app owns: the poll of the journals, the bar, the keys, the question."""

    def __init__(self, app) -> None:
        self.app = app
        self.views: tuple[GuardView, ...] = ()
        self.watched: frozenset[str] = frozenset()  # open when last read, or asked about here
        self.busy: dict[str, str] = {}  # guard id -> KEEP or REVERT while its worker runs
        self.told: set[str] = set()  # ended guards whose outcome was shown already
        self.modal: KeepScreen | None = None
        self.reads = 0
        self.error: str | None = None  # why the journals could not be read, last time
        self._reading = self._again = False
        self._timer = None

    def start(self) -> None:
        """A live host only: a recorded one has no guards of this host to show."""
        self.poll()
        self.app.set_interval(1.0, self.tick)

    # -- the poll ------------------------------------------------------------------------
    def poll(self) -> None:
        """Read now (after the one in flight, if any); the next read is timed when it lands."""
        if self._reading:
            self._again = True
            return
        self._reading, self._again = True, False
        app, netns = self.app, self.app.options.netns
        watched = self.watched | ({self.modal.record.id} if self.modal is not None else set())

        def read() -> None:
            try:
                found = read_guards(netns, watched)
            except (OSError, ValueError) as exc:  # an unreadable run directory: said, and read again later
                found = GuardsRead((), (), f"guards: {exc}")
            app.post_message(found)

        app.run_worker(read, thread=True, group=GUARDS, description=GUARDS, exit_on_error=False)

    def read_done(self, message: GuardsRead) -> None:
        self._reading = False
        self.reads += 1
        self.views = message.views
        self.watched = frozenset(v.record.id for v in message.views)
        for record in message.ended:
            self._ended(record)
        if self.modal is not None and not self.modal.ended:
            mine = next((v for v in message.views if v.record.id == self.modal.record.id), None)
            if mine is not None:
                self.modal.update(mine.record, mine.orphaned)
        if message.error and message.error != self.error:  # once, not every second
            self.app.notify(message.error, title="kvmtui", severity="warning")
        self.error = message.error
        self.tick()
        self._schedule()

    def worker_failed(self, group: str | None) -> None:
        """After the app has shown the error: the poll goes on; an action is over."""
        if group == GUARDS:
            self._reading = False
            self._schedule()
        elif group == GUARD_ACTION:
            self.busy.clear()
            self.tick()

    def _schedule(self) -> None:
        if self._again:
            self.poll()
            return
        if self._timer is not None:
            self._timer.stop()
        interval = self.app.options.interval
        awaited = self.views or self.busy or self.modal is not None
        self._timer = self.app.set_timer(min(FAST, interval) if awaited else interval, self.poll)

    def _ended(self, record: GuardRecord) -> None:
        """Told once: in the question when it is open on this guard, else as a notification."""
        if self.modal is not None and self.modal.record.id == record.id:
            self.modal.finish(record)
            self.told.add(record.id)
        elif record.id not in self.told and record.id not in self.busy:
            self.told.add(record.id)
            good = record.state in (KEPT, DISCARDED)
            self.app.notify(told_text(record), title="guard", severity="information" if good else "warning",
                            timeout=15)

    # -- the bar ---------------------------------------------------------------------------
    @property
    def shown(self) -> GuardView | None:
        return self.views[0] if self.views else None

    def tick(self) -> None:
        """Every second: the seconds left, from the deadlines read last (no file read here)."""
        view = self.shown
        text = bar_text(view, self.busy.get(view.record.id), len(self.views) - 1) if view else None
        for bar in self.app.query(GuardBar):  # none once the app is shutting down
            bar.show(text)

    def can_act(self) -> bool:
        """y and u act on the bar's guard from the main screen only (not under a wizard or help)."""
        return self.shown is not None and len(self.app.screen_stack) == 1

    # -- keep, revert ------------------------------------------------------------------------
    def act_on_shown(self, verb: str) -> None:
        if self.shown is not None and verb in (KEEP, REVERT):
            self.act(verb, self.shown.record)

    def act(self, verb: str, record: GuardRecord) -> None:
        """control.keep or control.revert_now in a worker (revert_now waits for the guard)."""
        app, guard_id = self.app, record.id
        if app.readonly:
            text = (f"read-only: this kvmtui cannot {verb} guard {guard_id} ({record.title}); "
                    f"`kvmtui {'confirm' if verb == KEEP else 'revert'} {guard_id}` can")
            app.notify(text, title="refused", severity="error")
            if self.modal is not None and self.modal.record.id == guard_id:
                self.modal.acted(verb, None, text)
            return
        if guard_id in self.busy:
            return
        self.busy[guard_id] = verb
        self.tick()

        def run() -> None:
            from kvmtui.guard import control

            try:
                after = control.keep(guard_id, who=WHO) if verb == KEEP else control.revert_now(guard_id)
            except KvmtuiError as exc:
                app.post_message(GuardActed(guard_id, verb, None, str(exc)))
            else:
                app.post_message(GuardActed(guard_id, verb, after))

        app.run_worker(run, thread=True, group=GUARD_ACTION, description=f"guard {verb}", exit_on_error=False)

    def acted(self, message: GuardActed) -> None:
        self.busy.pop(message.guard_id, None)
        record, modal = message.record, self.modal
        if record is not None and record.final:
            self.told.add(record.id)
        if modal is not None and modal.record.id == message.guard_id:
            if record is not None and record.state == KEPT:
                modal.dismiss(None)
                self.app.notify(told_text(record), title="guard")
            else:
                modal.acted(message.verb, record, message.error)
        elif message.error:
            self.app.notify(message.error, title="guard", severity="error", timeout=10)
        elif record is not None:
            good = record.state in (KEPT, DISCARDED)
            self.app.notify(told_text(record), title="guard", severity="information" if good else "warning",
                            timeout=15)
        self.tick()
        self.poll()

    # -- the question after this dashboard's own guarded apply ----------------------------------
    def ask(self, record: GuardRecord, summary: str, lines: tuple[str, ...], over) -> None:
        """In place of the finished progress screen `over` (on top, if something else is)."""
        screen = KeepScreen(record, summary, lines, self)
        self.modal = screen

        def closed(_result) -> None:
            if self.modal is screen:
                self.modal = None

        if over is not None and self.app.screen is over:
            self.app.pop_screen()  # the stack changes at once; the progress screen unmounts later
        self.app.push_screen(screen, closed)
        self.watched = self.watched | {record.id}
        self.poll()
