"""VXLAN made by `kvmtui apply vxlan` between two namespaces over a veth underlay: frames
cross the tunnel (a ping between addresses on the bridges at both ends), with a remote or
with static FDB entries; bad input is refused at its field; a failure at any step is undone."""

from __future__ import annotations

import pytest

from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.kinds import CreateVxlan, make_plan
from tests.helpers import kvmtui_in
from tests.states import assert_every_failure_undone, changes, no_dad, steady, undo_state
from tests.topologies import ip, ns_json
from tests.traffic import ping


@pytest.fixture
def two_ends(make_netns):
    """Two namespaces: a veth underlay kt-u (10.77.0.1 and .2/24), a bridge kt-br (10.88.0.1 and .2/24)
    with a port kt-p (a bridge without ports loses its carrier for good once a port left it)."""
    a, b = make_netns(), make_netns()
    for ns in (a, b):
        no_dad(ns)  # before any device: an IPv6 address still tentative would change under a comparison
    ip(a, "link", "add", "kt-u", "type", "veth", "peer", "name", "kt-u", "netns", b)
    for n, ns in enumerate((a, b), start=1):
        ip(ns, "addr", "add", f"10.77.0.{n}/24", "dev", "kt-u")
        ip(ns, "link", "set", "kt-u", "up")
        ip(ns, "link", "add", "kt-br", "type", "bridge")
        ip(ns, "link", "add", "kt-p", "type", "veth", "peer", "name", "kt-q")  # a guest's place: the bridge has a port
        ip(ns, "link", "set", "kt-p", "master", "kt-br")
        for dev in ("kt-p", "kt-q"):
            ip(ns, "link", "set", dev, "up")
        ip(ns, "addr", "add", f"10.88.0.{n}/24", "dev", "kt-br")
        ip(ns, "link", "set", "kt-br", "up")
    return a, b


def vxlan_of(ns: str, name: str = "kt-vx0") -> dict:
    (link,) = ns_json(ns, "ip", "-d", "-j", "link", "show", "dev", name)
    return link


def apply(ns: str, *args: str):
    return kvmtui_in(ns, "apply", "--yes", "--no-confirm", "vxlan", *args)


def test_point_to_point_vxlan_carries_traffic_between_two_bridges(two_ends):
    a, b = two_ends
    assert not ping(a, "10.88.0.2", 1)
    for ns, peer in ((a, "10.77.0.2"), (b, "10.77.0.1")):
        proc = apply(ns, "kt-vx0", "--vni", "4242", "--remote", peer, "--local", peer[:-1] + str(3 - int(peer[-1])),
                     "--bridge", "kt-br")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "ip link add name kt-vx0 mtu 1450 type vxlan id 4242 remote " in proc.stdout
    link = vxlan_of(a)
    info = link["linkinfo"]["info_data"]
    assert (info["id"], info["remote"], info["local"], info["port"]) == (4242, "10.77.0.2", "10.77.0.1", 4789)
    assert link["mtu"] == 1450 and link["master"] == "kt-br" and "UP" in link["flags"]
    assert ping(a, "10.88.0.2") and ping(b, "10.88.0.1")


def test_static_fdb_entries_instead_of_a_remote(two_ends):
    a, b = two_ends
    for ns, peer in ((a, "10.77.0.2"), (b, "10.77.0.1")):
        proc = apply(ns, "kt-vx0", "--vni", "77", "--fdb-remote", peer, "--fdb-remote", "10.77.0.9", "--no-learning",
                     "--dstport", "4790", "--bridge", "kt-br")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"bridge fdb append 00:00:00:00:00:00 dev kt-vx0 dst {peer}" in proc.stdout
    entries = ns_json(a, "bridge", "-j", "fdb", "show", "dev", "kt-vx0")
    zeros = {e["dst"] for e in entries if e["mac"] == "00:00:00:00:00:00"}
    assert zeros == {"10.77.0.2", "10.77.0.9"}
    info = vxlan_of(a)["linkinfo"]["info_data"]
    assert (info["id"], info["port"], info["learning"], info.get("remote")) == (77, 4790, False, None)
    assert ping(a, "10.88.0.2") and ping(b, "10.88.0.1")


def test_multicast_group_on_its_underlay(two_ends):
    a, _ = two_ends
    proc = apply(a, "kt-vx0", "--vni", "9", "--group", "239.1.1.9", "--dev", "kt-u")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    info = vxlan_of(a)["linkinfo"]["info_data"]
    assert (info["id"], info["group"], info["link"]) == (9, "239.1.1.9", "kt-u")


@pytest.mark.parametrize("args, field, words", [
    (("kt-vx1", "--vni", "42", "--remote", "10.77.0.9"), "--vni", "already kt-vx0's"),
    (("kt-vx1", "--vni", "16777216", "--remote", "10.77.0.2"), "--vni", "1 to 16777215"),
    (("kt-vx1", "--vni", "0", "--remote", "10.77.0.2"), "--vni", "1 to 16777215"),
    (("kt-vx1", "--vni", "5", "--group", "10.1.1.1", "--dev", "kt-u"), "--group", "not a multicast address"),
    (("kt-vx1", "--vni", "5", "--remote", "10.77.0.1"), "--remote", "this host's own address (on kt-u)"),
    (("kt-vx1", "--vni", "5", "--fdb-remote", "10.88.0.1"), "--fdb-remote", "this host's own address (on kt-br)"),
    (("kt-vx1", "--vni", "5", "--group", "239.1.1.1", "--dev", "kt-nope"), "--dev", "no device 'kt-nope'"),
    (("kt-vxlan-too-long", "--vni", "5", "--remote", "10.77.0.2"), "name", "at most 15 bytes"),
    (("kt-vx1", "--vni", "5"), "--remote", "sends nowhere"),
    (("kt-vx1", "--vni", "5", "--remote", "10.77.0.2", "--local", "10.77.0.7"), "--local", "not an address of this host"),
    (("kt-vx1", "--vni", "5", "--remote", "10.77.0.2", "--bridge", "kt-u"), "--bridge", "not a bridge"),
])
def test_bad_input_is_refused_at_its_field_and_changes_nothing(two_ends, args, field, words):
    a, _ = two_ends
    ip(a, "link", "add", "kt-vx0", "type", "vxlan", "id", "42", "remote", "10.77.0.2", "dstport", "4789")
    before = steady(a)  # without timers: kt-p's forward delay timer runs a while after it joined
    proc = apply(a, *args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"kvmtui: {field}: ") and words in proc.stderr and proc.stderr.count("\n") == 1
    assert (after := undo_state(a)) == before, changes(before, after)


def test_port_8472_and_a_port_mismatch_are_named(two_ends):
    a, _ = two_ends
    ip(a, "link", "add", "kt-vx0", "type", "vxlan", "id", "42", "remote", "10.77.0.2", "dstport", "4789")
    proc = kvmtui_in(a, "plan", "vxlan", "kt-vx1", "--vni", "43", "--remote", "10.77.0.2", "--dstport", "8472")
    assert proc.returncode == 0 and "8472 Linux's own default" in proc.stdout and "never hear each other" in proc.stdout
    proc = kvmtui_in(a, "plan", "vxlan", "kt-vx1", "--vni", "42", "--remote", "10.77.0.3", "--dstport", "8472")
    assert proc.returncode == 0 and "kt-vx0 has VNI 42 on port 4789" in proc.stdout
    proc = kvmtui_in(a, "plan", "vxlan", "kt-vx1", "--vni", "44", "--remote", "10.77.0.2", "--mtu", "1480")
    assert proc.returncode == 0 and "raise kt-u's MTU to 1530" in proc.stdout


def test_every_failed_step_leaves_the_namespace_as_it_was(two_ends):
    a, _ = two_ends
    snapshot = collect_snapshot(netns=a, with_libvirt=False)
    plan = make_plan(CreateVxlan("kt-vx0", 100, dev="kt-u", fdb_remotes=("10.77.0.2", "10.77.0.5"), learning=False,
                                 bridge="kt-br"), snapshot)
    assert [step.action for step in plan.steps] == ["link_add", "fdb_add", "fdb_add", "link_set", "link_set"]
    assert_every_failure_undone(a, plan)


def test_the_wizards_values_make_the_same_intent_as_the_cli():
    from kvmtui.kinds import COMMANDS

    form = {"name": "kt-vx1", "vni": 42, "remote": "", "group": "", "dev": None, "fdb_remotes": "10.0.0.3, 10.0.0.4",
            "local": "", "dstport": 4789, "learning": False, "mtu": None, "bridge": "kt-br"}
    intent = COMMANDS["vxlan"].from_form(form)
    assert (intent.vni, intent.fdb_remotes, intent.learning, intent.dstport, intent.bridge) == (
        42, ("10.0.0.3", "10.0.0.4"), False, 4789, "kt-br")
    assert not intent.remote and not intent.group and not intent.local
