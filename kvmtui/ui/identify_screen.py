"""The dashboard's port identification (palette: "identify: ..."): listen to the selected
NIC for a while, or blink its port LED, with a countdown; Esc stops early, then closes.

The work runs in a thread worker (a packet socket read, or the PHYS_ID ioctl that blocks
in the kernel); this screen only shows its countdown and its result.
"""

from __future__ import annotations

import time

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from kvmtui.collect.netns import run_in_netns
from kvmtui.collect.wire import dropped_frames, open_listener, read_frames
from kvmtui.collect.wire_frames import WireTally
from kvmtui.errors import InterfaceNotFound, KvmtuiError
from kvmtui.model.wire import WireReport
from kvmtui.views_identify import wire_lines

LISTEN, BLINK = "listen", "blink"
SECONDS = {LISTEN: 30, BLINK: 20}


class IdentifyScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    IdentifyScreen { align: center middle; }
    #identify { width: 90%; max-width: 110; height: auto; max-height: 90%; border: round $primary;
                background: $surface; padding: 0 1; }
    #identify-result { height: auto; max-height: 30; }
    #identify-keys { margin-top: 1; border-top: solid $primary; color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "stop_or_close", "Stop/Close"), Binding("enter", "close_done", "Close", show=False)]

    def __init__(self, interface: str, netns: str | None, mode: str, seconds: int | None = None) -> None:
        super().__init__()
        self.interface, self.netns, self.mode = interface, netns, mode
        self.seconds = seconds or SECONDS[mode]
        self.stopping = False
        self.done = False
        self.started = time.monotonic()
        self.result_lines: list[str] = []

    def compose(self) -> ComposeResult:
        verb = "Listening on" if self.mode == LISTEN else "Blinking the port LED of"
        with Vertical(id="identify"):
            yield Static(f"[b]{verb} {escape(self.interface)}[/b] for {self.seconds} s", id="identify-title")
            yield Static("", id="identify-status")
            with VerticalScroll(id="identify-result"):
                yield Static("", id="identify-lines")
            yield Static("Esc stops early", id="identify-keys")

    def on_mount(self) -> None:
        if self.mode == BLINK:
            from kvmtui.apply.blink import install_wake_handler

            install_wake_handler()  # here, on the main thread: Esc interrupts the worker's ioctl with it
        self.started = time.monotonic()
        self.run_worker(self._listen if self.mode == LISTEN else self._blink, thread=True,
                        description=f"identify {self.mode} {self.interface}", exit_on_error=False)
        self.set_interval(0.5, self.tick)
        self.tick()

    def tick(self) -> None:
        if self.done:
            return
        left = max(0, self.seconds - (time.monotonic() - self.started))
        what = "stopping…" if self.stopping else f"{left:.0f} s left"
        self.query_one("#identify-status", Static).update(what)

    # -- in the worker thread -------------------------------------------------------------
    def _listen(self) -> None:
        try:
            sock = run_in_netns(self.netns, lambda: open_listener(self.interface))
        except InterfaceNotFound:
            self._finish([str(InterfaceNotFound(self.interface, self.netns))])
            return
        except KvmtuiError as exc:
            self._finish([str(exc)])
            return
        tally = WireTally()
        with sock:
            listened, early = read_frames(sock, self.seconds, tally, stop=lambda: self.stopping)
            dropped = dropped_frames(sock)
        report = tally.report(self.interface, listened if early else self.seconds, stopped_early=early, dropped=dropped)
        self._finish(wire_lines(report), report)

    def _blink(self) -> None:
        from kvmtui.apply.blink import Blinker

        try:
            blinker = Blinker(self.interface, self.seconds, self.netns).start()
        except KvmtuiError as exc:  # read-only, no such interface
            self._finish([str(exc)])
            return
        try:
            while not blinker.wait(0.2):
                if self.stopping:
                    blinker.stop()
        finally:
            blinker.close()
        if blinker.error:
            self._finish([str(blinker.error)])
        else:
            self._finish(["stopped early: the LED is back to normal" if self.stopping else "done"])

    def _finish(self, lines: list[str], report: WireReport | None = None) -> None:
        try:
            self.app.call_from_thread(self.show_result, lines, report)
        except RuntimeError:
            pass  # the app has gone meanwhile

    # -- back on the UI thread ------------------------------------------------------------
    def show_result(self, lines: list[str], report: WireReport | None = None) -> None:
        self.done, self.result_lines = True, lines
        if report is not None:
            self.app.nic_facts.remember(report)  # the VLAN wizard offers what it heard
        if not self.is_attached:
            return  # the app closed meanwhile
        self.query_one("#identify-status", Static).update("[b]done[/b]")
        self.query_one("#identify-lines", Static).update(escape("\n".join(lines)))
        self.query_one("#identify-keys", Static).update("Enter or Esc closes")

    def action_stop_or_close(self) -> None:
        if self.done:
            self.dismiss(None)
        else:
            self.stopping = True
            self.tick()

    def action_close_done(self) -> None:
        if self.done:
            self.dismiss(None)


def open_identify(app, mode: str) -> None:
    """The palette's entry: on the selected link of the live host, else a notice why not."""
    ifname = app.selected_ifname()
    if not app.live:
        app.notify("identify asks the NIC and the wire themselves: not on a recording", severity="warning")
    elif ifname is None or app.snapshot is None or app.snapshot.link(ifname) is None:
        app.notify("select a NIC (or any interface) in the tree first", severity="warning")
    elif mode == BLINK and app.readonly:  # the process refuses it too (apply/blink.py); say so before a screen
        from kvmtui.apply.blink import readonly_refusal

        app.notify(readonly_refusal(ifname), severity="error")
    else:
        app.push_screen(IdentifyScreen(ifname, app.options.netns, mode))
