"""The FDB of the selected bridge: sortable, filterable, responsive at 50,000 entries.

Rows are drawn with Textual's line API (only the visible lines are rendered), so
the entry count costs nothing on screen; sorting and filtering work on plain tuples.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from kvmtui.views import FDB_SORT_KEYS, FdbRow, sort_fdb

# The owner right after the port: beside the tree at 80 columns the last columns are cut off.
COLUMNS = (("MAC", 17), ("PORT", 12), ("OWNER", 22), ("VLAN", 4), ("STATE", 9), ("AGE", 6))
HEADER = " ".join(name.ljust(width) for name, width in COLUMNS).rstrip()
HEADER_STYLE = Style(bold=True, underline=True)
CURSOR = Style(reverse=True)
OWNER_STYLES = {"host": Style(dim=True)}


def format_row(row: FdbRow) -> str:
    cells = (row.mac, row.port, row.owner, row.vlan, row.state, row.age)
    return " ".join(value[:width].ljust(width) for value, (_, width) in zip(cells, COLUMNS)).rstrip()


class FdbTable(ScrollView, can_focus=True):
    """A virtual table of FdbRow: the cursor and the visible rows are all it draws."""

    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "move(-20)", "Page up", show=False),
        Binding("pagedown", "move(20)", "Page down", show=False),
        Binding("home", "move(-1000000)", "First", show=False),
        Binding("end", "move(1000000)", "Last", show=False),
    ]
    cursor = reactive(0)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[FdbRow] = []
        self._lines: list[str] = []

    def set_rows(self, rows: list[FdbRow]) -> None:
        self.rows = rows
        self._lines = [format_row(row) for row in rows]
        self.virtual_size = Size(len(HEADER), len(rows) + 1)  # + the header line
        self.cursor = min(self.cursor, max(len(rows) - 1, 0))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """Line 0 is the column header, which stays put while the rows scroll under it."""
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            strip = Strip([Segment(HEADER, HEADER_STYLE)])
        else:
            index = scroll_y + y - 1
            if index >= len(self._lines):
                return Strip.blank(self.size.width, Style.null())
            row = self.rows[index]
            style = CURSOR if index == self.cursor and self.has_focus else OWNER_STYLES.get(row.owner, Style())
            if row.owner.startswith("guest"):
                style = style + Style(bold=True)
            strip = Strip([Segment(self._lines[index], style)])
        # padding gets an explicit style: NO_COLOR's monochrome filter cannot take unstyled segments
        return strip.crop(scroll_x, scroll_x + self.size.width).extend_cell_length(self.size.width, Style.null())

    def action_move(self, delta: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))
            self.scroll_to_region_visible(self.cursor)

    def scroll_to_region_visible(self, index: int) -> None:
        top = self.scroll_offset.y
        height = self.size.height - 1  # the header line
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False)

    def watch_cursor(self) -> None:
        self.refresh()


class FdbPane(Vertical):
    """Title, column header, the table and a filter line."""

    BINDINGS = [
        Binding("s", "cycle_sort", "Sort"),
        Binding("f", "filter", "Find"),  # beside the tree's "/ Filter": 80 columns hold every key
    ]
    sort_key = reactive(FDB_SORT_KEYS[0])

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._all: list[FdbRow] = []
        self._title = "FDB"

    def compose(self) -> ComposeResult:
        yield Static("FDB", id="fdb-title")
        yield FdbTable(id="fdb-table")
        yield Input(placeholder="filter: MAC, port, VLAN, state, owner (Esc clears)", id="fdb-filter")

    def on_mount(self) -> None:
        self.query_one("#fdb-filter", Input).display = False

    def show(self, title: str, rows: list[FdbRow]) -> None:
        self._title, self._all = title, rows
        self._apply()

    @property
    def visible_rows(self) -> list[FdbRow]:
        return self.query_one(FdbTable).rows

    def _apply(self) -> None:
        needle = self.query_one("#fdb-filter", Input).value.strip().lower()
        rows = [r for r in self._all if needle in r.search] if needle else self._all
        rows = sort_fdb(rows, self.sort_key)
        self.query_one(FdbTable).set_rows(rows)
        shown = f"{len(rows)} of {len(self._all)}" if needle else f"{len(rows)}"
        self.query_one("#fdb-title", Static).update(f"{self._title}: {shown}, by {self.sort_key}")

    def action_cycle_sort(self) -> None:
        self.sort_key = FDB_SORT_KEYS[(FDB_SORT_KEYS.index(self.sort_key) + 1) % len(FDB_SORT_KEYS)]
        self._apply()

    def action_filter(self) -> None:
        box = self.query_one("#fdb-filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "fdb-filter":
            event.stop()
            self._apply()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "fdb-filter":
            event.stop()
            self.query_one(FdbTable).focus()

    def key_escape(self) -> None:
        box = self.query_one("#fdb-filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            self._apply()
            self.query_one(FdbTable).focus()
