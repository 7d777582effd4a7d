"""Pilot tests of the live dashboard on real parts: a namespace it watches, the real libvirtd."""

from __future__ import annotations


import pytest

from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.fdb_pane import FdbPane
from kvmtui.ui.topology_pane import TopologyTree
from tests.helpers import sh
from tests.dashboard import label_name, status_line, table_rows, tree_keys, tree_labels, tree_node, wait_for
from tests.guests import diskless_guest, kt_bridge, kt_veth, unique_name, wait_until
from tests.frames import send_frame_from


async def test_tap_appears_and_disappears_without_a_key(netns):
    app = KvmtuiApp(DashboardOptions(netns=netns, with_libvirt=False, interval=0.5))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the first snapshot")
        sh("ip", "-n", netns, "tuntap", "add", "kt-tap7", "mode", "tap")
        await wait_for(pilot, lambda: "link:kt-tap7" in tree_keys(app), what="the new tap in the tree")
        assert any("kt-tap7" in label for label in tree_labels(app))
        sh("ip", "-n", netns, "link", "del", "kt-tap7")
        await wait_for(pilot, lambda: "link:kt-tap7" not in tree_keys(app), what="the tap gone from the tree")
        assert not any("kt-tap7" in label for label in tree_labels(app))


async def test_event_storm_is_one_refresh_not_hundreds(netns):
    app = KvmtuiApp(DashboardOptions(netns=netns, with_libvirt=False, interval=60))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the first snapshot")
        await pilot.pause(0.5)
        before = app.snapshots_shown
        batch = "\n".join(f"link add kt-s{n} type veth peer name kt-p{n}" for n in range(250))
        sh("sh", "-c", f"printf '%s\\n' '{batch}' | ip -n {netns} -batch -")  # 500 links, >1,000 events
        await wait_for(pilot, lambda: "link:kt-s249" in tree_keys(app) and "link:kt-p249" in tree_keys(app),
                       what="all new links on screen")
        await pilot.pause(1.0)
        assert app.snapshots_shown - before <= 5


async def test_tree_shows_uplink_bridge_tap_and_says_live(make_netns):
    """kt-wire -> kt-up (the veth uplink) -> br0 -> tap0..tap2 on screen, each under its
    parent; a quiet, watched host reads "live", never "N s old"."""
    from tests.topologies import build_host_like

    netns, peer = make_netns(), make_netns()
    build_host_like(netns, peer)
    app = KvmtuiApp(DashboardOptions(netns=netns, with_libvirt=False, interval=60))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: tree_node(app, "tap2") is not None, what="the bridge's taps in the tree")
        bridge = tree_node(app, "br0")
        assert label_name(bridge.parent) == "kt-up" and label_name(bridge.parent.parent) == "kt-wire"
        ports = [label_name(child) for child in bridge.children]
        assert ports[:3] == ["tap0", "tap1", "tap2"] and "bridge" in str(bridge.label)
        assert label_name(tree_node(app, "tap3").parent) == "br1"
        await pilot.pause(2.5)  # quiet: the age of the last event-driven read grows
        assert " · live, read " in status_line(app) and " old" not in status_line(app)


@pytest.mark.libvirt
async def test_guest_bridge_fdb_and_state_follow_libvirt():
    """A guest defined and started while the dashboard runs reaches the Guests pane and
    its state follows start/pause/destroy there; its bridge shows its FDB with the guest as
    owner; the guest's MAC showing up behind another port reaches the FDB pane and the
    findings through neighbour events alone (no libvirt event, no key)."""
    mac = "52:54:00:4b:74:11"
    with kt_bridge() as bridge, kt_veth() as (port, far_end):
        sh("ip", "link", "set", port, "master", bridge)
        nic = f"<interface type='bridge'><mac address='{mac}'/><source bridge='{bridge}'/><model type='virtio'/></interface>"
        app = KvmtuiApp(DashboardOptions(interval=1))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None and app.updates.libvirt.state is not None, what="the first snapshot")
            name = unique_name("g")

            def state() -> str | None:
                """The STATE cell of the guest's row in the Guests pane (symbol and word)."""
                row = next((row for row in table_rows(app, "#guests-table") if row[0] == name), None)
                return row[1].split(" ", 1)[1] if row else None

            with diskless_guest(name, [nic], start=False) as dom:
                await wait_for(pilot, lambda: state() == "shut off", what="the guest defined during the test")
                dom.create()
                await wait_for(pilot, lambda: state() == "running", what="the started guest")
                assert any(row[0] == name and row[3] == mac and row[4].startswith("vnet")
                           for row in table_rows(app, "#guests-table"))
                wait_until(lambda: sh("bridge", "fdb", "show", "br", bridge).count(mac), timeout=90,
                           what="the guest's MAC learned")
                tree = app.query_one(TopologyTree)
                await wait_for(pilot, lambda: tree.select_key(f"link:{bridge}"), what="the bridge in the tree")
                await pilot.press("2")
                pane = app.query_one(FdbPane)
                await wait_for(pilot, lambda: any(r.mac == mac for r in pane.visible_rows), what="the guest MAC in the FDB pane")
                row = next(r for r in pane.visible_rows if r.mac == mac)
                assert row.owner == f"guest {name}" and row.state == "learned" and row.port.startswith("vnet")

                dom.suspend()  # its DHCP retries would move the entry back
                await wait_for(pilot, lambda: state() == "paused", what="the paused guest")
                await pilot.pause(1.0)  # the refresh after the libvirt event is done
                send_frame_from(far_end, mac)
                await wait_for(pilot, lambda: any(r.mac == mac and r.port == port for r in pane.visible_rows),
                               what="the guest's MAC behind the veth in the FDB pane")
                key = f"guest:{dom.UUIDString()}:{mac}"
                await wait_for(pilot, lambda: any(f.rule == "bridge-mac-two-ports" and f.key == key for f in app.findings),
                               what="the finding on the guest's MAC")
                dom.destroy()
                await wait_for(pilot, lambda: state() == "shut off", what="the destroyed guest")


async def test_readonly_badge_and_recorded_snapshot(tmp_path):
    from tests.helpers import kvmtui

    recorded = tmp_path / "host.json"
    recorded.write_text(kvmtui("--no-libvirt", "dump", "--json").stdout)
    from kvmtui.cli import read_snapshot_file

    app = KvmtuiApp(DashboardOptions(readonly=True), read_snapshot_file(str(recorded)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the recorded snapshot")
        assert str(app.query_one("#badge").render()).strip() == "READ-ONLY"
        assert "recorded" in str(app.query_one("#status").render())
        assert any(" lo " in f" {label} " for label in tree_labels(app))
        await pilot.press("question_mark")
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.press("slash", "l", "o")
        await wait_for(pilot, lambda: [label.split()[1] for label in tree_labels(app)] == ["lo"], what="the filtered tree")
