"""Every device kind in the registry (kvmtui/kinds/) reaches the user twice, from one spec:
as a `kvmtui plan|apply` subcommand whose every option has a help line, and as a wizard
whose fields are the spec's, in its order, with its labels."""

from __future__ import annotations

import contextlib
import io
from dataclasses import replace

import pytest
from textual.widgets import OptionList

from kvmtui.cli import build_parser, read_snapshot_file
from kvmtui.kinds import COMMANDS, KINDS, Selection
from kvmtui.kinds.delete import carries_addresses
from kvmtui.model import OvsBridge, OvsState
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.forms import WizardScreen
from kvmtui.ui.wizards import NewWhatScreen, wizard
from tests.helpers import REPO
from tests.dashboard import wait_for

EXAMPLE = REPO / "examples" / "kvm-host.json"


def help_of(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        build_parser().parse_args([*argv, "--help"])
    assert exited.value.code == 0
    return out.getvalue()


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("verb", ("plan", "apply"))
def test_every_kind_has_a_subcommand_with_a_help_line_per_option(verb, kind):
    spec = KINDS[kind]
    listing = help_of(verb)
    assert any(line.split()[:1] == [spec.subcommand] and spec.help in line for line in listing.splitlines()), listing
    text = "".join(help_of(verb, spec.subcommand).split())  # argparse wraps at spaces and hyphens
    for param in spec.params:
        shown = param.option or param.name
        assert shown in text, (kind, shown)
        assert "".join(param.help.split()) in text, (kind, param.name, param.help)
        if param.required and param.option:  # in the usage line without brackets
            assert f"[{param.option}" not in text.split("options:")[0], (kind, param.option)


def selection_for(command: str, snapshot) -> Selection:
    if command == "set":  # a bridge: its form has every field but a bond's (tests/test_set_bond_plan.py)
        return Selection(next(l.ifname for l in snapshot.links if l.kind == "bridge"))
    if command == "delete":  # its form opens on a bridge or bond that carries addresses
        return Selection(next(l.ifname for l in snapshot.links if carries_addresses(snapshot, l.ifname)))
    if command == "guest-set":  # a guest's bridge NIC: its form has every field
        return Selection(domain="web1", mac="52:54:00:6b:01:01")
    return Selection("eno1", "web1")


@pytest.mark.parametrize("command", sorted(name for name, c in COMMANDS.items() if c.spec.wizard))
async def test_every_wizard_shows_the_fields_of_its_spec(command):
    snapshot = read_snapshot_file(str(EXAMPLE))
    app = KvmtuiApp(DashboardOptions(), recorded=snapshot)
    spec_fields = COMMANDS[command].form_params
    assert spec_fields, f"{command} has a wizard but no field for it"
    async with app.run_test(size=(120, 60)) as pilot:
        await wait_for(pilot, lambda: app.audits_shown > 0, what="the dashboard with its findings")
        await app.push_screen(wizard(COMMANDS[command], snapshot, selection_for(command, snapshot)))
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen), what="the wizard")
        shown = [widget.id.removeprefix("field-") for widget in app.screen.query("*")
                 if (widget.id or "").startswith("field-")]
        selection = selection_for(command, snapshot)
        asked = [param for param in spec_fields if param.offered(snapshot, selection) is not None]
        assert shown == [p.name for p in asked]
        labels = [str(label.render()) for label in app.screen.query(".field-label")]
        assert labels == [param.offered(snapshot, selection).label or param.label
                          for param in asked if param.widget != "flag"]  # a checkbox carries its own

@pytest.mark.parametrize("keys, pressed, ovs", [("bnovx", "bnovx", None),
                                                 ("bdnopsvx", "dps", OvsState((OvsBridge("ovsbr0", "system", ()),)))])
async def test_the_new_menu_offers_the_kinds_with_a_key(keys, pressed, ovs):
    """b, n, o, v and x: the kinds that say they are made under `n`, each opening its own wizard;
    where Open vSwitch runs, also its bridge (s), bond (d) and port (p) (only those pressed there)."""
    snapshot = replace(read_snapshot_file(str(EXAMPLE)), ovs=ovs)
    new = {spec.new_key: spec for spec in KINDS.values() if spec.new_key and spec.available(snapshot)}
    assert sorted(new) == list(keys)
    app = KvmtuiApp(DashboardOptions(), recorded=snapshot)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.audits_shown > 0, what="the dashboard with its findings")
        for key, spec in new.items():
            if key not in pressed:
                continue
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, NewWhatScreen), what="the new menu")
            offered = app.screen.query_one(OptionList)
            assert sorted(offered.get_option_at_index(i).id for i in range(offered.option_count)) == sorted(
                spec.subcommand for spec in new.values())
            await pilot.press(key)
            await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen), what=f"the {spec.noun} wizard")
            assert app.screen.title_text == spec.title
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, WizardScreen), what="the dashboard")
