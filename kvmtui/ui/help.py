"""`?`: every key, in one screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
[b]kvmtui[/b]: the network of this KVM host, from the wire to the guests.

[b]Anywhere[/b]
  1-6        details, FDB, bonds, guests, networks, findings
             (on a finding, Enter jumps to its object in the tree)
  t          back to the topology tree
  /          filter the tree by name, MAC, guest or kind (Esc clears)
  r          re-read everything now
  ctrl+p     command palette: "view: fdb", "filter: ...", "refresh"
  ?          this help;  q  quit

[b]Topology tree[/b]
  up/down    move;  left/right  collapse/expand;  enter  toggle, or jump
             from a reference (↪) to where the node is shown in full
  symbols    ● up  ○ down  ◍ unknown  ◐ going down/back  ▶ running
             ‖ paused  ■ shut off (colour is never the only signal)

[b]FDB[/b] (of the bridge selected in the tree, or of the port's bridge)
  s          sort by MAC, port, VLAN, state, age, owner
  f          filter the entries (Esc clears)

The screen follows netlink and libvirt events; counters and bonding
files are polled every --interval seconds. The top line says how old
the data is. With --readonly nothing can change the host.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(HELP)
