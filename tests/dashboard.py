"""Helpers for pilot tests of the dashboard."""

from __future__ import annotations

import asyncio
import time

from kvmtui.topology import walk
from kvmtui.ui.app import KvmtuiApp


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


async def select_in_tree(pilot, app: KvmtuiApp, key: str) -> None:
    """Move the tree's cursor to `key` and wait until the app has taken it as the
    selection (keys pressed before that act on the previous node)."""
    from kvmtui.ui.topology_pane import TopologyTree

    assert app.query_one(TopologyTree).select_key(key), f"{key} is not in the tree"
    await wait_for(pilot, lambda: app.selected == key, what=f"{key} selected")
