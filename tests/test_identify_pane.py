"""The details pane of a live dashboard shows the selected NIC's facts (issue 14): read by
ioctl in a worker when the node is chosen; none for a bridge or on a recording."""

from __future__ import annotations

from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from tests.dashboard import example_app, screen_text, select_in_tree, settle, wait_for
from tests.helpers import sh


async def test_a_veth_shows_its_driver_speed_and_offloads(netns):
    sh("ip", "-n", netns, "link", "add", "kt-rx", "type", "veth", "peer", "name", "kt-tx")
    sh("ip", "-n", netns, "link", "add", "kt-br", "type", "bridge")
    sh("ip", "netns", "exec", netns, "ethtool", "-K", "kt-rx", "rxvlan", "off")
    app = KvmtuiApp(DashboardOptions(netns=netns, with_libvirt=False, interval=60))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.link("kt-rx"), what="the veth")
        await select_in_tree(pilot, app, "link:kt-rx")
        await wait_for(pilot, lambda: "nic driver" in screen_text(app), what="the NIC facts in the details")
        text = screen_text(app)
        assert "veth 1.0" in text and "10000 Mb/s, full duplex, autoneg off" in text
        assert "rx-vlan-offload off" in text
        await select_in_tree(pilot, app, "link:kt-br")
        await pilot.pause(0.5)
        assert "nic driver" not in screen_text(app)  # a bridge is not a NIC
        await settle(pilot, app)


async def test_a_recording_reads_no_facts():
    app = example_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the recording")
        await select_in_tree(pilot, app, "link:eno1")
        await pilot.pause(0.3)
        assert "nic driver" not in screen_text(app) and "reading the driver" not in screen_text(app)
