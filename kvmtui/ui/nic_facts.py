"""The NIC facts of the selected link for the details pane (driver, firmware, bus, speed,
offloads, SR-IOV): read by ioctl in a worker thread when a NIC or veth is selected, kept for
a while (they rarely change; rx VLAN offload may), and the pane redrawn when they arrive.
The neighbours are the Snapshot's (lldpd's, NetworkManager's, networkd's), the ones the
link's tree row names, each labelled by its source. It also keeps what the identify screen
heard by listening on each port this session, for the VLAN wizard."""

from __future__ import annotations

import time
from dataclasses import replace

from textual.css.query import NoMatches

from kvmtui.collect.ethtool import read_nic_facts
from kvmtui.errors import KvmtuiError
from kvmtui.model import Link, Snapshot
from kvmtui.model.wire import NicFacts, WireReport
from kvmtui.views_identify import known_neighbour_rows, nic_detail_lines

KEEP_SECONDS = 30.0
FACT_KINDS = (None, "veth")  # a NIC (no kind) or one end of a cable; a bridge's driver facts say little


class NicFactsWatch:
    def __init__(self, app) -> None:
        self.app = app
        self._facts: dict[str, tuple[float, NicFacts | None]] = {}  # ifname -> (read at, facts; None: none to be had)
        self._reading: set[str] = set()
        self._listened: dict[str, WireReport] = {}  # ifname -> the last identify listening there, this session

    def remember(self, report: WireReport) -> None:
        self._listened.pop(report.interface, None)
        self._listened[report.interface] = report

    def with_listened(self, snapshot: Snapshot) -> Snapshot:
        """`snapshot` plus what listening heard this session: the wizards' view (VLANs seen)."""
        return replace(snapshot, listened=tuple(self._listened.values())) if self._listened else snapshot

    def lines(self, link: Link | None) -> list[tuple[str, str]]:
        """Lines for the pane now; starts a read when there are none or they are old."""
        snapshot = self.app.snapshot
        if link is None or "LOOPBACK" in link.flags or snapshot is None:
            return []
        neighbours = known_neighbour_rows(snapshot, link.ifname)
        if not self.app.live:  # a recording: the facts it holds (`dump --json` writes them), nothing asked
            recorded = snapshot.nic_facts_by_name.get(link.ifname)
            return (nic_detail_lines(recorded, snapshot) if recorded is not None else []) + neighbours
        if link.kind not in FACT_KINDS:
            return neighbours
        read_at, facts = self._facts.get(link.ifname, (0.0, None))
        if time.monotonic() - read_at > KEEP_SECONDS and link.ifname not in self._reading:
            self._reading.add(link.ifname)
            self.app.run_worker(lambda: self._read(link.ifname), thread=True, group="nic-facts",
                                description=f"NIC facts of {link.ifname}", exit_on_error=False)
        if read_at and facts is None:
            return neighbours  # gone, or not a device the ioctl answers for
        return nic_detail_lines(facts, snapshot) + neighbours

    def _read(self, ifname: str) -> None:
        try:
            facts = read_nic_facts(ifname, self.app.options.netns)
        except (KvmtuiError, OSError):
            facts = None
        self.app.call_from_thread(self._arrived, ifname, facts)

    def _arrived(self, ifname: str, facts: NicFacts | None) -> None:
        self._reading.discard(ifname)
        self._facts[ifname] = (time.monotonic(), facts)
        if self.app.selected_ifname() == ifname and self.app.is_running:
            try:
                self.app.show_details()
            except NoMatches:
                pass  # arrived while the app closes: its panes are gone
