"""The confirmation as the user meets it, by keys at 80x24 on examples/kvm-host.json: the
wizards run on a recorded host up to a confirmation that says nothing can be applied,
cancelling it returns to the wizard as it was, and deleting the bridge that carries the
host's address offers to move it to its port, or asks for the name before cutting the
default route."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Input, Select

from kvmtui.cli import read_snapshot_file
from kvmtui.kinds import DeleteLink, make_plan
from kvmtui.plan.diff import confirmation
from kvmtui.ui.forms import ConfirmScreen, WizardScreen
from scripts.screenshots import EXAMPLE, example_app, loaded, select
from tests.dashboard import wait_for
from tests.dashboard import SIZE, example_app as example_app_readonly, footer_keys, screen_text


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


async def key_on(pilot, kind: str, name: str, key: str, screen: type, what: str) -> None:
    """On the loaded recording: the cursor on this node, `key`, and wait for the screen it opens."""
    await loaded(pilot)
    await select(pilot, kind, name)
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, screen) and pilot.app.screen.focused is not None
                   if screen is WizardScreen else isinstance(pilot.app.screen, screen), what=what)


async def test_a_recorded_host_runs_the_wizards_to_a_confirmation_that_applies_nothing():
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert {"n New", "a Attach", "d Delete"} <= set(footer_keys(app))
        await pilot.press("n", "b")
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen.focused is not None,
                       what="the bridge wizard")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        shown = screen_text(app)
        assert "recorded host: nothing can be applied" in shown and "ip link add name br0 type bridge" in shown
        assert "y apply" not in shown
        await pilot.press("y")
        await wait_for(pilot, lambda: "recorded host: nothing can be applied" in notifications(app),
                       what="the notification")
        assert isinstance(app.screen, ConfirmScreen)  # still there: nothing ran


async def test_readonly_still_offers_no_wizard_on_a_recording():
    """docs/readonly.md: `n`, `a`, `d` are neither shown nor active."""
    app = example_app_readonly(readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await select(pilot, "bridge", "br-mgmt")
        for key in ("n", "a", "d"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert not isinstance(app.screen, (WizardScreen, ConfirmScreen)), key
        assert not {"n New", "a Attach", "d Delete"} & set(footer_keys(app))


async def test_d_on_a_guest_nic_shows_that_nic_and_its_tap_going():
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await key_on(pilot, "guest", "web1", "d", ConfirmScreen, "the detach confirmation")
        shown = screen_text(app)
        assert "−         vnet0 tun  tap" in shown and "−           web1 guest  52:54:00:6b:01:01" in shown
        assert "orphans" not in shown


async def test_cancelling_the_confirmation_returns_to_the_wizard_as_it_was():
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("n", "b")
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen.focused is not None,
                       what="the bridge wizard")
        wizard = app.screen
        await pilot.press("ctrl+u", *"brx", "tab", "tab", "space")  # name, past the ports, STP ticked
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert "ip link add name brx type bridge stp_state 1" in screen_text(app)
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is wizard, what="back in the wizard")
        assert (wizard.values()["name"], wizard.values()["stp"]) == ("brx", True)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, WizardScreen), what="the dashboard")


async def test_d_on_the_bridge_with_the_hosts_address_offers_its_port():
    app = example_app()
    async with app.run_test(size=SIZE) as pilot:
        await key_on(pilot, "bridge", "br-mgmt", "d", WizardScreen, "the delete wizard")
        shown = screen_text(app)
        assert "Delete bridge br-mgmt" in shown and "Move 192.0.2.10/24 and the default route to" in shown
        assert app.screen.values() == {"move_ip_to": "eno3"}  # the only port
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        shown = screen_text(app)
        assert "ip addr add 192.0.2.10/24 dev eno3" in shown and "ip route add default via 192.0.2.1 dev eno3" in shown
        assert app.screen.confirmation.typed is None
        await pilot.press("escape")  # back in the wizard: left empty, the route goes and the name is asked
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen), what="back in the delete wizard")
        app.screen.query_one("#field-move_ip_to", Select).clear()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert app.screen.confirmation.typed == "br-mgmt"
        assert "recorded host: nothing can be applied" in screen_text(app)  # recorded: still nothing applies


class ConfirmOnly(App):
    """The confirmation screen alone, as a live host shows it; what it returns is recorded."""

    def __init__(self, shown) -> None:
        super().__init__()
        self.shown, self.answers = shown, []

    def on_mount(self) -> None:
        self.push_screen(ConfirmScreen(self.shown), self.answers.append)


async def test_cutting_the_default_route_asks_for_the_devices_name():
    snapshot = read_snapshot_file(str(EXAMPLE))
    app = ConfirmOnly(confirmation(make_plan(DeleteLink("br-mgmt"), snapshot), snapshot))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        shown = screen_text(app)
        assert "type br-mgmt and Enter to apply" in shown and "y apply" not in shown
        await pilot.press("y", "enter")  # y is only a letter here
        await wait_for(pilot, lambda: "that is not br-mgmt: nothing applied" in notifications(app), what="the refusal")
        assert app.answers == [] and app.screen.query_one("#confirm-typed", Input).value == "y"
        await pilot.press("ctrl+u", *"br-mgmt", "enter")
        await wait_for(pilot, lambda: app.answers == [True], what="the typed confirmation")
