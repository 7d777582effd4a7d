"""The topology tree: collapsible, filterable, keeps its place across refreshes."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from kvmtui.render import node_label
from kvmtui.topology import TopologyNode
from kvmtui.ui.messages import NodeChosen


def matches(node: TopologyNode, needle: str) -> bool:
    """Filter by name, MAC, guest name or kind (the summary holds MACs and modes)."""
    return needle in node.name.lower() or needle in node.summary.lower() or needle == node.kind


def filter_forest(forest: tuple[TopologyNode, ...], needle: str) -> tuple[TopologyNode, ...]:
    """Nodes that match, with their ancestors (so the path to the wire stays visible)."""
    if not needle:
        return forest
    needle = needle.lower()
    kept = []
    for node in forest:
        children = filter_forest(node.children, needle)
        if children or matches(node, needle):
            kept.append(TopologyNode(node.key, node.kind, node.name, node.state, node.summary,
                                     node.role, node.ref, children if not matches(node, needle) else node.children))
    return tuple(kept)


class TopologyTree(Tree[str]):
    """Tree of TopologyNode keys. The app hands it a forest; it never collects anything."""

    BINDINGS = [("right", "expand_node", "Expand"), ("left", "collapse_node", "Collapse")]

    def __init__(self, **kwargs) -> None:
        super().__init__("host", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self._forest: tuple[TopologyNode, ...] = ()
        self._filter = ""
        self._collapsed: set[str] = set()

    def show_forest(self, forest: tuple[TopologyNode, ...], title: str) -> None:
        if forest == self._forest and str(self.root.label) == title:
            return
        self._forest = forest
        self.root.set_label(Text(title))
        self._rebuild()

    def set_filter(self, text: str) -> None:
        self._filter = text.strip()
        self._rebuild()

    def _rebuild(self) -> None:
        selected = self.cursor_node.data if self.cursor_node is not None else None
        self._remember_collapsed(self.root)
        self.clear()
        cursor: TreeNode[str] | None = None
        for node in filter_forest(self._forest, self._filter):
            found = self._add(self.root, node, selected)
            cursor = cursor or found
        self.root.expand()
        if cursor is not None:
            self.move_cursor(cursor)

    def _remember_collapsed(self, node: TreeNode[str]) -> None:
        for child in node.children:
            if child.data is not None:
                if child.allow_expand and not child.is_expanded:
                    self._collapsed.add(child.data)
                else:
                    self._collapsed.discard(child.data)
            self._remember_collapsed(child)

    def _add(self, parent: TreeNode[str], node: TopologyNode, selected: str | None) -> TreeNode[str] | None:
        label = node_label(node)
        if not node.children:
            item = parent.add_leaf(label, data=node.key)
        else:
            item = parent.add(label, data=node.key, expand=node.key not in self._collapsed)
        found = item if node.key == selected else None
        for child in node.children:
            found = self._add(item, child, selected) or found
        return found

    def select_key(self, key: str) -> bool:
        """Move the cursor to the node with this key (a reference jumps to its full node)."""
        def find(node: TreeNode[str]) -> TreeNode[str] | None:
            for child in node.children:
                if child.data == key:
                    return child
                hit = find(child)
                if hit is not None:
                    return hit
            return None

        target = find(self.root)
        if target is None:
            return False
        parent = target.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        self.move_cursor(target)
        return True

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(NodeChosen(event.node.data))

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        """Enter on a reference (↪) jumps to where the node is shown in full."""
        key = event.node.data or ""
        if "->" in key:
            self.select_key(key.rsplit("->", 1)[1])
