"""The main area: the tree beside the tabbed panes, zoomable, sized by the terminal.

At 80 columns the FDB's owners and the bonds' alerts do not fit beside the tree, and
the tree's facts do not fit beside the panes: `z` gives the side that has the focus
the whole width (and back). Moving the focus to the other side (`t`, `1`-`6`, a
finding's Enter) shows that side instead, so no key ever lands on a hidden widget.
A wide terminal gets the `-wide` class: the tree takes more room for its labels.
"""

from __future__ import annotations

from textual import events
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import TabbedContent

WIDE = 156  # from here half the width is enough for both: ~78 for the tree's labels, 78 for the FDB


class MainArea(Horizontal):
    zoomed = reactive(False)

    def toggle_zoom(self) -> None:
        self.zoomed = not self.zoomed

    def watch_zoomed(self) -> None:
        self._show_focused_side()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._show_focused_side()

    def show_panes(self) -> None:
        """`1`-`6` while the tree is zoomed: the pane takes its place, and the keys with it
        (the details pane has no table: it takes the focus itself, to scroll)."""
        if not self.zoomed or not self._on_tree(self.screen.focused):
            return
        pane = self.query_one(TabbedContent).active_pane
        target = next((w for w in pane.query("*") if w.focusable), None) if pane is not None else None
        if target is not None:
            target.focus()  # DescendantFocus shows this side

    @staticmethod
    def _on_tree(focused) -> bool:
        return focused is None or any(node.id == "left" for node in focused.ancestors_with_self)

    def _show_focused_side(self) -> None:
        on_tree = self._on_tree(self.screen.focused if self.is_mounted else None)
        self.set_class(self.zoomed and on_tree, "-zoom-tree")
        self.set_class(self.zoomed and not on_tree, "-zoom-panes")

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width >= WIDE, "-wide")
