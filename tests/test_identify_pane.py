"""The details pane of a live dashboard shows the selected NIC's facts (issue 14): read by
ioctl in a worker when the node is chosen; none for a bridge; on a recording, those it holds."""

from __future__ import annotations

from dataclasses import replace

from kvmtui.model.wire import Neighbour, NicFacts, PortNeighbour
from kvmtui.serialize import read_snapshot_file
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from tests.dashboard import example_app, screen_text, select_in_tree, settle, wait_for
from tests.helpers import EXAMPLE, sh


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


async def test_a_recording_shows_the_facts_it_holds():
    facts = NicFacts("eno4", "ixgbe", "5.19.6", "0x800008ea", "0000:03:00.0", 10000, "full", True,
                     ("10000baseT/Full",), "a0:36:9f:00:00:04", (("rx-vlan-offload", True),), 512, 512, 0, 63)
    recorded = replace(read_snapshot_file(str(EXAMPLE)), nic_facts=(facts,))
    app = KvmtuiApp(DashboardOptions(), recorded=recorded)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the recording")
        await select_in_tree(pilot, app, "link:eno4")
        await wait_for(pilot, lambda: "ixgbe 5.19.6" in screen_text(app), what="the recorded facts")
        assert "0000:03:00.0" in screen_text(app) and "0 of 63 VFs enabled" in screen_text(app)
        await select_in_tree(pilot, app, "link:eno5")  # recorded without facts: none shown, none read
        await pilot.pause(0.3)
        assert "nic driver" not in screen_text(app) and "reading the driver" not in screen_text(app)
        await settle(pilot, app)


async def test_the_pane_shows_every_sources_neighbours():
    """The neighbours the recording holds on eno1, as lldpd, NetworkManager and networkd heard
    them (their readers are tested on real daemons in test_identify_*lldp*.py): each in the
    details labelled by its source, beside the switch the tree row names."""
    heard = (PortNeighbour("eno1", "lldpd", Neighbour("lldp", "52:54:00:00:00:0a", "Eth1/7", system_name="sw-a",
                                                      native_vlan=10)),
             PortNeighbour("eno1", "NetworkManager", Neighbour("lldp", "52:54:00:00:00:0a", "Eth1/7",
                                                               system_name="sw-a", native_vlan=10)),
             PortNeighbour("eno1", "networkd", Neighbour("cdp", "52:54:00:00:00:0b", "Gi0/3", system_name="sw-b")))
    recorded = replace(read_snapshot_file(str(EXAMPLE)), neighbours=heard)
    app = KvmtuiApp(DashboardOptions(), recorded=recorded)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the recording")
        await select_in_tree(pilot, app, "link:eno1")
        await wait_for(pilot, lambda: "networkd" in screen_text(app), what="the neighbours in the details")
        text = screen_text(app)
        for source, line in (("lldpd", "LLDP sw-a port Eth1/7"), ("NetworkManager", "LLDP sw-a port Eth1/7"),
                             ("networkd", "CDP sw-b port Gi0/3")):
            assert any(source in row and line in row for row in text.splitlines()), (source, text)
        assert "native VLAN 10" in text
        assert any("eno1 dummy" in row and "to sw-a port Eth1/7" in row for row in text.splitlines())  # its row
        await select_in_tree(pilot, app, "link:eno2")  # none known there: none shown
        await wait_for(pilot, lambda: "networkd" not in screen_text(app), what="eno2's details")
        assert "LLDP sw-a" not in screen_text(app)
        await settle(pilot, app)
