"""Plan -> confirm -> apply, for the dashboard: the wizards' side of the app.

An object the app owns; it reads the app's snapshot, selection and options, and opens
screens through it. The apply itself runs in a worker thread (pyroute2's sync API needs
a thread without an event loop) and reports each step as a message, which the app's
handlers pass back here.

A plan that may cut the session or the default route (or any plan, with the dashboard's
`confirm` option) is applied as `kvmtui apply` does it: guarded (kvmtui/guard/), with a
countdown to keep it once verified, which the confirmation announces and the app's
GuardWatch asks about (guard_bar.py). Every apply keeps off what an open guard holds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kvmtui.guard.journal import PENDING
from kvmtui.model import Snapshot
from kvmtui.node_keys import guest_uuid_of, ifname_of, is_guest
from kvmtui.ui.messages import ApplyDone, ApplyStep

RECORDED_REFUSAL = "recorded host: nothing can be applied"
APPLY = "apply"  # the worker group: the app refuses to quit while one runs


def refused(saved) -> str | None:
    """In the apply's worker (it runs the backend's checker, netplan generate or ifup
    --syntax-check): why the configuration cannot be saved, before anything changes."""
    from kvmtui.apply.persist_files import refusal_of

    why = refusal_of(saved.backend, saved.changes)
    return None if why is None else (f"cannot save the change in {saved.backend}: {why}; nothing changed "
                                     "(`kvmtui apply --no-persist` applies it live only)")


def written(saved) -> str:
    """In the apply's worker, after the change was verified: write its configuration files."""
    from kvmtui.apply.persist_files import write_saved
    from kvmtui.errors import KvmtuiError

    try:
        return "\n".join(write_saved(saved.backend, saved.changes))
    except KvmtuiError as exc:
        return f"the change is live but NOT saved: {exc}"


@dataclass(frozen=True, slots=True)
class Confirmed:
    """What the confirmation showed, so that the apply is the one announced: the plan, the
    countdown (None: unguarded), the snapshot it was planned on, the SSH session it spared."""

    plan: object
    seconds: int | None
    before: Snapshot | None
    ssh: str | None
    saved: object = None  # the configuration files it writes (kvmtui.persist.saved.SavedChange), or None


def _guest_nic_behind(snapshot: Snapshot, ifname: str | None):
    """(guest, NIC) whose tap or macvtap this device is, or None."""
    owner = snapshot.running_guest_devices.get(ifname or "")
    for domain in snapshot.domains:
        if domain.name == owner:
            return next(((domain, nic) for nic in domain.interfaces if nic.target == ifname), None)
    return None


class WizardFlow:
    ACTIONS = ("new", "attach", "delete", "edit", "port_vlans")

    def __init__(self, app) -> None:
        """`app`: the KvmtuiApp, whose snapshot, selection and options the wizards start from."""
        self.app = app
        self._progress = None
        self._shown: Confirmed | None = None  # the last confirmation opened

    def allows(self, action: str) -> bool:
        """Read-only offers no action that changes the host (docs/readonly.md). A recorded
        snapshot runs the wizards up to the confirmation, which says nothing can be applied."""
        return not (action in self.ACTIONS and self.app.readonly)

    def _selected_domain(self) -> str | None:
        uuid, snapshot = guest_uuid_of(self.app.selected), self.app.snapshot
        if uuid is not None and snapshot is not None:
            return next((d.name for d in snapshot.domains if d.uuid == uuid), None)
        return None

    def new(self) -> None:
        from kvmtui.kinds import COMMANDS, Selection
        from kvmtui.ui.wizards import NewWhatScreen, wizard

        def chosen(what: str | None) -> None:
            if what and self.app.snapshot is not None:
                snapshot = self.app.nic_facts.with_listened(self.app.snapshot)  # + VLANs identify heard
                self.run_wizard(wizard(COMMANDS[what], snapshot, Selection(self.app.selected_ifname())))

        self.app.push_screen(NewWhatScreen(self.app.snapshot), chosen)

    def attach(self) -> None:
        from kvmtui.ui.wizards import attach_wizard

        if self.app.snapshot is not None:
            self.run_wizard(attach_wizard(self.app.snapshot, self._selected_domain(), self.app.selected_ifname()))

    def edit(self) -> None:
        """Change the selected device, or guest NIC (also when its tap or macvtap is selected:
        libvirt owns that device, the NIC is what changes): the wizard starts at its current values."""
        from kvmtui.facts import guest_nic_of
        from kvmtui.ui.wizards import edit_wizard, guest_nic_wizard

        snapshot, selected = self.app.snapshot, self.app.selected
        if snapshot is None or selected is None:
            return
        ifname = ifname_of(selected)
        found = guest_nic_of(snapshot, selected) if is_guest(selected) else _guest_nic_behind(snapshot, ifname)
        if found is not None:
            self.run_wizard(guest_nic_wizard(snapshot, found[0].name, found[1].mac or ""))
            return
        if is_guest(selected):  # detached since the tree was drawn
            return
        if ifname is None or snapshot.link(ifname) is None:
            self.app.notify("select a device in the tree to change it", title="nothing to edit", severity="warning")
            return
        self.run_wizard(edit_wizard(snapshot, ifname))

    def port_vlans(self) -> None:
        """`v` on a port of a VLAN-aware bridge (or a guest NIC: its tap): its VLANs, trunk or
        access; elsewhere, why not."""
        from kvmtui.facts import guest_nic_of
        from kvmtui.kinds import COMMANDS, Selection
        from kvmtui.kinds.port_vlans import filtering_port
        from kvmtui.plan import PlanError
        from kvmtui.ui.wizards import wizard

        snapshot, selected = self.app.snapshot, self.app.selected
        ifname = None
        if snapshot is not None and selected is not None:
            found = guest_nic_of(snapshot, selected) if is_guest(selected) else None
            ifname = found[1].target if found is not None else ifname_of(selected)
        if snapshot is None or ifname is None:
            self.app.notify("select a port of a VLAN-aware bridge in the tree", title="no port", severity="warning")
            return
        try:
            filtering_port(snapshot, ifname)
        except PlanError as refusal:
            self.app.notify(str(refusal), title="no VLANs here", severity="warning")
            return
        self.run_wizard(wizard(COMMANDS["vlans"], snapshot, Selection(ifname)))

    def delete(self) -> None:
        """Detach the selected guest NIC, undefine the selected libvirt network, or delete the
        selected bridge, bond, VLAN, vxlan or macvlan (a bridge or bond that carries addresses
        through a wizard that offers to move them to a port)."""
        from kvmtui.facts import guest_nic_of
        from kvmtui.plan import PlanError
        from kvmtui.kinds import DeleteLink, DetachInterface, make_plan
        from kvmtui.kinds.delete import carries_addresses
        from kvmtui.kinds.ovs_delete import DeleteOvs, is_ovs_deletable
        from kvmtui.kinds.libvirt_network_undefine import UndefineNetwork
        from kvmtui.node_keys import network_of
        from kvmtui.ui.wizards import delete_wizard

        snapshot, selected = self.app.snapshot, self.app.selected
        if snapshot is None or selected is None:
            return
        ifname = ifname_of(selected)
        if is_guest(selected):
            found = guest_nic_of(snapshot, selected)
            if found is None:  # detached since the tree was drawn
                return
            domain, nic = found
            intent = DetachInterface(domain.name, nic.mac or "")
        elif (network := network_of(selected)) is not None:  # stop and undefine; an undo defines it again
            intent = UndefineNetwork(network)
        elif is_ovs_deletable(snapshot, ifname):  # an OVS bridge, port or bond: out of OVS (kinds/ovs_delete.py)
            intent = DeleteOvs(ifname)
        elif ifname is not None and carries_addresses(snapshot, ifname):
            self.run_wizard(delete_wizard(snapshot, ifname))
            return
        elif ifname is not None:
            intent = DeleteLink(ifname)
        else:
            return
        try:
            self.confirm_plan(make_plan(intent, snapshot))
        except PlanError as exc:
            self.app.notify(str(exc), title="cannot plan that", severity="error")

    def run_wizard(self, wizard) -> None:
        """The confirmation opens over the wizard: cancelling it returns to the fields as they were."""
        wizard.confirm = self.confirm_screen
        self.app.push_screen(wizard, lambda plan: self._start_apply(plan) if plan is not None else None)

    def confirm_screen(self, plan):
        """The plan as confirmed; on a live host it says whether a countdown follows (as
        `kvmtui apply`: 60 s when the plan is at risk, or the dashboard's `confirm` seconds)."""
        from kvmtui.guard.start import guard_policy
        from kvmtui.plan.diff import confirmation
        from kvmtui.session import ssh_connection
        from kvmtui.ui.forms import ConfirmScreen

        ssh, snapshot = ssh_connection(), self.app.snapshot
        shown = confirmation(plan, snapshot, ssh)
        seconds = guard_policy(shown.at_risk, self.app.options.confirm, False).seconds if self.app.live else None
        saved, lines = self._saved(plan, snapshot)
        self._shown = Confirmed(plan, seconds, snapshot, ssh, saved)
        return ConfirmScreen(replace(shown, countdown=seconds, saved=lines), None if self.app.live else RECORDED_REFUSAL)

    @staticmethod
    def _saved(plan, snapshot):
        """The configuration files the change writes, and how the confirmation shows them. One
        that cannot be written is said there, and `y` then applies the change live only."""
        from kvmtui.collect.netconfig import read_text
        from kvmtui.errors import KvmtuiError
        from kvmtui.persist.saved import saved_change

        from kvmtui.apply.persist_files import unwritable

        try:
            saved = saved_change(plan, snapshot, read_text)
            why = unwritable(saved.backend, saved.changes)
            if why is not None:
                raise KvmtuiError(f"cannot save the change in {saved.backend}: {why}")
        except KvmtuiError as exc:
            return None, (f"NOT saved: {exc} (y applies it live only: a reboot undoes it)",)
        return (saved if saved.changes else None), saved.lines()

    def confirm_plan(self, plan) -> None:
        if plan is None or self.app.snapshot is None:
            return
        self.app.push_screen(self.confirm_screen(plan), lambda ok: self._start_apply(plan) if ok else None)

    def _start_apply(self, plan) -> None:
        from kvmtui.ui.forms import ProgressScreen

        app = self.app
        if not app.live:  # the confirmation offers no `y` here; nothing reaches the host regardless
            app.notify(RECORDED_REFUSAL, title="not applied", severity="warning")
            return
        shown = self._shown
        if shown is None or shown.plan is not plan:  # every confirmation sets it: never expected
            self.confirm_screen(plan)
            shown = self._shown
        note = f"guarded: once verified, {shown.seconds} s to keep the change" if shown.seconds else None
        self._progress = ProgressScreen(plan.title, note)
        app.push_screen(self._progress)
        netns, uri, readonly = app.options.netns, app.options.uri, app.readonly

        def apply() -> None:
            from kvmtui.apply import Executor
            from kvmtui.guard.start import apply_guarded, check_unguarded

            def progress(number: int, step, state: str) -> None:
                app.post_message(ApplyStep(number, len(plan.steps), step.command, state))

            check_unguarded(plan, netns)  # a GuardConflict: the progress screen says so, nothing changed
            if shown.saved is not None and (refusal := refused(shown.saved)):
                app.post_message(ApplyDone(False, refusal, None))
                return
            executor = Executor(netns, uri, readonly)
            if shown.seconds:
                report, guard = apply_guarded(executor, plan, shown.before, shown.seconds, shown.ssh, progress,
                                              shown.saved)
            else:
                report, guard = executor.apply(plan, progress), None
            summary = report.summary()
            if report.ok and guard is None and shown.saved is not None:  # under a guard: written when kept
                summary += "\n" + written(shown.saved)
            app.post_message(ApplyDone(report.ok, summary, guard))

        app.run_worker(apply, thread=True, group=APPLY, description=APPLY, exit_on_error=False)

    def step(self, message: ApplyStep) -> None:
        if self._progress is not None:
            self._progress.add(f"[{message.number}/{message.total}] {message.state:7} {message.command}")

    def done(self, message: ApplyDone) -> None:
        """A verified guarded change: the question (keep or revert) takes the progress' place."""
        progress, guard = self._progress, message.guard
        if progress is not None:
            progress.finish(message.summary, message.ok)
        self.app.updates.request_refresh(0)
        if guard is not None and guard.state == PENDING:
            self.app.guards.ask(guard, message.summary, tuple(progress.lines[:-1]) if progress else (), progress)

    def failed(self, error: str) -> None:
        """The executor raised (e.g. refused in read-only mode): say so where the user looks."""
        if self._progress is not None:
            self._progress.finish(error, ok=False)
