"""vxlan without `dev` on this machine's kernel (the other tunnels need the kernel VM:
tests/test_tunnels_kernelvm.py): its underlay is the device the route to its remote or
group goes through, in the tree and the details."""

from __future__ import annotations

import json

from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.views import link_details
from tests.helpers import kvmtui_in
from tests.topologies import ip


def test_vxlan_without_dev_hangs_under_the_routed_device(netns):
    for near, far in (("kt-u0", "kt-u1"), ("kt-w0", "kt-w1")):
        ip(netns, "link", "add", near, "type", "veth", "peer", "name", far)
        ip(netns, "link", "set", far, "up")
        ip(netns, "link", "set", near, "up")
    ip(netns, "addr", "add", "10.50.0.1/24", "dev", "kt-u0")
    ip(netns, "addr", "add", "10.70.0.1/24", "dev", "kt-w0")
    ip(netns, "route", "add", "10.60.0.0/16", "via", "10.70.0.254")
    ip(netns, "route", "add", "239.1.0.0/16", "dev", "kt-u0")
    ip(netns, "link", "add", "kt-vx1", "type", "vxlan", "id", "101", "remote", "10.60.0.9", "dstport", "4789")
    ip(netns, "link", "add", "kt-vx2", "type", "vxlan", "id", "102", "group", "239.1.2.3", "dstport", "4789",
       "dev", "kt-u0")  # the kernel wants a device for a multicast group: bound, as before
    ip(netns, "link", "add", "kt-vx3", "type", "vxlan", "id", "103", "local", "10.50.0.1", "dstport", "4790")

    proc = kvmtui_in(netns, "dump", "--json")
    assert proc.returncode == 0, proc.stderr
    tree = json.loads(proc.stdout)["tree"]
    parents = {}

    def visit(nodes, parent):
        for node in nodes:
            if node["ref"] is None:
                parents[node["name"]] = (parent, node["role"], node["summary"])
                visit(node["children"], node["name"])

    visit(tree, None)
    assert parents["kt-vx1"] == ("kt-w0", "underlay-of", "vni 101 -> 10.60.0.9")  # the route via 10.70.0.254
    assert parents["kt-vx2"][:2] == ("kt-u0", "underlay-of")
    assert parents["kt-vx3"][:2] == ("kt-u0", "underlay-of")  # no remote: where its local address is
    snapshot = collect_snapshot(netns, with_libvirt=False)
    assert dict(link_details(snapshot, snapshot.link("kt-vx1")))["underlay"] == "kt-w0"
