"""`?`: every key, in one screen that scrolls by keyboard (it is taller than 24 lines),
with a line under it that says whether there is more and which keys show it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from kvmtui.kinds import new_nouns

HELP = """\
[b]kvmtui[/b]: the network of this KVM host, from the wire to the guests.

[b]Anywhere[/b]
  1-6        details, FDB, bonds, guests, networks, findings
  t          back to the topology tree
  z          zoom: the tree or the pane in focus takes the whole width
             (at 80 columns: the FDB's owners, the bonds' alerts);
             z again shows both
  /          filter the tree by name, MAC, guest or kind: the cursor
             goes to the first node found; Enter keeps the filter,
             Esc clears it (the cursor stays on its node)
  r          re-read everything now
  ctrl+p     command palette: views, filter, zoom, FDB sort, new,
             attach, edit, delete, help
  ?          this help
  q          quit; ctrl+c too. Not while a change is being applied:
             it finishes or is rolled back first

[b]Changing the host[/b] (not with --readonly or --from FILE)
  n          new {new} (on the selected device)
  a          attach a NIC to the selected guest, or onto the selected
             bridge or device
  e          edit the selected device: MTU, up/down, MAC, alias; a
             bridge's ports, STP, forward delay, ageing, VLAN filtering;
             a bond's slaves, monitoring, primary, hashing, mode; on a
             guest NIC: its link up/down, bridge (live), model, and on
             Open vSwitch its VLAN tag
  v          VLANs of the selected port of a VLAN-aware bridge: a trunk
             (tagged VLANs, a native one) or an access port (one VLAN)
  d          detach the selected guest NIC, or delete the selected
             bridge, bond, VLAN, vxlan or macvlan, Open vSwitch bridge,
             port or bond, or stop and undefine the selected libvirt
             network
             Each shows the plan (tree before -> after, commands) and
             asks before anything changes: y applies, n or Esc cancels.
             In a wizard: Tab moves, Space ticks \\[x] or unticks [ ],
             ctrl+s plans, Esc cancels.

[b]Guarded changes[/b] (a change that may cut your SSH session or the default
route undoes itself unless kept in time; any kvmtui sees it)
  y          keep the change whose countdown the bar at the top shows
  u          revert it now (n is "new" on this screen)
             After such a change from here, "Keep these changes?
             57 s": y keeps, n reverts now, Esc hides the question
             (the bar keeps counting). q quits and leaves it to the
             guard: unkept, the change is undone at the deadline.
             A guard that died: u reverts, y keeps the change as it
             is. Not with --readonly.

[b]Topology tree[/b]
  up/down    move
  left       collapse the node, or go to its parent
  right      expand the node, or go to its first child
  enter      collapse/expand, or jump from a reference (↪) to where
             the node is shown in full (space: collapse/expand)
  symbols    + collapsed  - expanded (its children shown)
             ● up  ○ down  ◌ no carrier  ◍ unknown  ◐ going down/back
             ▶ running  ‖ paused  ■ shut off  ✗ crashed
             (colour is never the only signal)

[b]FDB[/b] (of the bridge selected in the tree, or of the port's bridge)
  s          sort by state (the default: learned MACs first), MAC,
             port, VLAN, age, owner
  f          filter the entries (Esc clears)
  up/down, PgUp/PgDn, Home/End  move

[b]Findings[/b]
  enter      jump to the finding's object in the tree

The screen follows netlink and libvirt events; counters and bonding
files are polled every --interval seconds. The top line says how old
the data is. With --readonly nothing can change the host.
""".replace("{new}", new_nouns())  # the kinds under `n`

MORE = "↓ PgDn: more below · Esc closes"
END = "end of help · ↑ PgUp: back · Esc closes"


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
        Binding("down,j", "scroll('down')", "Scroll"),
        Binding("up,k", "scroll('up')", "Up", show=False),
        Binding("pagedown,space", "scroll('page_down')", "Page", show=False),
        Binding("pageup", "scroll('page_up')", "Page up", show=False),
        Binding("home", "scroll('home')", "Top", show=False),
        Binding("end", "scroll('end')", "End", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            # Not focusable: the screen's bindings, listed in its footer, do the scrolling.
            with VerticalScroll(id="help-body", can_focus=False):
                yield Static(HELP, id="help-text")
            yield Static(MORE, id="help-more")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        body = self.query_one("#help-body", VerticalScroll)
        self.watch(body, "scroll_y", self._show_more, init=False)
        self.watch(body, "virtual_size", self._show_more)

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_more)

    @property
    def at_end(self) -> bool:
        body = self.query_one("#help-body", VerticalScroll)
        return body.scroll_y >= body.max_scroll_y

    def _show_more(self) -> None:
        self.query_one("#help-more", Static).update(END if self.at_end else MORE)

    def action_scroll(self, how: str) -> None:
        getattr(self.query_one("#help-body", VerticalScroll), f"scroll_{how}")(animate=False)
