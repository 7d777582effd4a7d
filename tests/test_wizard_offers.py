"""What the wizards offer on the recorded host (examples/kvm-host.json), as the screen
shows it: the attach wizard only devices a macvtap can sit on, the bridge and bond
wizards only devices that can join, and under the field the ones left out and why."""

from __future__ import annotations

import pytest
from textual.widgets import SelectionList

from kvmtui.cli import read_snapshot_file
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.forms import WizardScreen
from kvmtui.ui.wizards import attach_wizard, bond_wizard, bridge_wizard
from tests.helpers import EXAMPLE
from tests.dashboard import wait_for



async def shown(make, field: str) -> tuple[list[str], str]:
    """The choices of `field` and the help line under it, as the wizard draws them."""
    snapshot = read_snapshot_file(str(EXAMPLE))
    app = KvmtuiApp(DashboardOptions(), recorded=snapshot)
    async with app.run_test(size=(120, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the recorded snapshot")
        await app.push_screen(make(snapshot))
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen), what="the wizard")
        widget = app.screen.query_one(f"#field-{field}")
        if isinstance(widget, SelectionList):
            values = [widget.get_option_at_index(i).value for i in range(widget.option_count)]
        else:
            values = [value for _, value in widget._options if isinstance(value, str)]
        helps = [" ".join(str(help_line.render()).split()) for help_line in app.screen.query(f"#help-{field}")]
        await pilot.press("escape")  # cancelled: back to the dashboard
        await wait_for(pilot, lambda: not isinstance(app.screen, WizardScreen), what="the dashboard")
    return values, " ".join(helps)


async def test_attach_offers_only_devices_a_macvtap_can_sit_on():
    values, _ = await shown(lambda s: attach_wizard(s, "web1", None), "macvtap")
    # the free NICs and bond0; eno1/eno2 are bond0's, eno3 and bond0.100 bridge ports, the rest bridges and taps
    assert values == ["eno4", "eno5", "eno6", "bond0"]


@pytest.mark.parametrize("make, field, offered, words", [
    (lambda s: bridge_wizard(s, None), "ports", ["eno4", "eno5", "eno6"],
     ("not offered:", "eno1, eno2 (slave of bond0)", "eno3 (port of br-mgmt)", "bond0 (carries macvtap0)",
      "vnet0 (guest web1's tap)")),
    (lambda s: bond_wizard(s, None), "slaves", ["eno5", "eno6"], ("eno1, eno2 (slave of bond0)", "eno4 (has addresses)", "bond0 (a bond)", "br100, br-mgmt (a bridge)")),
])
async def test_bridge_and_bond_wizards_say_what_they_leave_out(make, field, offered, words):
    values, help_line = await shown(make, field)
    assert values == offered  # the recorded host's free NICs (eno4 has addresses: no bond slave)
    for word in words:
        assert word in help_line, help_line
