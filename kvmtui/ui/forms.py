"""Wizard screens: a keyboard form per intent. The form only collects text; the
planner decides, and its PlanError is shown at the field it names."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rich.markup import escape
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Select, SelectionList, Static

from kvmtui.model import Snapshot
from kvmtui.plan import Plan, PlanError
from kvmtui.kinds import Intent, make_plan
from kvmtui.plan.diff import Confirmation
from kvmtui.render import confirmation_text, guard_text, warnings_text


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | number | choice | many | flag
    default: object = ""
    options: tuple[tuple[str, str], ...] = ()  # (shown, value) for choice and many
    help: str = ""
    optional: bool = False  # a choice that can be emptied again although it starts chosen


def _number(field: Field, text: str) -> int | None:
    """Textual's integer Input lets '-' and '1_' through while they are typed: whole numbers only."""
    text = text.strip()
    if not text:
        return None
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise PlanError(field.name, f"{text!r} is not a whole number")
    return int(text)


# A checked box reads as checked without colour (NO_COLOR, monochrome): Textual draws
# both states with one glyph in two colours. Three cells, as Textual's button takes.
CHECKED, UNCHECKED = "[x]", "[ ]"


class TickBox(Checkbox):
    """A Checkbox whose state is in its glyph."""

    @property
    def _button(self) -> Content:
        return Content.styled(CHECKED if self.value else UNCHECKED, "bold" if self.value else "")


class TickList(SelectionList):
    """A SelectionList whose selected options are ticked in their glyph."""

    def render_line(self, y: int) -> Strip:
        line = OptionList.render_line(self, y)  # the prompt; the box is drawn here, not by SelectionList
        index = self.scroll_offset.y + y
        if not 0 <= index < self.option_count:
            return line
        chosen = self.get_option_at_index(index).value in self._selected
        style = (next(iter(line)).style or self.rich_style) + Style(meta={"option": index})
        box = Segment(CHECKED if chosen else UNCHECKED, style + Style(bold=True) if chosen else style)
        return Strip([box, Segment(" ", style), *line])


class WizardScreen(ModalScreen[Plan | None]):
    """Collects the fields, builds the intent, and returns a checked Plan (or None: cancelled)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Plan")]

    def __init__(self, title: str, fields: tuple[Field, ...], build: Callable[[dict], Intent], snapshot: Snapshot):
        super().__init__()
        self.title_text, self.fields, self.build, self.snapshot = title, fields, build, snapshot
        # Set by the app: the confirmation shown over the wizard, so that cancelling it comes
        # back here with the fields as they were. Without it the wizard returns the plan.
        self.confirm: Callable[[Plan], ModalScreen[bool]] | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="wizard"):
            yield Static(f"[b]{self.title_text}[/b]  (Tab moves, Space toggles, Ctrl+S or the button plans)")
            for field in self.fields:
                if field.kind != "flag":  # a checkbox carries its own label
                    yield Label(field.label, classes="field-label")
                yield self._widget(field)
                if field.help:
                    yield Static(field.help, classes="field-help", id=f"help-{field.name}")
                yield Static("", classes="field-error", id=f"error-{field.name}")
            yield Button("Show plan", id="plan", variant="primary")

    def on_mount(self) -> None:
        self.query_one(f"#field-{self.fields[0].name}").focus()

    def _widget(self, field: Field):
        wid = f"field-{field.name}"
        if field.kind == "flag":
            return TickBox(field.label, bool(field.default), id=wid)
        if field.kind == "choice":
            return Select(field.options, value=field.default if field.default else Select.NULL, id=wid,
                          allow_blank=field.optional or not field.default)
        if field.kind == "many":
            return TickList(*[(shown, value, value in (field.default or ())) for shown, value in field.options], id=wid)
        return Input(str(field.default or ""), id=wid, type="integer" if field.kind == "number" else "text")

    def values(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for field in self.fields:
            widget = self.query_one(f"#field-{field.name}")
            if isinstance(widget, Checkbox):
                out[field.name] = widget.value
            elif isinstance(widget, Select):
                out[field.name] = None if widget.value in (Select.NULL, Select.BLANK) else widget.value
            elif isinstance(widget, SelectionList):
                out[field.name] = tuple(widget.selected)
            elif field.kind == "number":
                out[field.name] = _number(field, widget.value)
            else:
                out[field.name] = widget.value.strip() or None
        return out

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "plan":
            self.action_submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        for error in self.query(".field-error"):
            error.update("")
        try:
            plan = make_plan(self.build(self.values()), self.snapshot)
        except PlanError as exc:
            self.show_error(exc.field, str(exc))
            return
        if self.confirm is None:
            self.dismiss(plan)
            return

        def confirmed(ok: bool | None) -> None:  # returns nothing: Textual would await the dismiss
            if ok:
                self.dismiss(plan)

        self.app.push_screen(self.confirm(plan), confirmed)

    def show_error(self, field: str, message: str) -> None:
        target = field if any(f.name == field for f in self.fields) else self.fields[0].name
        self.query_one(f"#error-{target}", Static).update(f"! {message}")
        self.query_one(f"#field-{target}").focus()

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """The plan as the user confirms it; nothing has changed yet."""

    # No Enter: the Enter that submitted the wizard, pressed once more, must not apply
    # a change whose warnings nobody has read.
    BINDINGS = [Binding("y", "confirm", "Apply"), Binding("n,escape", "cancel", "Cancel")]

    def __init__(self, confirmation: Confirmation, refusal: str | None = None) -> None:
        """`refusal`: why nothing can be applied here (a recorded host); the plan is still shown."""
        super().__init__()
        self.confirmation, self.refusal = confirmation, refusal
        self.text = confirmation_text(confirmation)  # all of it, as `kvmtui plan` prints it

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):  # warnings and keys stay in view however long the plan
            with VerticalScroll(id="confirm-text"):
                yield Static(confirmation_text(self.confirmation, warnings=False))
            if self.confirmation.warnings:
                yield Static(warnings_text(self.confirmation.warnings), id="confirm-warnings")
            if not self.refusal and (guarded := guard_text(self.confirmation)):
                yield Static(guarded, id="confirm-guard")  # the countdown that follows, in view with the keys
            typed = self.confirmation.typed
            if self.refusal:
                yield Static(f"[b]{escape(self.refusal)}[/b] · [b]n[/b]/Esc back", id="confirm-keys")
            elif typed:
                yield Input(placeholder=f"type {typed} to apply", id="confirm-typed")
                yield Static(f"this leaves the host without a default route: type [b]{escape(typed)}[/b] and "
                             "Enter to apply · Esc back: nothing changes until you confirm", id="confirm-keys")
            else:
                yield Static("[b]y[/b] apply · [b]n[/b]/Esc cancel: nothing changes until you confirm",
                             id="confirm-keys")

    def on_mount(self) -> None:
        if self.confirmation.typed and not self.refusal:
            self.query_one("#confirm-typed", Input).focus()

    def action_confirm(self) -> None:
        if self.refusal:
            self.notify(self.refusal, title="not applied", severity="warning")
        elif self.confirmation.typed:
            self.notify(f"type {self.confirmation.typed} and Enter to apply", title="not applied", severity="warning")
        else:
            self.dismiss(True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip() == self.confirmation.typed:
            self.dismiss(True)
        else:
            self.notify(f"that is not {self.confirmation.typed}: nothing applied", title="not applied",
                        severity="warning")

    def action_cancel(self) -> None:
        self.dismiss(False)


class ProgressScreen(ModalScreen[None]):
    """Steps as they run; closes with Enter/Esc once the result is in."""

    BINDINGS = [Binding("escape,enter", "close", "Close")]

    def __init__(self, title: str, note: str | None = None) -> None:
        """`note`: a first line, before any step (a guarded apply says its countdown)."""
        super().__init__()
        self.title_text = title
        self.lines: list[str] = [note] if note else []
        self.finished = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="progress"):
            yield Static(f"[b]{self.title_text}[/b]")
            yield Static("\n".join(self.lines), id="progress-lines")

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.query_one("#progress-lines", Static).update("\n".join(self.lines))

    def finish(self, summary: str, ok: bool) -> None:
        self.finished = True
        self.add(("✓ " if ok else "✗ ") + summary + "\n(Enter closes)")

    def action_close(self) -> None:
        if self.finished:
            self.dismiss(None)
