"""The Findings pane in a real Textual app (headless): rows, detail, Enter -> FindingChosen."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static

from kvmtui.model import HostInfo
from kvmtui.ui.findings_pane import FindingChosen, FindingsPane, FindingsTable, short_counts
from tests.samples import sample_findings

HOST = HostInfo("sample", "6.1.0", "2025-01-01T00:00:00+00:00", None, None, None, "test")


class Harness(App):
    def __init__(self) -> None:
        super().__init__()
        self.chosen: list[str] = []

    def compose(self) -> ComposeResult:
        yield FindingsPane(id="findings")

    def on_finding_chosen(self, message: FindingChosen) -> None:
        self.chosen.append(message.key)


async def test_rows_detail_and_enter():
    findings = sample_findings()
    assert [f.rule for f in findings] == ["bond-lacp-no-partner", "bond-lacp-split", "bond-single-slave",
                                          "bond-slave-down"]
    app = Harness()
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(FindingsPane)
        assert str(pane.query_one("#findings-summary", Static).render()) == "no audit yet"
        pane.show(findings)
        table = app.query_one(FindingsTable)
        table.focus()
        await pilot.pause()
        assert table.row_count == 4
        assert str(pane.query_one("#findings-summary", Static).render()) == "0 errors, 4 warnings, 0 info"
        assert "why: no LACPDU comes back" in str(pane.query_one("#finding-detail", Static).render())
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        assert app.chosen == ["link:bond1"]  # the single-slave bond
        detail = str(pane.query_one("#finding-detail", Static).render())
        assert "bond-single-slave" in detail and "$ ip link set dev NIC master bond1" in detail

        # A refresh keeps the cursor on the same finding, even when rows come and go.
        pane.show(findings[1:])
        await pilot.pause()
        assert table.current().rule == "bond-single-slave"
        pane.show(())
        await pilot.pause()
        assert table.row_count == 0 and table.current() is None
        assert str(pane.query_one("#findings-summary", Static).render()) == "no findings"
        await pilot.press("enter")
        assert app.chosen == ["link:bond1"]


def test_short_counts():
    assert short_counts(sample_findings()) == "4W"
    assert short_counts(()) == ""
