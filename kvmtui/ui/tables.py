"""Bonds, guests and networks: small tables rebuilt from the snapshot."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from kvmtui.render import state_symbol
from kvmtui.views import BondSlaveRow, GuestRow, NetworkRow


def _state(state: str) -> Text:
    symbol, style = state_symbol(state)
    return Text(f"{symbol} {state}", style=style)


class SnapshotTable(DataTable):
    """A DataTable that keeps the cursor row across refreshes."""

    COLUMNS: tuple[str, ...] = ()

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns(*self.COLUMNS)

    def replace_rows(self, rows: list[tuple]) -> None:
        cursor = self.cursor_row
        self.clear()
        for row in rows:
            self.add_row(*row)
        if rows:
            self.move_cursor(row=min(cursor, len(rows) - 1))


class BondsTable(SnapshotTable):
    # What is wrong first: at 80 columns beside the tree, the alert must not be cut off.
    COLUMNS = ("BOND", "SLAVE", "MII", "ALERT", "ACT", "FAIL", "MODE", "SPEED", "DUPLEX", "AGG", "PARTNER", "KEY")

    def show(self, rows: list[BondSlaveRow]) -> None:
        def alarm(row: BondSlaveRow) -> Text:
            return Text(f"! {row.alarm}", style="bold red") if row.alarm else Text("")

        def failures(row: BondSlaveRow) -> str:
            return f"{row.failures} (+{row.failures_grew})" if row.failures_grew else str(row.failures)

        self.replace_rows([
            (r.bond, r.slave, _state(r.mii_status), alarm(r), "*" if r.active else "", failures(r), r.mode,
             r.speed, r.duplex, r.aggregator, r.partner_mac, r.partner_key)
            for r in rows
        ])


class GuestsTable(SnapshotTable):
    COLUMNS = ("DOMAIN", "STATE", "TYPE", "MAC", "TARGET", "LANDS ON", "MODEL")

    def show(self, rows: list[GuestRow]) -> None:
        self.replace_rows([(r.domain, _state(r.state), r.type, r.mac, r.target, r.lands_on, r.model) for r in rows])


class NetworksTable(SnapshotTable):
    COLUMNS = ("NETWORK", "STATE", "FORWARD", "BRIDGE", "AUTOSTART", "GUESTS")

    def show(self, rows: list[NetworkRow]) -> None:
        self.replace_rows([
            (r.name, _state("active" if r.active else "inactive"), r.forward, r.bridge,
             "yes" if r.autostart else "no", r.guests)
            for r in rows
        ])
