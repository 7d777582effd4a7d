"""Plan -> confirm -> apply, for the dashboard: the wizards' side of the app.

Mixed into KvmtuiApp; uses its snapshot, selection and options. The apply itself runs
in a worker thread (pyroute2's sync API needs a thread without an event loop) and
reports each step as a message.
"""

from __future__ import annotations

from textual import work

from kvmtui.node_keys import guest_uuid_of, ifname_of, is_guest
from kvmtui.ui.messages import ApplyDone, ApplyStep


RECORDED_REFUSAL = "recorded host: nothing can be applied"


class WizardFlow:
    WIZARD_ACTIONS = ("new", "attach", "delete")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Read-only offers no action that changes the host (docs/readonly.md). A recorded
        snapshot runs the wizards up to the confirmation, which says nothing can be applied."""
        if action in self.WIZARD_ACTIONS and self.readonly:
            return False
        return True

    def _selected_domain(self) -> str | None:
        uuid = guest_uuid_of(self.selected)
        if uuid is not None and self.snapshot is not None:
            return next((d.name for d in self.snapshot.domains if d.uuid == uuid), None)
        return None

    def action_new(self) -> None:
        from kvmtui.ui.wizards import WIZARDS, NewWhatScreen

        def chosen(what: str | None) -> None:
            if what and self.snapshot is not None:
                self.run_wizard(WIZARDS[what](self.snapshot, self.selected_ifname()))

        self.push_screen(NewWhatScreen(), chosen)

    def action_attach(self) -> None:
        from kvmtui.ui.wizards import attach_wizard

        if self.snapshot is not None:
            self.run_wizard(attach_wizard(self.snapshot, self._selected_domain(), self.selected_ifname()))

    def action_delete(self) -> None:
        """Detach the selected guest NIC, or delete the selected bridge, bond or VLAN (one that
        carries addresses through a wizard that offers to move them to a port)."""
        from kvmtui.facts import guest_nic_of
        from kvmtui.plan import DeleteLink, DetachInterface, PlanError, make_plan
        from kvmtui.ui.delete_wizard import carries_addresses, delete_wizard

        if self.snapshot is None or self.selected is None:
            return
        ifname = ifname_of(self.selected)
        if is_guest(self.selected):
            found = guest_nic_of(self.snapshot, self.selected)
            if found is None:  # detached since the tree was drawn
                return
            domain, nic = found
            intent = DetachInterface(domain.name, nic.mac or "")
        elif ifname is not None and carries_addresses(self.snapshot, ifname):
            self.run_wizard(delete_wizard(self.snapshot, ifname))
            return
        elif ifname is not None:
            intent = DeleteLink(ifname)
        else:
            return
        try:
            self.confirm_plan(make_plan(intent, self.snapshot))
        except PlanError as exc:
            self.notify(str(exc), title="cannot plan that", severity="error")

    def run_wizard(self, wizard) -> None:
        """The confirmation opens over the wizard: cancelling it returns to the fields as they were."""
        wizard.confirm = self.confirm_screen
        self.push_screen(wizard, lambda plan: self._start_apply(plan) if plan is not None else None)

    def confirm_screen(self, plan):
        from kvmtui.plan.diff import confirmation
        from kvmtui.session import ssh_connection
        from kvmtui.ui.forms import ConfirmScreen

        return ConfirmScreen(confirmation(plan, self.snapshot, ssh_connection()),
                             None if self.live else RECORDED_REFUSAL)

    def confirm_plan(self, plan) -> None:
        if plan is None or self.snapshot is None:
            return
        self.push_screen(self.confirm_screen(plan), lambda ok: self._start_apply(plan) if ok else None)

    def _start_apply(self, plan) -> None:
        from kvmtui.ui.forms import ProgressScreen

        if not self.live:  # the confirmation offers no `y` here; nothing reaches the host regardless
            self.notify(RECORDED_REFUSAL, title="not applied", severity="warning")
            return
        self._progress = ProgressScreen(plan.title)
        self.push_screen(self._progress)
        self.apply_plan(plan)

    @work(thread=True, group="apply", description="apply", exit_on_error=False)
    def apply_plan(self, plan) -> None:
        from kvmtui.apply import Executor

        def progress(number: int, step, state: str) -> None:
            self.post_message(ApplyStep(number, len(plan.steps), step.command, state))

        report = Executor(self.options.netns, self.options.uri, self.readonly).apply(plan, progress)
        self.post_message(ApplyDone(report.ok, report.summary()))

    def on_apply_step(self, message: ApplyStep) -> None:
        if self._progress is not None:
            self._progress.add(f"[{message.number}/{message.total}] {message.state:7} {message.command}")

    def on_apply_done(self, message: ApplyDone) -> None:
        if self._progress is not None:
            self._progress.finish(message.summary, message.ok)
        self.updates.request_refresh(0)

    def apply_failed(self, error: str) -> None:
        """The executor raised (e.g. refused in read-only mode): say so where the user looks."""
        if self._progress is not None:
            self._progress.finish(error, ok=False)
