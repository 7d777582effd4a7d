"""The topology tree: collapsible, filterable, keeps its place across refreshes."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from kvmtui.model import Snapshot
from kvmtui.node_keys import guest_key, is_ref, link_key, net_key, target
from kvmtui.render import node_label
from kvmtui.topology import TopologyNode, walk
from kvmtui.ui.messages import NodeChosen


def search_texts(snapshot: Snapshot | None) -> dict[str, str]:
    """Key -> what `/` finds a node by beyond its label: MACs are not all in the labels
    (a tap's, a bridge's), and a tap is found by its guest's name and MAC too."""
    if snapshot is None:
        return {}
    texts: dict[str, list[str]] = {}
    guests_on: dict[str, list[str]] = {}
    for domain in snapshot.domains:
        for number, nic in enumerate(domain.interfaces):
            facts = [domain.name, nic.mac or "", nic.target or "", nic.type, nic.model or ""]
            texts[guest_key(domain, number)] = facts
            if nic.target:
                guests_on.setdefault(nic.target, []).extend((domain.name, nic.mac or ""))
    for link in snapshot.links:
        texts[link_key(link.ifname)] = [link.mac or "", link.kind or "", *guests_on.get(link.ifname, ())]
    for network in snapshot.networks:
        texts[net_key(network.name)] = [network.bridge or ""]
    return {key: " ".join(facts).lower() for key, facts in texts.items()}


def matches(node: TopologyNode, needle: str, texts: dict[str, str] | None = None) -> bool:
    """By name, MAC, guest or kind; `needle` is lowercase."""
    return (needle in node.name.lower() or needle in node.summary.lower() or node.kind.startswith(needle)
            or needle in (texts or {}).get(target(node.key), ""))


def filter_forest(forest: tuple[TopologyNode, ...], needle: str,
                  texts: dict[str, str] | None = None) -> tuple[TopologyNode, ...]:
    """Nodes that match, with their ancestors (so the path to the wire stays visible)."""
    if not needle:
        return forest
    needle = needle.lower()
    kept = []
    for node in forest:
        children = filter_forest(node.children, needle, texts)
        hit = matches(node, needle, texts)
        if children or hit:
            kept.append(TopologyNode(node.key, node.kind, node.name, node.state, node.summary,
                                     node.role, node.ref, node.children if hit else children))
    return tuple(kept)


def first_match(forest: tuple[TopologyNode, ...], needle: str, texts: dict[str, str] | None = None) -> str | None:
    """The key of the first node, top down, that the filter finds itself (not an ancestor
    kept only to show the path)."""
    return next((node.key for _, node in walk(forest) if matches(node, needle.lower(), texts)), None)


class TopologyTree(Tree[str]):
    """Tree of TopologyNode keys. The app hands it a forest; it never collects anything."""

    # Arrows need no footer room at 80 columns; the help screen lists them.
    BINDINGS = [Binding("right", "expand_or_child", "Expand", show=False),
                Binding("left", "collapse_or_parent", "Collapse", show=False)]
    # Not the running guest's ▶ (kvmtui.render.STATE_STYLES): plain ASCII, read in any font.
    ICON_NODE = "+ "
    ICON_NODE_EXPANDED = "- "

    def __init__(self, **kwargs) -> None:
        super().__init__("host", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self._forest: tuple[TopologyNode, ...] = ()
        self._filter = ""
        self._collapsed: set[str] = set()
        self._faces: dict[str, tuple] = {}  # key -> what its label was built from
        self._snapshot: Snapshot | None = None  # what the forest was built from: `/` searches it too
        self._texts: tuple[object, dict[str, str]] = (None, {})  # snapshot -> search_texts of it
        self.chosen: str | None = None  # the last node the cursor was on: a filter that hides it keeps it

    def show_forest(self, forest: tuple[TopologyNode, ...], title: str, snapshot: Snapshot | None = None) -> None:
        """Update in place: a new tap on a 1,000-node host changes one line, not the tree."""
        self._snapshot = snapshot
        if forest == self._forest and str(self.root.label) == title:
            return
        self._forest = forest
        if str(self.root.label) != title:
            self.root.set_label(Text(title))
        if not self.root.children:
            self._rebuild()
        else:
            self._sync(self.root, self._filtered())
        self._forget_gone()

    def _forget_gone(self) -> None:
        """Labels and collapse states only of nodes the forest still has: 3,000 veth pairs
        that came and went leave nothing behind (nor the strings that pin freed memory)."""
        keys = {node.key for _, node in walk(self._forest)}
        self._faces = {key: face for key, face in self._faces.items() if key in keys}
        self._collapsed &= keys

    def set_filter(self, text: str) -> None:
        """Re-filter: the cursor stays on its node if the filter finds it, else goes to
        the first node found; an emptied filter puts it back on the last node chosen."""
        self._filter = text.strip()
        self._rebuild()

    @property
    def filter_text(self) -> str:
        return self._filter

    @property
    def nothing_matches(self) -> bool:
        """A filter is set and hides every node."""
        return bool(self._filter) and not self.root.children

    def _filtered(self) -> tuple[TopologyNode, ...]:
        """The forest through the filter. MACs come from the snapshot the forest was built
        from, indexed once per snapshot and only while filtering."""
        if not self._filter:
            return self._forest
        if self._texts[0] is not self._snapshot:
            self._texts = (self._snapshot, search_texts(self._snapshot))
        return filter_forest(self._forest, self._filter, self._texts[1])

    def _rebuild(self) -> None:
        selected = self.cursor_node.data if self.cursor_node is not None else self.chosen
        forest = self._filtered()
        if self._filter and selected is not None and not self._found(selected):
            selected = first_match(forest, self._filter, self._texts[1])
        self._remember_collapsed(self.root)
        self.clear()
        # No line under the cursor: a node that lands on the line the old one was on is
        # then announced too (Textual tells only of a change of line).
        self.cursor_line = -1
        cursor: TreeNode[str] | None = None
        for node in forest:
            found = self._add(self.root, node, selected)
            cursor = cursor or found
        self.root.expand()
        if cursor is not None:
            self._move_to(cursor)
        elif forest and (self._filter or selected is not None):  # its node is gone: the first line
            self.move_cursor_to_line(0)

    def _found(self, key: str) -> bool:
        """Whether the filter finds this node itself, not only a node under it."""
        node = next((node for _, node in walk(self._forest) if node.key == key), None)
        return node is not None and matches(node, self._filter.lower(), self._texts[1])

    def _move_to(self, item: TreeNode[str]) -> None:
        """move_cursor, once the lines know where `item` is: a node just added or under a
        parent just expanded has no line number until the lines are rebuilt."""
        self._tree_lines  # noqa: B018  (builds the lines, numbering the nodes)
        self.move_cursor(item)

    def _sync(self, item: TreeNode[str], nodes: tuple[TopologyNode, ...]) -> None:
        """Make `item`'s children show `nodes`, touching only what differs."""
        existing = {child.data: child for child in item.children}
        wanted = [node.key for node in nodes]
        kept = [key for key in existing if key in set(wanted)]
        if kept != [key for key in wanted if key in existing]:  # siblings reordered: redo this level
            self._remember_collapsed(item)
            item.remove_children()
            existing = {}
        for key, child in list(existing.items()):
            if key not in set(wanted):
                child.remove()
                del existing[key]
        for position, node in enumerate(nodes):
            child = existing.get(node.key)
            if child is None:
                self._add(item, node, None, before=position if position < len(item.children) else None)
                continue
            face = (node.kind, node.name, node.state, node.summary, node.role, node.ref)
            if self._faces.get(node.key) != face:  # building a label costs more than comparing data
                self._faces[node.key] = face
                child.set_label(node_label(node))
            if node.children and not child.allow_expand:
                child.allow_expand = True
                child.expand()
            self._sync(child, node.children)

    def _remember_collapsed(self, node: TreeNode[str]) -> None:
        for child in node.children:
            if child.data is not None:
                if child.allow_expand and not child.is_expanded:
                    self._collapsed.add(child.data)
                else:
                    self._collapsed.discard(child.data)
            self._remember_collapsed(child)

    def _add(self, parent: TreeNode[str], node: TopologyNode, selected: str | None,
             before: int | None = None) -> TreeNode[str] | None:
        label = node_label(node)
        self._faces[node.key] = (node.kind, node.name, node.state, node.summary, node.role, node.ref)
        if not node.children:
            item = parent.add_leaf(label, data=node.key, before=before)
        else:
            item = parent.add(label, data=node.key, expand=node.key not in self._collapsed, before=before)
        found = item if node.key == selected else None
        for child in node.children:
            found = self._add(item, child, selected) or found
        return found

    def highlight_first(self) -> None:
        """The cursor on the first line when it is on none: the app's details pane then
        has a node to show before any key, and the first Down moves on from it."""
        if self.cursor_node is None and self.root.children:
            self.move_cursor_to_line(0)

    def get_label_width(self, node: TreeNode[str]) -> int:
        """Textual renders every label to measure it on each rebuild of the lines (1,100
        renders for a new tap on a big host); ours are plain Text: length + the icon."""
        return node.label.cell_len + 2

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
        self._move_to(target)
        return True

    def action_expand_or_child(self) -> None:
        """Right, as in every tree: open the node, or, open already, go to its first child."""
        node = self.cursor_node
        if node is None or not node.allow_expand:
            return
        if not node.is_expanded:
            node.expand()
        elif node.children:
            self._move_to(node.children[0])

    def action_collapse_or_parent(self) -> None:
        """Left: close the node, or, closed or a leaf, go to its parent."""
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self._move_to(node.parent)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        event.stop()
        if event.node.data is not None:
            self.chosen = event.node.data
            self.post_message(NodeChosen(event.node.data))

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        """Enter on a reference (↪) jumps to where the node is shown in full."""
        key = event.node.data or ""
        if is_ref(key):
            self.select_key(target(key))
