"""`Keep these changes? 57 s: y keep, n revert now`: the question after a guarded apply
from the dashboard, as `kvmtui apply` asks it on a terminal.

The countdown is the guard's, not this screen's: it is computed from the journal's
deadline, and hiding the question (Esc) or quitting kvmtui (q) decides nothing: unkept,
the guard reverts the change at the deadline. Once the guard has decided (this screen's
y or n, the deadline, another session), the screen says what happened; Enter closes it.
"""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from kvmtui.guard.journal import DISCARDED, KEPT, PENDING, REVERTING, ROLLED_BACK, GuardRecord

KEEP, REVERT = "keep", "revert"
HINT = ("Esc hides this question (the bar at the top keeps counting: y keeps, u reverts) · "
        "q quits kvmtui: the guard still reverts at the deadline unless kept")


def left_text(record: GuardRecord) -> str:
    """Whole seconds left, as the CLI's countdown prints them."""
    return f"{record.seconds_left() or 0.0:.0f} s"


def outcome_lines(record: GuardRecord) -> list[str]:
    """How a guard ended, for people: its state and why, then what its revert did."""
    head = f"{record.state}" + (f": {record.reason}" if record.reason else "")
    return [head, *(f"  {line}" for line in record.outcome)]


def ended_word(record: GuardRecord) -> str:
    if record.state == KEPT:
        return "Kept: the change stays."
    if record.state == DISCARDED:
        return "Its journal was discarded: the change stays as it is."
    if record.state == ROLLED_BACK:
        return "The apply failed and was rolled back."
    return "Reverted: the change was undone."


class KeepScreen(ModalScreen[None]):
    """`controller`: the app's GuardWatch, which runs keep and revert in workers and passes
    the journal as it is read back here (`update`, `acted`, `finish`)."""

    BINDINGS = [
        Binding("y", "keep", "Keep"),
        Binding("n", "revert", "Revert now"),
        Binding("escape", "close", "Hide/Close"),
        Binding("enter", "close_ended", "Close", show=False),  # only once decided: no Enter keeps or hides
        Binding("q,ctrl+c", "app.quit", "Quit", show=False),  # a modal screen hides the app's keys
    ]

    def __init__(self, record: GuardRecord, summary: str, lines: tuple[str, ...], controller) -> None:
        super().__init__()
        self.record, self.summary, self.lines, self.controller = record, summary, lines, controller
        self.busy: str | None = None  # KEEP or REVERT while its worker runs
        self.error: str | None = None
        self.ended = False
        self.orphaned = False  # its guard died: nothing counts down, n reverts here
        self.composed = False  # on_mount has run: the widgets exist

    def compose(self) -> ComposeResult:
        with Vertical(id="keep"):
            yield Static(f"[b]{escape(self.record.title)}[/b] · guard {self.record.id}", id="keep-title")
            with VerticalScroll(id="keep-steps"):
                yield Static(escape("\n".join(self.lines)) or " ")
            yield Static(f"✓ {escape(self.summary)}", id="keep-summary")
            yield Static("", id="keep-question")
            yield Static("", id="keep-outcome")
            yield Static(HINT, id="keep-keys")

    def on_mount(self) -> None:
        self.composed = True
        self.show()
        self.set_interval(1.0, self.show)  # the seconds left, from the deadline: no file is read here

    @property
    def counting(self) -> bool:
        return not self.ended and self.record.state == PENDING

    def question(self) -> str:
        if self.busy == KEEP:
            return "Keeping the change…"
        if self.busy == REVERT:
            return "Reverting now: the guard undoes the change…"
        if self.orphaned:
            return "Its guard died: n reverts the change here, y keeps it as it is"
        if self.record.state == REVERTING or (self.counting and not self.record.seconds_left()):
            return "The deadline passed: the guard is reverting the change…"
        if self.counting:
            return f"Keep these changes? {left_text(self.record)}: y keep, n revert now"
        return describe(self.record)

    def show(self) -> None:
        """Redrawn from the state (a poll may land before the screen is mounted: on_mount draws)."""
        if not self.composed:
            return
        if self.ended:
            self.query_one("#keep-question", Static).update(f"[b]{escape(ended_word(self.record))}[/b]")
            self.query_one("#keep-outcome", Static).update(escape("\n".join(outcome_lines(self.record))))
            self.query_one("#keep-keys", Static).update("Enter or Esc closes")
            return
        self.query_one("#keep-question", Static).update(f"[b]{escape(self.question())}[/b]")
        self.query_one("#keep-outcome", Static).update(f"! {escape(self.error)}" if self.error else "")

    # -- from the controller ----------------------------------------------------------
    def update(self, record: GuardRecord, orphaned: bool = False) -> None:
        """The journal as the last poll read it (still open)."""
        if not self.ended:
            self.record, self.orphaned = record, orphaned
            self.show()

    def acted(self, verb: str, record: GuardRecord | None, error: str | None) -> None:
        self.busy = None
        self.error = error
        if record is not None and record.final:
            self.finish(record)
        elif record is not None:
            self.record = record
            self.error = error or f"the guard has not reported yet: {describe(record)}"
        self.show()

    def finish(self, record: GuardRecord) -> None:
        """The guard decided: what it did, and Enter closes."""
        if self.ended:
            return
        self.record, self.ended, self.busy = record, True, None
        self.show()

    # -- keys ---------------------------------------------------------------------------
    def action_keep(self) -> None:
        self._act(KEEP)

    def action_revert(self) -> None:
        self._act(REVERT)

    def _act(self, verb: str) -> None:
        if self.ended or self.busy:
            return
        self.busy, self.error = verb, None
        self.show()
        self.controller.act(verb, self.record)

    def action_close(self) -> None:
        """Esc: closes once decided; before that it only hides the question (the bar stays)."""
        self.dismiss(None)

    def action_close_ended(self) -> None:
        if self.ended:
            self.dismiss(None)


def describe(record: GuardRecord) -> str:
    """A journal's state in words, without the file locks control.describe_state takes."""
    if record.state == PENDING:
        return f"reverts in {left_text(record)} unless kept"
    if record.state == REVERTING:
        return "reverting"
    if record.final:
        return outcome_lines(record)[0]
    return f"applying, step {max(record.running, record.done)} of {len(record.steps)}"
