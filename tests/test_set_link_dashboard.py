"""`e` on the tree: the edit wizard opens on the selected device with its current values
(a bridge's STP, timers and MTU too; a NIC's without the bridge fields), and a changed
value goes through the confirmation to the kernel."""

from __future__ import annotations

from textual.widgets import Checkbox, Input

from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.forms import ConfirmScreen, ProgressScreen, WizardScreen
from tests.dashboard import select_in_tree, wait_for
from tests.helpers import links, sh


def stp_bridge(ns: str) -> None:
    """kt-br0 with STP on, forward delay 4 s, MTU 1400, port kt-p1."""
    sh("ip", "-n", ns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    sh("ip", "-n", ns, "link", "add", "kt-br0", "type", "bridge", "stp_state", "1", "forward_delay", "400")
    sh("ip", "-n", ns, "link", "set", "kt-p1", "master", "kt-br0")
    sh("ip", "-n", ns, "link", "set", "kt-br0", "mtu", "1400", "up")


def field_ids(app) -> list[str]:
    return [w.id.removeprefix("field-") for w in app.screen.query("*") if (w.id or "").startswith("field-")]


async def open_edit(pilot, app, key: str) -> None:
    await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.link(key.split(":")[1]) is not None,
                   what="the first snapshot")
    await select_in_tree(pilot, app, key)
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen.focused is not None,
                   what="the edit wizard")


async def test_e_on_a_bridge_opens_its_current_values_and_applies_a_change(netns):
    stp_bridge(netns)
    app = KvmtuiApp(DashboardOptions(with_libvirt=False, interval=60, netns=netns))
    async with app.run_test(size=(120, 50)) as pilot:
        await open_edit(pilot, app, "link:kt-br0")
        screen = app.screen
        assert screen.title_text == "Change bridge kt-br0"
        assert field_ids(app) == ["mtu", "up", "mac", "alias", "add_ports", "remove_ports", "stp", "forward_delay",
                                  "ageing", "vlan_filtering"]
        assert screen.query_one("#field-mtu", Input).value == "1400"
        assert screen.query_one("#field-stp", Checkbox).value is True
        assert screen.query_one("#field-forward_delay", Input).value == "4"
        assert screen.query_one("#field-up", Checkbox).value is True
        assert screen.query_one("#field-vlan_filtering", Checkbox).value is False
        # unchanged, it plans nothing and says so at the first field
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "nothing to change" in str(screen.query_one("#error-mtu").render()),
                       what="nothing to change")
        screen.query_one("#field-stp", Checkbox).value = False
        screen.query_one("#field-mtu", Input).value = "1300"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        shown = app.screen.text
        assert "ip link set kt-br0 mtu 1300" in shown and "ip link set kt-br0 type bridge stp_state 0" in shown
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen) and app.screen.finished, what="apply")
        assert "verified" in "\n".join(app.screen.lines)
    found = links(netns)["kt-br0"]
    assert found["mtu"] == 1300 and found["linkinfo"]["info_data"]["stp_state"] == 0


async def test_e_on_a_port_asks_no_bridge_fields(netns):
    stp_bridge(netns)
    app = KvmtuiApp(DashboardOptions(with_libvirt=False, interval=60, netns=netns))
    async with app.run_test(size=(120, 50)) as pilot:
        await open_edit(pilot, app, "link:kt-p1")
        assert field_ids(app) == ["mtu", "up", "mac", "alias"]
        assert app.screen.query_one("#field-up", Checkbox).value is False


async def test_readonly_offers_no_edit(netns):
    stp_bridge(netns)
    app = KvmtuiApp(DashboardOptions(with_libvirt=False, interval=60, netns=netns, readonly=True))
    async with app.run_test(size=(120, 50)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.link("kt-br0") is not None,
                       what="the first snapshot")
        await select_in_tree(pilot, app, "link:kt-br0")
        await pilot.press("e")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, WizardScreen)
