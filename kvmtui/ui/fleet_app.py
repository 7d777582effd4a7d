"""The fleet view: one row per host of a fleet directory. Enter leaves it with the host
chosen (the CLI opens that host's snapshot in the dashboard, read-only, and comes back
here when it is quit); `s` changes the order, `/` filters, `q` quits."""

from __future__ import annotations

from importlib.resources import files

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Input, Static

from kvmtui.fleet.rows import COLUMNS, SORT_KEYS, FleetRow, sorted_rows


class FleetApp(App[str | None]):
    TITLE = "kvmtui fleet"
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("s", "sort", "Sort"), Binding("/", "filter", "Filter"),
                Binding("escape", "clear_filter", "Clear filter", show=False)]
    CSS_PATH = str(files("kvmtui") / "styles" / "fleet.tcss")

    def __init__(self, rows: list[FleetRow], directory: str, sort: str = "findings") -> None:
        super().__init__()
        self.rows, self.directory, self.sort_key, self.text = rows, directory, sort, ""

    def compose(self) -> ComposeResult:
        yield Static(id="fleet-title")
        yield Input(placeholder="filter hosts", id="fleet-filter")
        yield DataTable(id="fleet-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self._show()
        self.query_one(DataTable).focus()

    def _show(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        shown = sorted_rows(self.rows, self.sort_key, self.text)
        for row in shown:
            table.add_row(*row.cells(), key=row.host)
        unreached = sum(1 for r in self.rows if r.status != "ok")
        self.query_one("#fleet-title", Static).update(
            f"{self.directory}: {len(self.rows)} host(s), {unreached} not collected last time; "
            f"sorted by {self.sort_key}" + (f", filter {self.text!r}" if self.text else "") + " (Enter opens one)")

    def action_sort(self) -> None:
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self._show()

    def action_filter(self) -> None:
        box = self.query_one(Input)
        box.add_class("shown")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one(Input)
        box.value, self.text = "", ""
        box.remove_class("shown")
        self._show()
        self.query_one(DataTable).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.text = event.value
        self._show()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.exit(event.row_key.value)
