"""Which backend a plan's change is saved in (pure): the one that owns the devices it
changes (and a new VLAN's parent); where they have different owners or none (a new bridge, a NIC nothing
configures), the one that owns the host's uplink (the default route's device), and the
confirmation says so. `--persist BACKEND` overrides; no backend at all: live only."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.model import Snapshot
from kvmtui.model.netconfig import BACKENDS
from kvmtui.persist.model import Desired

# What `--persist` takes: the backends' own names, and what people call them
BACKEND_WORDS = {"networkmanager": "NetworkManager", "nm": "NetworkManager", "netplan": "netplan",
                 "networkd": "systemd-networkd", "systemd-networkd": "systemd-networkd",
                 "ifupdown": "ifupdown", "ifupdown2": "ifupdown2"}


@dataclass(frozen=True, slots=True)
class Choice:
    backend: str | None  # None: nothing to save in; the change is live only
    why: str


def backend_word(text: str) -> str | None:
    return BACKEND_WORDS.get(text.strip().lower())


def choose_backend(snapshot: Snapshot, desired: Desired, forced: str | None = None) -> Choice:
    if forced is not None:
        return Choice(forced, "as asked (--persist)")
    saved = snapshot.netconfig
    if saved is None:
        return Choice(None, "this host's saved configuration was not read (a named namespace or a recording)")
    owners = snapshot.owners_by_name
    # a new VLAN's (vxlan's, macvlan's) parent is not changed, but only its owner can say "this VLAN sits on me"
    parents = [d.parent for d in desired.devices if d.kind in ("vlan", "vxlan", "macvlan") and d.parent]
    involved = list(dict.fromkeys([d.name for d in desired.devices if d.name] + list(desired.removed) + parents))
    found = {owners[name].backend for name in involved if name in owners and owners[name].backend}
    if len(found) == 1:
        backend = found.pop()
        return Choice(backend, f"{backend} manages {', '.join(n for n in involved if n in owners)}")
    uplink = next((r.dev for r in snapshot.routes if r.dst == "default" and r.dev and r.table == 254), None)
    up_owner = owners.get(uplink).backend if uplink in owners else None
    if up_owner:
        what = f"{' and '.join(sorted(found))} share these devices" if found else "nothing manages these devices yet"
        return Choice(up_owner, f"{what}: {up_owner} manages the uplink {uplink}, so it gets them too")
    in_use = [b.backend for b in saved.backends if b.in_use and b.backend in BACKENDS]
    if len(in_use) == 1:
        return Choice(in_use[0], f"{in_use[0]} is the only network configuration in use on this host")
    return Choice(None, "no backend manages these devices or the uplink: the change is live only "
                        "(--persist BACKEND saves it in one)")
