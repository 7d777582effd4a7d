"""What the panes show, computed from snapshots (no terminal needed)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kvmtui.collect.bonding import parse_bonding_file
from kvmtui.node_keys import guest_key
from kvmtui.model import FdbEntry, HostInfo, Snapshot
from kvmtui.views import bond_rows, bridge_of, failure_counts, fdb_rows, link_details, sort_fdb, with_bridge_fdb
from tests.helpers import SHARED_FIXTURES
from tests.dashboard import wait_for
from tests.helpers import link
from tests.samples import fdb_snapshot

HOST = HostInfo("h", "k", "t", None, None, None, "0")
BONDING = SHARED_FIXTURES / "bonding"


def bond_snapshot(name: str) -> Snapshot:
    return Snapshot(host=HOST, bonds=(parse_bonding_file("bond0", (BONDING / name).read_text()),))


def test_down_slave_stands_out():
    rows = bond_rows(bond_snapshot("active-backup-v3.6.0-slave-down-telegraf.txt"), {})
    alarms = {row.slave: row.alarm for row in rows}
    assert alarms == {"eth2": "", "eth3": "MII down"}


def test_missing_lacp_partner_stands_out():
    rows = bond_rows(bond_snapshot("8023ad-v3.7.1-slave-down-lacp-pdu-layer3+4-linuxnotes.txt"), {})
    assert any(row.alarm for row in rows)
    assert all(row.alarm in ("", "MII down", "no LACP partner") for row in rows)


def test_failure_count_growth_since_start():
    snapshot = bond_snapshot("active-backup-v3.6.0-slave-down-telegraf.txt")
    baseline = failure_counts(snapshot)
    bond = snapshot.bonds[0]
    grown = replace(bond, slaves=tuple(replace(s, link_failure_count=s.link_failure_count + 2) for s in bond.slaves))
    rows = bond_rows(replace(snapshot, bonds=(grown,)), baseline)
    assert [row.failures_grew for row in rows] == [2, 2]
    assert next(r for r in rows if r.slave == "eth2").alarm == "+2 failures"


@pytest.mark.parametrize("path", sorted(BONDING.iterdir()), ids=lambda p: p.name)
def test_every_shared_bond_sample_renders(path):
    rows = bond_rows(Snapshot(host=HOST, bonds=(parse_bonding_file("bond0", path.read_text()),)), {})
    assert rows and all(row.mii_status for row in rows)


def test_details_name_the_namespace_of_a_peer_elsewhere():
    """The peer may have the device's own number: it is still a peer, in another namespace."""
    veth = replace(link("v", 2, "veth"), link_index=2, link_netnsid=0, link_netns="kt-b")
    unnamed = replace(veth, link_netns=None)
    snapshot = Snapshot(host=HOST, links=(veth,))
    assert ("link", "#2 in netns kt-b") in link_details(snapshot, veth)
    assert ("summary", "peer #2 in netns kt-b") in link_details(snapshot, veth)
    assert ("link", "#2 in netns id 0") in link_details(snapshot, unnamed)


def test_fdb_rows_of_a_bridge_name_the_owner():
    snapshot = fdb_snapshot(3)
    assert bridge_of(snapshot, "vnet0") == bridge_of(snapshot, "br0") == "br0"
    assert bridge_of(snapshot, "web1") is None
    rows = {row.mac: row for row in fdb_rows(snapshot, "br0")}
    assert rows["52:54:00:00:00:01"].owner == "guest web1" and rows["52:54:00:00:00:01"].state == "learned"
    assert rows["02:00:00:00:00:01"].owner == "host"
    assert "33:33:00:00:00:01" in rows  # a port's own address: `bridge fdb show br br0` lists it too
    assert "02:aa:00:00:00:01" not in rows  # another bridge's entry
    assert len(rows) == 6
    by_age = sort_fdb(list(rows.values()), "age")
    assert by_age[0].age == "" and by_age[-1].age == "3s"


def test_a_fresh_read_of_one_bridge_replaces_only_its_entries():
    snapshot = fdb_snapshot(3)
    moved = FdbEntry("52:54:00:00:00:01", "eth1", 3, "br0", None, "", ())
    after = with_bridge_fdb(snapshot, "br0", (moved,))
    assert {(r.mac, r.port) for r in fdb_rows(after, "br0")} == {("52:54:00:00:00:01", "eth1")}
    assert [e.mac for e in after.fdb if e.master == "br1"] == ["02:aa:00:00:00:01"]


async def test_fdb_pane_with_50000_entries():
    """The pane sorts and filters 50,000 entries; only visible lines are drawn."""
    from kvmtui.ui.app import DashboardOptions, KvmtuiApp
    from kvmtui.ui.fdb_pane import FdbPane
    from kvmtui.ui.topology_pane import TopologyTree

    app = KvmtuiApp(DashboardOptions(), recorded=fdb_snapshot(50_000))
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.query_one(TopologyTree).select_key("link:br0")
        await pilot.press("2")
        pane = app.query_one(FdbPane)
        await wait_for(pilot, lambda: len(pane.visible_rows) == 50_003, what="50,003 rows")
        await pilot.press("s", "s", "s", "s", "s")  # state -> mac -> port -> vlan -> age -> owner
        assert pane.sort_key == "owner" and pane.visible_rows[-1].owner == "host"
        await pilot.press("f", *"web1", "enter")
        await wait_for(pilot, lambda: len(pane.visible_rows) == 1, what="the filter")
        assert pane.visible_rows[0].mac == "52:54:00:00:00:01"


async def test_command_palette_offers_views_and_filters():
    from kvmtui.ui.app import DashboardOptions, KvmtuiApp
    from kvmtui.ui.topology_pane import TopologyTree
    from textual.widgets import TabbedContent

    async def run_from_palette(pilot, text: str) -> None:
        """ctrl+p, type, wait for the palette's matches (they arrive asynchronously), Enter."""
        from textual.command import CommandList

        await pilot.press("ctrl+p", *text)
        await wait_for(pilot, lambda: any(l.option_count for l in app.screen.query(CommandList)), what=f"'{text}' offered")
        await pilot.press("enter")

    app = KvmtuiApp(DashboardOptions(), recorded=fdb_snapshot(0))
    async with app.run_test(size=(100, 30)) as pilot:
        await run_from_palette(pilot, "view: bonds")
        await wait_for(pilot, lambda: app.query_one(TabbedContent).active == "bonds", what="the bonds view")
        await run_from_palette(pilot, "filter: vnet0")
        await wait_for(pilot, lambda: app.query_one(TopologyTree)._filter == "vnet0", what="the tree filtered")


async def test_findings_tab_counts_and_jump_to_the_object():
    from textual.widgets import TabbedContent

    from kvmtui.model import TunInfo
    from kvmtui.ui.app import DashboardOptions, KvmtuiApp
    from kvmtui.ui.findings_pane import FindingsPane
    from kvmtui.ui.topology_pane import TopologyTree

    orphan = replace(link("tap9", 9, "tun", "br0"), info_data=TunInfo("tap", False, True, False, True))
    base = fdb_snapshot(0)  # guest rules judge only what the local libvirt was asked about
    snapshot = replace(base, links=base.links + (orphan,), host=replace(base.host, libvirt_uri="qemu:///system"))
    app = KvmtuiApp(DashboardOptions(), recorded=snapshot)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.findings, what="the findings")
        assert any(f.key == "link:tap9" for f in app.findings)
        label = str(app.query_one(TabbedContent).get_tab("findings").label)
        assert label == "6 Findings 1i"
        await pilot.press("6")
        table = app.query_one(FindingsPane).table
        row = next(i for i, f in enumerate(table.findings) if f.key == "link:tap9")
        table.move_cursor(row=row)
        await pilot.press("enter")
        tree = app.query_one(TopologyTree)
        await wait_for(pilot, lambda: tree.has_focus and tree.cursor_node.data == "link:tap9", what="the jump to tap9")


def test_guest_details_show_mtu_and_virtualport_parameters():
    from kvmtui.libvirt_xml import parse_domain_xml
    from kvmtui.views import node_details

    xml = (SHARED_FIXTURES / "libvirt" / "domains" / "many-devices-18-interfaces-virt-manager.xml").read_text()
    guest = parse_domain_xml(xml, state="shut off", id=None, persistent=True)
    _, lines = node_details(Snapshot(host=HOST, domains=(guest,)), (), guest_key(guest, 3))
    assert ("mtu", "1500") in lines
    assert ("virtualport_params", "managerid=12 typeid=1193046 typeidversion=1 "
                                  "instanceid=09b11c53-8b5c-4eeb-8f00-d84eaa0aaa3b") in lines
    assert not any(label == "effective vlan" for label, _ in lines)  # no network, no VLAN to resolve


def test_details_name_the_backend_and_file_that_own_a_link():
    from kvmtui.model import Claim, LinkOwner, SavedConfig
    from kvmtui.views import node_details

    owners = (LinkOwner("br0", "netplan", "/etc/netplan/01-kvm.yaml", 7, "netplan renderer networkd",
                        (Claim("ifupdown", "/etc/network/interfaces", 3, "ifupdown iface stanza"),)),
              LinkOwner("eno1", None, None, None, "NM device state: unmanaged (/run/NetworkManager/devices/2)"))
    links = (link("br0", 3, "bridge"), link("eno1", 2, None), link("eno2", 4, None))
    saved = Snapshot(host=HOST, links=links, netconfig=SavedConfig("/", owners=owners))
    _, lines = node_details(saved, (), "link:br0")
    assert ("config", "netplan /etc/netplan/01-kvm.yaml (netplan renderer networkd)") in lines
    assert ("config also", "ifupdown /etc/network/interfaces (ifupdown iface stanza)") in lines
    unmanaged = ("config", "none (NM device state: unmanaged (/run/NetworkManager/devices/2))")
    assert unmanaged in node_details(saved, (), "link:eno1")[1]
    assert not any(label.startswith("config") for label, _ in node_details(saved, (), "link:eno2")[1])
    recorded = Snapshot(host=HOST, links=links)  # no netconfig: a recording made before it existed
    assert node_details(recorded, (), "link:br0") == node_details(replace(saved, netconfig=None), (), "link:br0")
    assert not any(label.startswith("config") for label, _ in node_details(recorded, (), "link:br0")[1])
