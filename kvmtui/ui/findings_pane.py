"""The audit's findings: a table (one row per finding, most serious first) and, under it,
why the highlighted one matters and how to fix it. Enter asks the app to show the
object in the topology tree (FindingChosen)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from kvmtui.audit import Finding, counts, counts_text

SEVERITY_STYLES = {"error": ("E", "bold red"), "warning": ("W", "bold yellow"), "info": ("i", "cyan")}


class FindingChosen(Message):
    """Enter on a finding: the app should select this topology key in the tree."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key


def short_counts(findings: tuple[Finding, ...] | list[Finding]) -> str:
    """"2E 3W 1i" for a tab title or a status bar; "" when there is nothing."""
    n = counts(findings)
    return " ".join(f"{n[s]}{SEVERITY_STYLES[s][0]}" for s in ("error", "warning", "info") if n[s])


def finding_detail(finding: Finding) -> Text:
    text = Text()
    symbol, style = SEVERITY_STYLES[finding.severity]
    text.append(f"{finding.severity.upper()} ", style=style)
    text.append(f"{finding.rule}  ", style="bold")
    text.append(finding.key, style="dim")
    text.append(f"\n{finding.subject}: {finding.what}\n")
    text.append("why: ", style="bold")
    text.append(finding.why + "\n")
    text.append("fix: ", style="bold")
    text.append(finding.fix)
    for command in finding.commands:
        text.append(f"\n  $ {command}", style="green")
    return text


class FindingsTable(DataTable):
    """One row per finding; keeps the highlighted finding across refreshes."""

    COLUMNS = ("", "RULE", "OBJECT", "WHAT")

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.findings: tuple[Finding, ...] = ()

    def on_mount(self) -> None:
        self.add_columns(*self.COLUMNS)

    def show(self, findings: tuple[Finding, ...]) -> None:
        current = self.current()
        self.findings = tuple(findings)
        self.clear()
        for finding in self.findings:
            symbol, style = SEVERITY_STYLES[finding.severity]
            self.add_row(Text(symbol, style=style), finding.rule, finding.subject, finding.what)
        if self.findings:
            was = (current.rule, current.key) if current else None
            same = [i for i, f in enumerate(self.findings) if (f.rule, f.key) == was]
            self.move_cursor(row=same[0] if same else min(self.cursor_row, len(self.findings) - 1))

    def current(self) -> Finding | None:
        row = self.cursor_row
        return self.findings[row] if 0 <= row < len(self.findings) else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        finding = self.current()
        if finding is not None:
            self.post_message(FindingChosen(finding.key))


class FindingsPane(Vertical):
    """`show(findings)` after every snapshot; the app handles FindingChosen. Styles:
    styles/kvmtui.tcss (#findings-summary, #findings-table, #finding-detail)."""

    def compose(self) -> ComposeResult:
        yield Static("no audit yet", id="findings-summary")
        yield FindingsTable(id="findings-table")
        yield Static("", id="finding-detail")

    @property
    def table(self) -> FindingsTable:
        return self.query_one(FindingsTable)

    def show(self, findings: tuple[Finding, ...]) -> None:
        self.query_one("#findings-summary", Static).update(counts_text(findings) if findings else "no findings")
        self.table.show(findings)
        self._show_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        finding = self.table.current()
        self.query_one("#finding-detail", Static).update(finding_detail(finding) if finding else "")
