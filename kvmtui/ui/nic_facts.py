"""The NIC facts of the selected link for the details pane (driver, firmware, bus, speed,
offloads, SR-IOV) and the neighbours lldpd knows on it: read (ioctl, lldpcli) in a worker
thread when a NIC or veth is selected, kept for a while (they rarely change; rx VLAN
offload may), and the pane redrawn when they arrive."""

from __future__ import annotations

import time

from textual.css.query import NoMatches

from kvmtui.collect.ethtool import read_nic_facts
from kvmtui.collect.lldpd import lldpd_neighbours
from kvmtui.errors import KvmtuiError
from kvmtui.model import Link
from kvmtui.model.wire import Neighbour, NicFacts
from kvmtui.views_identify import neighbour_rows, nic_detail_lines

KEEP_SECONDS = 30.0
FACT_KINDS = (None, "veth")  # a NIC (no kind) or one end of a cable; a bridge's driver facts say little


class NicFactsWatch:
    def __init__(self, app) -> None:
        self.app = app
        self._facts: dict[str, tuple[float, NicFacts | None]] = {}  # ifname -> (read at, facts; None: none to be had)
        self._neighbours: dict[str, tuple[Neighbour, ...]] = {}  # ifname -> what lldpd knows on it
        self._reading: set[str] = set()

    def lines(self, link: Link | None) -> list[tuple[str, str]]:
        """Lines for the pane now; starts a read when there are none or they are old."""
        if not self.app.live or link is None or link.kind not in FACT_KINDS or "LOOPBACK" in link.flags:
            return []
        read_at, facts = self._facts.get(link.ifname, (0.0, None))
        if time.monotonic() - read_at > KEEP_SECONDS and link.ifname not in self._reading:
            self._reading.add(link.ifname)
            self.app.run_worker(lambda: self._read(link.ifname), thread=True, group="nic-facts",
                                description=f"NIC facts of {link.ifname}", exit_on_error=False)
        lldpd = [row for n in self._neighbours.get(link.ifname, ()) for row in neighbour_rows(n, "lldpd")]
        if read_at and facts is None:
            return lldpd  # gone, or not a device the ioctl answers for
        return nic_detail_lines(facts) + lldpd

    def _read(self, ifname: str) -> None:
        try:
            facts = read_nic_facts(ifname, self.app.options.netns)
        except (KvmtuiError, OSError):
            facts = None
        known = lldpd_neighbours(self.app.options.netns) or {}
        self.app.call_from_thread(self._arrived, ifname, facts, known.get(ifname, ()))

    def _arrived(self, ifname: str, facts: NicFacts | None, neighbours: tuple[Neighbour, ...]) -> None:
        self._reading.discard(ifname)
        self._facts[ifname] = (time.monotonic(), facts)
        self._neighbours[ifname] = neighbours
        if self.app.selected_ifname() == ifname and self.app.is_running:
            try:
                self.app.show_details()
            except NoMatches:
                pass  # arrived while the app closes: its panes are gone
