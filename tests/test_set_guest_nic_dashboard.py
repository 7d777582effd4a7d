"""`e` on a guest NIC (or on its tap) opens the guest NIC's form with its current values,
and a changed value is planned; on the recorded KVM host, which the wizards run on up to
the confirmation (nothing is applied to a recording)."""

from __future__ import annotations

from textual.widgets import Checkbox, Select

from kvmtui.ui.forms import ConfirmScreen, WizardScreen
from tests.dashboard import example_app, select_in_tree, wait_for

WEB1 = "guest:9c2b753a-7424-4632-95a1-4f4b23c68330:52:54:00:6b:01:01"  # on br100 through vnet0


async def open_edit(pilot, app, key: str) -> WizardScreen:
    await wait_for(pilot, lambda: app.snapshot is not None, what="the recorded snapshot")
    await select_in_tree(pilot, app, key)
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen.focused is not None,
                   what="the guest NIC's form")
    return app.screen


async def test_e_on_a_guest_nic_opens_its_form_and_plans_a_change():
    app = example_app()
    async with app.run_test(size=(120, 45)) as pilot:
        screen = await open_edit(pilot, app, WEB1)
        assert screen.title_text == "Change 52:54:00:6b:01:01 of guest web1"
        assert screen.query_one("#field-link_state", Checkbox).value is True
        assert screen.query_one("#field-bridge", Select).value == "br100"
        assert screen.query_one("#field-model", Select).value == "virtio"
        screen.query_one("#field-link_state", Checkbox).value = False
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert "virsh update-device web1 nic.xml --live" in app.screen.text
        await pilot.press("escape")  # back to the form, then to the tree
        await wait_for(pilot, lambda: app.screen is screen, what="the form again")
        await pilot.press("escape")
        # its tap, vnet0, is libvirt's: `e` there changes the guest's NIC too
        screen = await open_edit(pilot, app, "link:vnet0")
        assert screen.title_text == "Change 52:54:00:6b:01:01 of guest web1"
