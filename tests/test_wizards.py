"""Wizards driven by keys on real namespaces: to the diff, confirmed, and the result on
screen and in the kernel; cancel changes nothing; read-only offers no wizard."""

from __future__ import annotations


import pytest

from kvmtui.topology import walk
from kvmtui.ui.app import DashboardOptions, KvmtuiApp
from kvmtui.ui.forms import ConfirmScreen, ProgressScreen, WizardScreen
from tests.helpers import sh
from tests.dashboard import field_error, select_in_tree, tree_keys, wait_for
from tests.helpers import links


def ports_ns(netns: str) -> str:
    for n in (1, 2):
        sh("ip", "-n", netns, "link", "add", f"kt-p{n}", "type", "veth", "peer", "name", f"kt-q{n}")
    return netns


async def open_app(pilot_size=(120, 40), **options):
    return KvmtuiApp(DashboardOptions(with_libvirt=False, interval=60, **options))


async def open_wizard(pilot, app, keys: tuple[str, ...] = ("n", "b"), what: str = "the wizard") -> None:
    """Wait for the first snapshot, then open a wizard with its keys (new bridge by default)
    and wait until its first field has focus: keys typed before that would be lost."""
    await wait_for(pilot, lambda: app.snapshot is not None, what="the first snapshot")
    await pilot.press(*keys)
    await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen.focused is not None, what=what)


async def type_name(pilot, name: str) -> None:
    await pilot.press("ctrl+u", *name)  # the name field has focus; clear its default first


async def confirm_and_apply(pilot, app, what: str) -> list[str]:
    """On the confirmation screen: y, wait for the steps to finish, Enter; the progress lines."""
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what=f"the {what} confirmation")
    await pilot.press("y")
    await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen) and app.screen.finished, what=what)
    lines = list(app.screen.lines)
    await pilot.press("enter")
    return lines


async def select_in_list(pilot, app, field: str, wanted: list[str]) -> None:
    """Tick exactly `wanted` by keys: the wizard may have ticked the node under the tree's
    cursor already, and that one is unticked unless wanted."""
    from textual.widgets import SelectionList

    widget = app.screen.query_one(f"#field-{field}", SelectionList)
    widget.focus()
    await pilot.pause()
    for index in range(widget.option_count):
        value = widget.get_option_at_index(index).value
        if (value in wanted) != (value in widget.selected):
            widget.highlighted = index
            await pilot.press("space")


async def test_bridge_wizard_to_confirmed_result(netns):
    ports_ns(netns)
    app = await open_app(netns=netns)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_wizard(pilot, app)
        await type_name(pilot, "kt-br9")
        await select_in_list(pilot, app, "ports", ["kt-p1", "kt-p2"])
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        shown = str(app.screen.text)
        assert any(line.startswith("+") and "kt-br9 bridge" in line for line in shown.splitlines())
        assert "ip link add name kt-br9 type bridge" in shown
        assert "kt-br9" not in links(netns)  # nothing changed before the user confirms
        assert "verified" in "\n".join(await confirm_and_apply(pilot, app, "bridge"))
        found = links(netns)
        assert found["kt-p1"]["master"] == found["kt-p2"]["master"] == "kt-br9"
        await wait_for(pilot, lambda: "link:kt-br9" in tree_keys(app), what="the new bridge in the tree")

        # delete it again from the tree: d, confirm
        await select_in_tree(pilot, app, "link:kt-br9")
        await pilot.press("d")
        await confirm_and_apply(pilot, app, "delete")
        await wait_for(pilot, lambda: "link:kt-br9" not in tree_keys(app), what="the bridge gone from the tree")
        assert "kt-br9" not in links(netns)


async def test_cancel_leaves_the_host_untouched(netns):
    ports_ns(netns)
    before = links(netns).keys()
    app = await open_app(netns=netns)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_wizard(pilot, app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("n")  # back in the wizard, then out of it
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen), what="back in the wizard")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, (ConfirmScreen, WizardScreen, ProgressScreen)),
                       what="back on the dashboard")
        await open_wizard(pilot, app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, WizardScreen), what="the wizard closed")
    assert links(netns).keys() == before


async def test_a_bad_field_shows_its_error_there(netns):
    ports_ns(netns)
    app = await open_app(netns=netns)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_wizard(pilot, app)
        await type_name(pilot, "kt-far-too-long-name")
        await pilot.press("ctrl+s")
        await field_error(pilot, app, "name", "at most 15 bytes")
        assert isinstance(app.screen, WizardScreen)
    assert "kt-far-too-long-name" not in links(netns)


async def test_readonly_offers_no_wizard(netns):
    ports_ns(netns)
    app = await open_app(netns=netns, readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the first snapshot")
        for key in ("n", "a", "d"):
            await pilot.press(key)
            await pilot.pause(0.2)
            assert not isinstance(app.screen, (WizardScreen, ConfirmScreen))
        footer = " ".join(b.binding.description for b in app.active_bindings.values() if b.binding.show and b.enabled)
        assert "New" not in footer and "Attach" not in footer


@pytest.mark.kernelvm
async def test_bond_and_vlan_wizards(netns):
    for name in ("kt-d0", "kt-d1"):
        sh("ip", "-n", netns, "link", "add", name, "type", "dummy")
    app = await open_app(netns=netns)
    async with app.run_test(size=(120, 45)) as pilot:
        await open_wizard(pilot, app, ("n", "o"))
        await type_name(pilot, "kt-bond0")
        await select_in_list(pilot, app, "slaves", ["kt-d0", "kt-d1"])
        await pilot.press("ctrl+s")
        await confirm_and_apply(pilot, app, "bond")
        await wait_for(pilot, lambda: "link:kt-bond0" in tree_keys(app), what="the bond in the tree")
        bonding = sh("ip", "netns", "exec", netns, "cat", "/proc/net/bonding/kt-bond0")
        assert "fault-tolerance (active-backup)" in bonding and "Slave Interface: kt-d1" in bonding

        await select_in_tree(pilot, app, "link:kt-bond0")
        await open_wizard(pilot, app, ("n", "v"), "the VLAN wizard")
        app.screen.query_one("#field-vid").focus()
        await pilot.press(*"100", "ctrl+s")
        await confirm_and_apply(pilot, app, "VLAN")
        await wait_for(pilot, lambda: "link:kt-bond0.100" in tree_keys(app), what="the VLAN in the tree")
        assert links(netns)["kt-bond0.100"]["linkinfo"]["info_data"]["id"] == 100


@pytest.mark.libvirt
async def test_attach_wizard_and_detach_on_a_real_guest():
    from tests.guests import diskless_guest, kt_bridge, unique_name
    from tests.guests import domiflist

    with kt_bridge() as bridge, diskless_guest(unique_name("w"), []) as dom:
        app = KvmtuiApp(DashboardOptions(interval=60))
        async with app.run_test(size=(120, 45)) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None and any(d.name == dom.name() for d in app.snapshot.domains),
                           what="the guest")
            await select_in_tree(pilot, app, f"link:{bridge}")
            await open_wizard(pilot, app, ("a",), "the attach wizard")
            await pilot.press("enter", *dom.name(), "enter")  # the guest: open the list, type to find, pick
            await wait_for(pilot, lambda: app.screen.values()["domain"] == dom.name(), what="the guest chosen")
            app.screen.query_one("#field-model").focus()
            await pilot.press("ctrl+u", *"usb-net")
            app.screen.query_one("#field-live").focus()
            await pilot.press("space", "ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
            assert f"source bridge=\"{bridge}\"" in str(app.screen.text)
            assert "verified" in "\n".join(await confirm_and_apply(pilot, app, "attach"))
            (mac,) = [m for m, row in domiflist(dom.name()).items() if row["source"] == bridge]
            def guest_nic_key() -> str | None:
                return next((n.key for _, n in walk(app.forest)
                             if n.key.startswith("guest:") and n.ref is None and mac in n.summary), None)

            await wait_for(pilot, lambda: guest_nic_key() is not None, what="the new guest NIC in the tree")
            key = guest_nic_key()
            await select_in_tree(pilot, app, key)
            await pilot.press("d")
            await confirm_and_apply(pilot, app, "detach")
            assert mac not in domiflist(dom.name())


async def test_a_number_field_with_a_bare_sign_is_a_field_error(netns):
    """Textual's integer Input accepts '-' and '1_' while typing; submitting them says so at the field."""
    ports_ns(netns)
    app = await open_app(netns=netns)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_wizard(pilot, app)
        await type_name(pilot, "kt-br8")
        for typed in (("minus",), ("1", "underscore")):
            app.screen.query_one("#field-forward_delay").focus()
            await pilot.press("ctrl+u", *typed, "ctrl+s")
            await field_error(pilot, app, "forward_delay", "is not a whole number")
            assert isinstance(app.screen, WizardScreen) and app.is_running
    assert "kt-br8" not in links(netns)


async def test_enter_twice_reaches_the_confirmation_and_applies_nothing(netns):
    """Enter in a field submits the wizard; the next Enter must not apply unread warnings: only y does."""
    ports_ns(netns)
    app = await open_app(netns=netns)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_wizard(pilot, app)
        await type_name(pilot, "kt-br7")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("enter", "enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ConfirmScreen) and "kt-br7" not in links(netns)
        keys = str(app.screen.query_one("#confirm-keys").render())
        assert "y apply" in keys and "Enter" not in keys
        assert "verified" in "\n".join(await confirm_and_apply(pilot, app, "bridge"))
    assert "kt-br7" in links(netns)
    sh("ip", "-n", netns, "link", "del", "kt-br7")


async def test_attach_wizard_defaults_to_vepa_and_refuses_bridge_and_macvtap_together():
    """On the recorded host (no libvirt needed: the wizard only plans)."""
    from textual.widgets import Select

    from kvmtui.cli import read_snapshot_file
    from kvmtui.ui.wizards import attach_wizard
    from tests.helpers import REPO

    snapshot = read_snapshot_file(str(REPO / "examples" / "kvm-host.json"))
    plans = []
    app = KvmtuiApp(DashboardOptions(), recorded=snapshot)  # a recording offers no `a`: the wizard is pushed
    async with app.run_test(size=(120, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="the recorded snapshot")
        await app.push_screen(attach_wizard(snapshot, "web1", "br100"), plans.append)
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen), what="the attach wizard")
        assert app.screen.values()["mode"] == "vepa"
        app.screen.query_one("#field-macvtap", Select).value = "bond0"
        await pilot.press("ctrl+s")
        await field_error(pilot, app, "macvtap", "not both")
        assert plans == []
        app.screen.query_one("#field-bridge", Select).clear()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: plans, what="the plan")
    assert 'mode="vepa"' in plans[0].xml[0] and "bond0" in plans[0].xml[0]
