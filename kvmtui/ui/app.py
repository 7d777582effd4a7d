"""The dashboard: layout, rendering, keys. Workers collect off the UI thread and post
immutable data; only message handlers touch widgets.

Keeping it current (sources, events, debounced reads, polling) is the LiveUpdates object
of live.py, which the app owns; plan -> confirm -> apply is wizard_flow.py; pending guards
(the bar, y/u, the question after a guarded apply) are the GuardWatch of guard_bar.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from kvmtui.audit import counts_text
from kvmtui.model import Snapshot
from kvmtui.node_keys import ifname_of
from kvmtui.topology import TopologyNode, build_forest
from kvmtui.ui.commands import VIEWS, KvmtuiCommands
from kvmtui.ui.details_pane import DetailsPane
from kvmtui.ui.fdb_pane import FdbPane
from kvmtui.ui.findings_pane import FindingChosen, FindingsPane, short_counts
from kvmtui.ui.guard_bar import GuardBar, GuardWatch
from kvmtui.ui.help import HelpScreen
from kvmtui.ui.layout import MainArea
from kvmtui.ui.messages import (ApplyDone, ApplyStep, BridgeFdbReady, FindingsReady, GuardActed, GuardsRead,
                                HostChanged, NodeChosen, PartRead, PollDone, SourceChanged, while_shown)
from kvmtui.ui.tables import BondsTable, GuestsTable, NetworksTable
from kvmtui.ui.live import LiveUpdates
from kvmtui.ui.nic_facts import NicFactsWatch
from kvmtui.ui.topology_pane import TopologyTree
from kvmtui.ui.wizard_flow import APPLY, WizardFlow
from kvmtui.views import (bond_rows, bridge_of, failure_baseline, fdb_rows, fdb_view_key, guest_rows, network_rows,
                          node_details)

# Package data: kvmtui/styles links to the top-level styles/ in a checkout, and the wheel carries the file.
STYLES = str(files("kvmtui") / "styles" / "kvmtui.tcss")
AUDIT_DELAY = 0.5  # seconds after a change is on screen before its findings are computed
STALE_TABS = ("guests", "networks")  # the panes that show libvirt's part


@dataclass(frozen=True, slots=True)
class DashboardOptions:
    netns: str | None = None
    uri: str | None = None
    with_libvirt: bool = True
    interval: float = 2.0
    readonly: bool = False
    confirm: int | None = None  # `--confirm S`: every apply guarded, S seconds to keep it (None: 60 s when at risk)


class KvmtuiApp(App[int]):
    CSS_PATH = STYLES
    TITLE = "kvmtui"
    COMMANDS = App.COMMANDS | {KvmtuiCommands}
    BINDINGS = [
        # The footer shows these in this order after the focused pane's keys; at 80 columns
        # what comes last may be cut off (`?` lists them all).
        Binding("question_mark", "help", "Help"),
        Binding("z", "zoom", "Zoom"),
        Binding("slash", "filter_tree", "Filter"),
        Binding("t", "focus_tree", "Tree"),
        Binding("n", "new", "New"),
        Binding("a", "attach", "Attach"),
        Binding("d", "delete", "Delete"),  # or detach, on a guest NIC: the wizard says which
        Binding("e", "edit", "Edit", show=False),  # in the help (the footer is full at 80 columns)
        Binding("v", "port_vlans", "VLANs", show=False),  # a VLAN-aware bridge port's VLANs; in the help
        Binding("r", "refresh", "Refresh", show=False),  # rarely needed (events keep it live); in the help
        Binding("y", "guard('keep')", "Keep", show=False),  # the guard bar names both (n is "new" here)
        Binding("u", "guard('revert')", "Revert", show=False),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False),  # as in htop and k9s; not while an apply runs
        *(Binding(str(n), f"show_view('{view}')", view.capitalize(), show=False) for n, view in enumerate(VIEWS, 1)),
    ]

    def __init__(self, options: DashboardOptions, recorded: Snapshot | None = None) -> None:
        """`recorded`: a snapshot read with --from; the app then shows it and watches nothing."""
        super().__init__()
        self.options = options
        self.recorded = recorded
        self.snapshot: Snapshot | None = None
        self.forest: tuple[TopologyNode, ...] = ()
        self.selected: str | None = None
        self.last_error: str | None = None
        self.updates = LiveUpdates(self, active=recorded is None)
        self.wizards = WizardFlow(self)
        self.guards = GuardWatch(self)
        self.nic_facts = NicFactsWatch(self)  # driver, firmware, speed... of the selected NIC (issue 14)
        self._fdb_shown: tuple | None = None  # what the FDB pane was last built from
        self._audit_timer = None
        self._failure_baseline: dict[tuple[str, str], int] = {}  # (bond, slave) -> count when first seen
        self.snapshots_shown = 0  # how many refreshes reached the screen (debounce is tested by it)
        self.audits_shown = 0  # how many sets of findings reached the screen
        self._status_text = ""
        self._audit_baseline: Snapshot | None = None
        self.findings: tuple = ()
        self._tab_labels: dict[str, str] = {}  # tab -> its label before it was marked stale

    @property
    def readonly(self) -> bool:
        return self.options.readonly

    @property
    def live(self) -> bool:
        return self.recorded is None

    # -- layout --------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="topbar"):
            yield Static("kvmtui", id="status")
            if self.readonly:
                yield Static(" READ-ONLY ", id="badge")
        yield GuardBar(id="guard-bar")
        with MainArea(id="main"):
            with Vertical(id="left"):
                yield Static("", id="tree-empty")
                yield TopologyTree(id="tree")
                yield Input(placeholder="filter the tree (Esc clears)", id="tree-filter")
            with TabbedContent(id="panes", initial="details"):
                with TabPane("1 Node", id="details"):
                    yield DetailsPane(id="details-pane")
                with TabPane("2 FDB", id="fdb"):
                    yield FdbPane(id="fdb-pane")
                with TabPane("3 Bonds", id="bonds"):
                    yield BondsTable(id="bonds-table")
                with TabPane("4 Guests", id="guests"):
                    yield GuestsTable(id="guests-table")
                with TabPane("5 Nets", id="networks"):
                    yield NetworksTable(id="networks-table")
                with TabPane("6 Findings", id="findings"):
                    yield FindingsPane(id="findings-pane")
        yield Footer(compact=True, show_command_palette=False)  # 80 columns: room for keys; ? names ctrl+p

    def on_mount(self) -> None:
        self.query_one("#tree-filter", Input).display = False
        self.query_one("#tree-empty", Static).display = False
        self.query_one(TopologyTree).focus()
        if self.recorded is not None:
            self.show_snapshot(self.recorded)
        else:
            self.updates.start()
            self.guards.start()
        self.set_interval(1.0, self.show_status)

    def on_unmount(self) -> None:
        self.updates.stop()

    # -- handlers: the only code that touches widgets --------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker failure becomes a visible error; schedules keep running."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        self.last_error = str(error)
        self.notify(str(error), title="kvmtui", severity="error", timeout=8)
        group = event.worker.group
        if group == APPLY:
            self.wizards.failed(str(error))
        self.updates.worker_failed(group)
        self.guards.worker_failed(group)
        self.show_status()

    def on_source_changed(self, message: SourceChanged) -> None:
        self.updates.source_changed(message.status)
        self.show_status()

    def on_apply_step(self, message: ApplyStep) -> None:
        self.wizards.step(message)

    def on_apply_done(self, message: ApplyDone) -> None:
        self.wizards.done(message)

    def on_guards_read(self, message: GuardsRead) -> None:
        self.guards.read_done(message)

    def on_guard_acted(self, message: GuardActed) -> None:
        self.guards.acted(message)

    def on_host_changed(self, message: HostChanged) -> None:
        self.updates.host_changed(message.event)

    @while_shown
    def on_part_read(self, message: PartRead) -> None:
        self.updates.part_read(message.source, message.part)

    @while_shown
    def on_bridge_fdb_ready(self, message: BridgeFdbReady) -> None:
        snapshot = self.updates.fdb_read(message.bridge, message.entries)
        if snapshot is not None:
            self.snapshot = snapshot
            self.show_fdb()
            self.schedule_audit()

    @while_shown
    def on_poll_done(self, message: PollDone) -> None:
        snapshot = self.updates.poll_done(message.result)
        if snapshot is not None:
            self.snapshot = snapshot
            self.show_bonds()
        if message.result.counters:
            self.show_details()

    def on_node_chosen(self, message: NodeChosen) -> None:
        bridge_before = bridge_of(self.snapshot, self.selected_ifname()) if self.snapshot else None
        self.selected = message.key
        self.show_details()
        if self.snapshot is not None and bridge_of(self.snapshot, self.selected_ifname()) != bridge_before:
            self.show_fdb()
            self.updates.request_fdb_refresh()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "fdb":  # built only while in view: what changed meanwhile shows now
            self.show_fdb()

    # -- rendering -----------------------------------------------------------------
    def show_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.snapshots_shown += 1
        if self._audit_baseline is None:
            from kvmtui.audit.engine import baseline

            self._audit_baseline = baseline(snapshot)
        self.forest = build_forest(snapshot)
        host = snapshot.host
        title = host.hostname + (f" netns {host.netns}" if host.netns else "")
        tree = self.query_one(TopologyTree)
        tree.show_forest(self.forest, title, snapshot)
        if self.selected is None:  # the details show the first node at once, not after a key
            tree.highlight_first()
        self.show_filter_result()
        self.show_details()
        self.show_fdb()
        self.show_bonds()
        self.query_one(GuestsTable).show(guest_rows(snapshot))
        self.query_one(NetworksTable).show(network_rows(snapshot))
        self.show_status()

    def selected_ifname(self) -> str | None:
        return ifname_of(self.selected)

    def show_details(self) -> None:
        tree = self.query_one(TopologyTree)
        if tree.nothing_matches:
            self.query_one(DetailsPane).show(self.no_match_text(), [], None, None)
            return
        if self.snapshot is None or self.selected is None:
            return
        title, lines = node_details(self.snapshot, self.forest, self.selected)
        ifname, live = self.selected_ifname(), self.updates
        lines = lines + self.nic_facts.lines(self.snapshot.link(ifname) if ifname else None)
        self.query_one(DetailsPane).show(title, lines, live.rates.get(ifname), live.history.get(ifname))

    def show_fdb(self) -> None:
        """Rebuilt only while the FDB tab is in view, and only when its bridge or what its
        rows are made of changed: at 50,000 entries a rebuild costs the UI ~150 ms."""
        if self.snapshot is None or self.query_one(TabbedContent).active != "fdb":
            return
        bridge = bridge_of(self.snapshot, self.selected_ifname())
        key = fdb_view_key(self.snapshot, bridge)
        if key == self._fdb_shown:
            return
        self._fdb_shown = key
        pane = self.query_one(FdbPane)
        if bridge is None:
            pane.show("FDB: select a bridge or port", [])
            return
        rows = fdb_rows(self.snapshot, bridge)
        pane.show(f"FDB of {bridge}", rows)

    def show_bonds(self) -> None:
        if self.snapshot is not None:
            self._failure_baseline = failure_baseline(self._failure_baseline, self.snapshot)
            self.query_one(BondsTable).show(bond_rows(self.snapshot, self._failure_baseline))
            self.schedule_audit()

    def schedule_audit(self) -> None:
        """Once the screen shows a change: the audit competes with it for the interpreter.
        Changes before the audit starts share one run, of the snapshot then on screen."""
        if self._audit_timer is None:
            self._audit_timer = self.set_timer(AUDIT_DELAY, self._start_audit)

    def _start_audit(self) -> None:
        self._audit_timer = None
        if self.snapshot is not None:
            self.run_audit(self.snapshot, self._audit_baseline)

    @work(thread=True, group="audit", description="audit", exclusive=True, exit_on_error=False)
    def run_audit(self, snapshot: Snapshot, baseline: Snapshot | None) -> None:
        """Findings of the snapshot on screen, against the first one (failure counts grown)."""
        from kvmtui.audit.engine import audit

        self.post_message(FindingsReady(audit(snapshot, baseline)))

    @while_shown
    def on_findings_ready(self, message: FindingsReady) -> None:
        self.findings = message.findings
        self.audits_shown += 1
        self.query_one(FindingsPane).show(message.findings)
        counts = short_counts(message.findings)
        self.query_one(TabbedContent).get_tab("findings").label = f"6 Findings {counts}".strip()
        self.show_status()

    def on_finding_chosen(self, message: FindingChosen) -> None:
        """Enter on a finding: to its object in the tree (the filter is cleared if it hides it)."""
        tree = self.query_one(TopologyTree)
        if not tree.select_key(message.key):
            self.apply_tree_filter("")
            if not tree.select_key(message.key):
                self.notify(f"{message.key} is not in the tree", severity="warning")
                return
        tree.focus()

    def mark_stale(self, stale: bool) -> None:
        """The panes that show libvirt's part say "(stale)" while it shows the last guests seen."""
        tabs = self.query_one(TabbedContent)
        for pane in STALE_TABS:
            tab = tabs.get_tab(pane)
            if stale and pane not in self._tab_labels:
                self._tab_labels[pane] = str(tab.label)
                tab.label = f"{self._tab_labels[pane]} (stale)"
            elif not stale and pane in self._tab_labels:
                tab.label = self._tab_labels.pop(pane)

    def show_status(self) -> None:
        parts = ["kvmtui"]
        snapshot = self.snapshot
        if snapshot is None:
            parts.append("reading the host…")
        else:
            parts.append(snapshot.host.hostname + (f" netns {snapshot.host.netns}" if snapshot.host.netns else ""))
        if self.live:
            parts += self.updates.freshness(snapshot)
        elif snapshot is not None:
            parts.append(f"recorded {snapshot.host.taken_at}")
            if snapshot.libvirt_error:
                parts.append("libvirt: unreachable")
        if self.findings:
            parts.append(f"findings: {counts_text(self.findings, zeros=False)}")
        if self.last_error:
            parts.append(f"error: {self.last_error}")
        text = " · ".join(parts)
        if text != self._status_text:  # an unchanged line costs no repaint
            self._status_text = text
            self.query_one("#status", Static).update(text)

    # -- actions -------------------------------------------------------------------
    @property
    def applying(self) -> bool:
        return any(worker.group == APPLY and not worker.is_finished for worker in self.workers)

    async def action_quit(self) -> None:
        """q and ctrl+c, except mid-apply: the change finishes or is rolled back first,
        as `kvmtui apply` rolls back on ctrl+c (quitting would leave half of it)."""
        if self.applying:
            self.notify("a change is being applied: kvmtui quits once it is done or rolled back",
                        title="not now", severity="warning")
            return
        await super().action_quit()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        return self.guards.can_act() if action == "guard" else self.wizards.allows(action)

    def action_guard(self, verb: str) -> None:
        """y keeps, u reverts now the guard the bar shows."""
        self.guards.act_on_shown(verb)

    def action_new(self) -> None:
        self.wizards.new()

    def action_attach(self) -> None:
        self.wizards.attach()

    def action_edit(self) -> None:
        self.wizards.edit()

    def action_port_vlans(self) -> None:
        self.wizards.port_vlans()

    def action_delete(self) -> None:
        """Detach the selected guest NIC, or delete the selected bridge, bond, VLAN, vxlan or macvlan."""
        self.wizards.delete()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_refresh(self) -> None:
        if self.live:
            self.updates.request_refresh(0)

    def action_view(self, view: str) -> None:
        self.query_one(TabbedContent).active = view
        target = {"fdb": "#fdb-table", "bonds": "#bonds-table", "guests": "#guests-table",
                  "networks": "#networks-table", "findings": "#findings-table"}.get(view)
        if target:
            self.query_one(target).focus()

    def action_zoom(self) -> None:
        """The focused side (tree or panes) to the full width, and back."""
        self.query_one(MainArea).toggle_zoom()

    def action_show_view(self, view: str) -> None:
        """1-6: the pane, in place of the tree when the tree is zoomed."""
        self.action_view(view)
        self.query_one(MainArea).show_panes()

    def action_focus_tree(self) -> None:
        self.query_one(TopologyTree).focus()

    def action_filter_tree(self) -> None:
        box = self.query_one("#tree-filter", Input)
        box.display = True
        box.focus()

    def apply_tree_filter(self, text: str) -> None:
        box = self.query_one("#tree-filter", Input)
        box.value = text
        box.display = bool(text)
        self.query_one(TopologyTree).set_filter(text)
        self.show_filter_result()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "tree-filter":
            self.query_one(TopologyTree).set_filter(event.value)
            self.show_filter_result()

    def no_match_text(self) -> str:
        return f"no node matches '{self.query_one(TopologyTree).filter_text}'"

    def show_filter_result(self) -> None:
        """A filter that hides every node says so, in the tree and the details: no details
        of a node the tree no longer shows, and no key acts on it."""
        tree = self.query_one(TopologyTree)
        empty = self.query_one("#tree-empty", Static)
        empty.display = tree.nothing_matches
        if tree.nothing_matches:
            empty.update(self.no_match_text())
            self.selected = None
            self.show_details()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "tree-filter":
            self.query_one(TopologyTree).focus()

    def key_escape(self) -> None:
        box = self.query_one("#tree-filter", Input)
        if box.display:
            self.apply_tree_filter("")
            self.query_one(TopologyTree).focus()


def run_app(args, recorded: Snapshot | None = None) -> int:
    options = DashboardOptions(netns=args.netns, uri=args.connect, with_libvirt=not args.no_libvirt,
                               interval=args.interval, readonly=args.readonly,
                               confirm=getattr(args, "confirm", None))  # whole seconds (parse_seconds), when given
    KvmtuiApp(options, recorded).run()
    return 0
