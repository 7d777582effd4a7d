"""The dashboard on a real private Open vSwitch (tests/ovs.py): the FDB pane lists an OVS
bridge's MACs, the Bonds pane its bonds, and a port added with ovs-vsctl shows without a key."""

from __future__ import annotations

from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.fdb_pane import FdbPane
from tests.dashboard import select_in_tree, table_rows, tree_keys, wait_for
from tests.ovs import TEST_GUEST_MAC, UPLINK_MAC, build_lab, private_ovs


async def test_fdb_and_bonds_panes_show_ovs_and_a_new_port_appears(monkeypatch):
    with private_ovs() as ovs:
        build_lab(ovs)
        for name, value in ovs.env.items():
            monkeypatch.setenv(name, value)
        app = KvmtuiApp(DashboardOptions(netns=ovs.netns, uri="test:///default", interval=0.5))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None and "link:br0" in tree_keys(app),
                           what="the OVS bridge in the tree")
            await select_in_tree(pilot, app, "link:br0")
            await pilot.press("2")
            pane = app.query_one(FdbPane)
            await wait_for(pilot, lambda: {r.mac for r in pane.visible_rows} >= {UPLINK_MAC, TEST_GUEST_MAC},
                           what="br0's OVS FDB on screen")
            rows = {r.mac: r for r in pane.visible_rows}
            assert (rows[TEST_GUEST_MAC].port, rows[TEST_GUEST_MAC].vlan, rows[TEST_GUEST_MAC].owner) == (
                "vm1p", "100", "guest test")
            assert rows[UPLINK_MAC].port == "bond0"
            assert str(pane.query_one("#fdb-title").render()).startswith("FDB of br0")

            await pilot.press("3")
            await wait_for(pilot, lambda: any(r[:2] == ["bond0", "p1"] for r in table_rows(app, "BondsTable")),
                           what="the OVS bond in the Bonds pane")
            assert any(r[:2] == ["bond1", "q1"] and "may_enable false" in r[3] for r in table_rows(app, "BondsTable"))

            await pilot.press("1")
            ovs.vsctl("add-port", "br0", "kt-late0")  # no netlink event: the poll finds it
            await wait_for(pilot, lambda: "link:kt-late0" in tree_keys(app), timeout=15,
                           what="the port added with ovs-vsctl in the tree")
            ovs.receive("kt-late0", "52:54:00:be:ef:01")  # learned by OVS alone: the poll re-reads the FDB
            await pilot.press("2")
            await wait_for(pilot, lambda: "52:54:00:be:ef:01" in {r.mac for r in pane.visible_rows}, timeout=15,
                           what="a MAC OVS learned since, in the FDB pane")
