"""`d` on a bridge or bond that carries the host's addresses: where they go first.

Deleted as it is, the device takes its addresses and the routes through it along (the
host's way out, when the default route is one). The CLI's `--move-ip-to` hands them to
one of its ports instead; this small wizard offers it, the only port by default.
"""

from __future__ import annotations

from kvmtui.facts import global_addresses, ports
from kvmtui.model import Snapshot
from kvmtui.plan import DeleteLink
from kvmtui.ui.forms import Field, WizardScreen

MOVABLE_FROM = ("bridge", "bond")  # the kinds whose ports or slaves can take the addresses back


def carries_addresses(snapshot: Snapshot, ifname: str) -> bool:
    link = snapshot.link(ifname)
    return link is not None and link.kind in MOVABLE_FROM and bool(global_addresses(link))


def delete_wizard(snapshot: Snapshot, ifname: str) -> WizardScreen:
    link = snapshot.link(ifname)
    assert link is not None
    members = sorted((m.ifname for m in ports(snapshot, ifname)))
    default_route = any(r.dst == "default" and r.dev == ifname for r in snapshot.routes)
    carried = ", ".join(global_addresses(link)) + (" and the default route" if default_route else "")
    fields = (
        Field("move_ip_to", f"Move {carried} to", "choice", members[0] if len(members) == 1 else None,
              tuple((name, name) for name in members),
              f"empty: they are deleted with {ifname}" + (" and this host loses its way out" if default_route else ""),
              optional=True),
    )
    return WizardScreen(f"Delete {link.kind} {ifname}", fields, lambda v: DeleteLink(ifname, v["move_ip_to"]),
                        snapshot)
