"""Helpers for pilot tests of the dashboard."""

from __future__ import annotations

import asyncio
import io
import time

from rich.console import Console

from kvmtui.cli import read_snapshot_file
from kvmtui.topology import walk
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from tests.helpers import EXAMPLE


def tree_keys(app: KvmtuiApp) -> set[str]:
    return {node.key for _, node in walk(app.forest)}


def tree_labels(app: KvmtuiApp) -> list[str]:
    """What the tree widget shows, line by line (labels of every node it holds)."""
    from kvmtui.ui.topology_pane import TopologyTree

    labels = []

    def visit(node) -> None:
        for child in node.children:
            labels.append(str(child.label))
            visit(child)

    visit(app.query_one(TopologyTree).root)
    return labels


async def wait_for(pilot, predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        await pilot.pause(0.1)
        await asyncio.sleep(0)


async def field_error(pilot, app, field: str, text: str) -> None:
    """Wait until the message under `field` says `text`."""
    await wait_for(pilot, lambda: text in str(app.screen.query_one(f"#error-{field}").render()),
                   what=f"{text!r} at the {field} field")


async def select_in_tree(pilot, app: KvmtuiApp, key: str) -> None:
    """Move the tree's cursor to `key` and wait until the app has taken it as the
    selection (keys pressed before that act on the previous node)."""
    from kvmtui.ui.topology_pane import TopologyTree

    assert app.query_one(TopologyTree).select_key(key), f"{key} is not in the tree"
    await wait_for(pilot, lambda: app.selected == key, what=f"{key} selected")


def table_rows(app: KvmtuiApp, selector: str) -> list[list[str]]:
    """The cells of a DataTable pane as the user reads them (symbols included)."""
    table = app.query_one(selector)
    return [[str(cell) for cell in table.get_row_at(row)] for row in range(table.row_count)]


def status_line(app: KvmtuiApp) -> str:
    return str(app.query_one("#status").render())


def tab_label(app: KvmtuiApp, pane: str) -> str:
    from textual.widgets import TabbedContent

    return str(app.query_one(TabbedContent).get_tab(pane).label)


def tree_node(app: KvmtuiApp, name: str):
    """The tree widget's node showing device `name` where it hangs (not a ↪ reference)."""
    from kvmtui.render import REF_SYMBOL
    from kvmtui.ui.topology_pane import TopologyTree

    def find(node):
        for child in node.children:
            words = str(child.label).split()
            if len(words) > 1 and words[1] == name and REF_SYMBOL not in str(child.label):
                return child
            found = find(child)
            if found is not None:
                return found
        return None

    return find(app.query_one(TopologyTree).root)


def label_name(node) -> str:
    """The device name in a tree label ("● br0 bridge ..." -> "br0")."""
    return str(node.label).split()[1]


SIZE = (80, 24)


def screen_text(app) -> str:
    """The screen as the user reads it, line by line (what export_screenshot draws)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system=None, record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def example_app(readonly: bool = False) -> KvmtuiApp:
    return KvmtuiApp(DashboardOptions(readonly=readonly), recorded=read_snapshot_file(str(EXAMPLE)))


def details_title(app) -> str:
    """The first line of the Details pane, right of the tree (below the tabs)."""
    return screen_text(app).splitlines()[3].split("│")[-1].strip()

def footer_keys(app) -> list[str]:
    """"z Zoom", ... as the footer shows them, left to right, when they fit in the width."""
    from textual.widgets import Footer

    keys = app.screen.query_one(Footer).query("FooterKey")
    return [f"{key.key_display} {key.description}" for key in keys if key.region.right <= app.size.width]


def guard_bar(app) -> str:
    """The guard bar's text as shown under the status line; "" while it is hidden."""
    bar = app.query_one("#guard-bar")
    return str(bar.render()) if bar.display else ""


def notifications(app) -> list[str]:
    """The texts of the notifications shown so far (still on screen or not)."""
    return [n.message for n in app._notifications]


async def settle(pilot, app, quiet: float = 1.0, timeout: float = 30.0) -> None:
    """Wait until the findings are shown and no audit is pending for `quiet` seconds: findings
    that arrive while the app shuts down meet a torn-down screen (NoMatches: FindingsPane)."""
    await wait_for(pilot, lambda: app.audits_shown > 0, timeout, "the first findings")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = app.audits_shown
        await pilot.pause(quiet)
        if app.audits_shown == shown and app._audit_timer is None and not any(
                worker.group == "audit" and worker.is_running for worker in app.workers):
            return
    raise AssertionError(f"the audits did not settle within {timeout:g} s")
