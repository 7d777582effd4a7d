"""Details of the selected node: every attribute, rates with sparklines, path to the wire."""

from __future__ import annotations

from collections import deque

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Sparkline, Static

from kvmtui.counters import LinkRates, human_bits, human_count

HISTORY = 40  # samples kept per interface for the sparklines


class DetailsPane(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static(id="details-text")
        yield Static("", id="rates-text")
        yield Sparkline([], id="rx-sparkline")
        yield Sparkline([], id="tx-sparkline")

    def show(self, title: str, lines: list[tuple[str, str]], rates: LinkRates | None,
             history: deque[LinkRates] | None) -> None:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for label, value in lines:
            table.add_row(label, value)
        text = Table.grid()
        text.add_row(Text(title, style="bold underline"))
        text.add_row(table)
        self.query_one("#details-text", Static).update(text)
        rates_text = self.query_one("#rates-text", Static)
        rx, tx = self.query_one("#rx-sparkline", Sparkline), self.query_one("#tx-sparkline", Sparkline)
        if rates is None:
            rates_text.update("")
            rx.display = tx.display = False
            return
        rates_text.update(Text.assemble(
            ("rx ", "bold"), f"{human_bits(rates.rx_bps)} {human_count(rates.rx_pps)} pkt/s  ",
            ("tx ", "bold"), f"{human_bits(rates.tx_bps)} {human_count(rates.tx_pps)} pkt/s  ",
            ("errors/drops ", "bold"),
            f"{rates.rx_errors + rates.tx_errors:.0f}/{rates.rx_dropped + rates.tx_dropped:.0f} per s",
        ))
        rx.display = tx.display = True
        rx.data = [r.rx_bps for r in history] if history else [0.0]
        tx.data = [r.tx_bps for r in history] if history else [0.0]
