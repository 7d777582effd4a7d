"""Which backend a change is saved in (kvmtui.persist.choose, pure), on snapshots built by hand."""

from __future__ import annotations

from kvmtui.model import Route, Snapshot
from kvmtui.model.netconfig import BackendUse, LinkOwner, SavedConfig
from kvmtui.persist.choose import choose_backend
from kvmtui.persist.model import Desired, wanted
from tests.helpers import link
from tests.samples import HOST

DEFAULT = Route("inet", "default", "192.0.2.1", "eno1", None, "boot", "global", 254, None)


def host(*owners: tuple[str, str], in_use: tuple[str, ...] = ()) -> Snapshot:
    saved = SavedConfig("/", owners=tuple(LinkOwner(name, backend, f"/etc/{backend}", 1, "test")
                                          for name, backend in owners),
                        backends=tuple(BackendUse(b, True, "test") for b in in_use))
    links = tuple(link(name, n, None) for n, name in enumerate(("eno1", "eno2"), 2))
    return Snapshot(host=HOST, links=links, routes=(DEFAULT,), netconfig=saved)


def vlan_on(parent: str) -> Desired:
    return Desired((wanted(f"{parent}.30", "vlan", vlan_id=30, parent=parent),), ())


def test_a_new_vlan_goes_where_its_parent_is_configured_not_where_the_uplink_is():
    choice = choose_backend(host(("eno1", "systemd-networkd"), ("eno2", "NetworkManager")), vlan_on("eno2"))
    assert choice.backend == "NetworkManager" and "eno2" in choice.why


def test_a_new_vlan_on_an_unconfigured_parent_follows_the_uplink_and_says_so():
    choice = choose_backend(host(("eno1", "netplan")), vlan_on("eno2"))
    assert choice.backend == "netplan" and "manages the uplink eno1" in choice.why


def test_devices_of_two_backends_follow_the_uplink():
    desired = Desired((wanted("br0", "bridge", ports=("eno2",)), wanted("eno2", "ethernet", master="br0")), ())
    choice = choose_backend(host(("eno1", "ifupdown2"), ("br0", "netplan"), ("eno2", "NetworkManager")), desired)
    assert choice.backend == "ifupdown2" and "NetworkManager and netplan share these devices" in choice.why


def test_nothing_configured_anywhere_is_live_only_unless_one_backend_runs():
    assert choose_backend(host(), vlan_on("eno2")).backend is None
    assert choose_backend(host(in_use=("systemd-networkd",)), vlan_on("eno2")).backend == "systemd-networkd"
    assert choose_backend(host(), vlan_on("eno2"), forced="ifupdown2").backend == "ifupdown2"
