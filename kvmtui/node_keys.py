"""The keys of the topology's nodes, built and read here only (pure).

A node is "link:<ifname>", "net:<network>", "guest:<uuid>:<mac>" (or "guest:<uuid>:#<n>"
for a NIC without a MAC of its own) or "group:<name>"; a reference to a node shown in
full elsewhere is "<parent>-><key>". The tree, the details, the audit's findings, the
selection and the wizards all speak these keys: one spelling keeps them agreeing.
"""

from __future__ import annotations

from kvmtui.model import Domain

LINK, GUEST, NET, GROUP = "link:", "guest:", "net:", "group:"
REF = "->"


def link_key(ifname: str) -> str:
    return f"{LINK}{ifname}"


def net_key(name: str) -> str:
    return f"{NET}{name}"


def group_key(name: str) -> str:
    return f"{GROUP}{name}"


def guest_key(domain: Domain, number: int) -> str:
    """A guest NIC by its MAC, not its position: a detach renumbers the NICs after it, and
    a tree, a diff or a selection keyed by position would then name another NIC. A NIC
    without a MAC of its own in the domain (none, or shared) is keyed by position."""
    mac = (domain.interfaces[number].mac or "").lower()
    if mac and sum(1 for nic in domain.interfaces if (nic.mac or "").lower() == mac) == 1:
        return f"{GUEST}{domain.uuid}:{mac}"
    return f"{GUEST}{domain.uuid}:#{number}"


def ref_key(parent: str, key: str) -> str:
    """A reference under `parent` to the node `key`, shown in full elsewhere."""
    return f"{parent}{REF}{key}"


def is_ref(key: str) -> bool:
    return REF in key


def target(key: str | None) -> str:
    """The node a key names: itself, or the node a reference points to ("" for None)."""
    return (key or "").rsplit(REF, 1)[-1]


def is_guest(key: str | None) -> bool:
    return target(key).startswith(GUEST)


def ifname_of(key: str | None) -> str | None:
    """The device a link key (or a reference to one) names; None for any other node."""
    key = target(key)
    return key[len(LINK):] if key.startswith(LINK) else None


def network_of(key: str | None) -> str | None:
    """The libvirt network a net key (or a reference to one) names; None otherwise."""
    key = target(key)
    return key[len(NET):] if key.startswith(NET) else None


def guest_uuid_of(key: str | None) -> str | None:
    """The domain UUID of a guest NIC key (or a reference to one); None otherwise."""
    key = target(key)
    return key[len(GUEST):].split(":", 1)[0] if key.startswith(GUEST) else None
