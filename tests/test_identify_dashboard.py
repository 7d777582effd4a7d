"""The dashboard's port identification from the palette: listen on the selected veth with
a countdown (Esc stops early and shows what was heard; the VLAN wizard then offers the VLANs
heard), blink (veth cannot; read-only refuses)."""

from __future__ import annotations

import socket

from textual.widgets import Static

from kvmtui.collect.netns import run_in_netns
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.forms import WizardScreen
from kvmtui.ui.identify_screen import IdentifyScreen
from tests.dashboard import notifications, select_in_tree, settle, wait_for
from tests.wire_samples import listening, sample_traffic, wire_pair


def _send(sender: str) -> None:
    def open_socket() -> socket.socket:
        raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        raw.bind(("kt-tx", 0))
        return raw

    with run_in_netns(sender, open_socket) as raw:
        for frame in sample_traffic():
            raw.send(frame)


async def _palette(pilot, app, title: str) -> None:
    from textual.command import CommandList

    await pilot.press("ctrl+p", *title)
    await wait_for(pilot, lambda: any(l.option_count for l in app.screen.query(CommandList)), what=title)
    await pilot.pause(0.3)
    await pilot.press("enter")


async def test_listen_from_the_palette_and_stop_early(make_netns):
    sender, receiver = wire_pair(make_netns)
    app = KvmtuiApp(DashboardOptions(netns=receiver, with_libvirt=False, interval=60))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.link("kt-rx"), what="the veth")
        await select_in_tree(pilot, app, "link:kt-rx")
        await _palette(pilot, app, "identify: listen")
        await wait_for(pilot, lambda: isinstance(app.screen, IdentifyScreen), what="the identify screen")
        screen = app.screen
        await wait_for(pilot, lambda: listening(receiver), what="the packet socket")
        _send(sender)
        await pilot.pause(0.5)
        await pilot.press("escape")  # stops early, long before the 30 s
        await wait_for(pilot, lambda: screen.done, timeout=10, what="the result")
        text = "\n".join(screen.result_lines)
        assert "(stopped early)" in text and "10 (3 frames), 20 (5 frames), 4094 (1 frame)" in text
        assert "LLDP sw-core-1 port Gi1/0/7" in text and "root 1000.00:aa:bb:cc:dd:01" in text
        assert not listening(receiver)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, IdentifyScreen), what="the screen closed")
        # the VLAN wizard on kt-rx now offers the VLAN ids heard there, as a hint under the field
        await pilot.press("n", "v")
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen), what="the VLAN wizard")
        hint = " ".join(str(app.screen.query_one("#help-vid", Static).render()).split())
        assert hint == "seen on the wire: kt-rx: 10 (3 frames heard), 20 (5 frames heard), 4094 (1 frame heard)"
        await pilot.press("escape")
        await settle(pilot, app)


async def test_blink_from_the_palette(make_netns):
    _, receiver = wire_pair(make_netns)
    app = KvmtuiApp(DashboardOptions(netns=receiver, with_libvirt=False, interval=60))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.link("kt-rx"), what="the veth")
        await select_in_tree(pilot, app, "link:kt-rx")
        await _palette(pilot, app, "identify: blink")
        await wait_for(pilot, lambda: isinstance(app.screen, IdentifyScreen), what="the identify screen")
        screen = app.screen
        await wait_for(pilot, lambda: screen.done, timeout=10, what="the result")
        assert screen.result_lines == ["the driver veth cannot blink its port LED"]
        await pilot.press("enter")
        await settle(pilot, app)
    readonly = KvmtuiApp(DashboardOptions(netns=receiver, with_libvirt=False, interval=60, readonly=True))
    async with readonly.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: readonly.snapshot is not None and readonly.snapshot.link("kt-rx"), what="the veth")
        await select_in_tree(pilot, readonly, "link:kt-rx")
        await _palette(pilot, readonly, "identify: blink")
        await wait_for(pilot, lambda: any("is a change to the device" in n for n in notifications(readonly)),
                       what="the refusal")
        assert not isinstance(readonly.screen, IdentifyScreen)
        await settle(pilot, readonly)
