"""Traffic rates from two samples of the kernel's counters (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.model import LinkStats


@dataclass(frozen=True, slots=True)
class LinkRates:
    """Per-second rates between two samples; bytes are converted to bits, as links are rated."""

    rx_bps: float
    tx_bps: float
    rx_pps: float
    tx_pps: float
    rx_errors: float
    tx_errors: float
    rx_dropped: float
    tx_dropped: float


def _per_second(after: int, before: int, seconds: float) -> float:
    # A counter that went backwards was reset (device re-created): no rate, not a negative one.
    return max(after - before, 0) / seconds


def link_rates(before: LinkStats, after: LinkStats, seconds: float) -> LinkRates:
    if seconds <= 0:
        raise ValueError("samples must be taken at different times")
    r = lambda field: _per_second(getattr(after, field), getattr(before, field), seconds)  # noqa: E731
    return LinkRates(
        rx_bps=8 * r("rx_bytes"), tx_bps=8 * r("tx_bytes"),
        rx_pps=r("rx_packets"), tx_pps=r("tx_packets"),
        rx_errors=r("rx_errors"), tx_errors=r("tx_errors"),
        rx_dropped=r("rx_dropped"), tx_dropped=r("tx_dropped"),
    )


def rates_between(
    before: dict[str, LinkStats], after: dict[str, LinkStats], seconds: float
) -> dict[str, LinkRates]:
    """Rates for every interface present in both samples."""
    return {name: link_rates(before[name], stats, seconds) for name, stats in after.items() if name in before}


def _scaled(value: float, units: tuple[str, str, str, str], plain: str) -> str:
    """value in the largest of k, M, G, T (powers of 1000, as `ip -h` and link speeds
    count) it reaches, one decimal; below 1000 as `plain` formats it."""
    for unit, size in zip(reversed(units), (1e12, 1e9, 1e6, 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return plain.format(value)


def human_bits(bps: float) -> str:
    return _scaled(bps, (" kbit/s", " Mbit/s", " Gbit/s", " Tbit/s"), "{:.0f} bit/s")


def human_bytes(count: float) -> str:
    return _scaled(count, (" kB", " MB", " GB", " TB"), "{:.0f} B")


def human_count(count: float) -> str:
    """Packets: 12, 3.4k, 5.6M."""
    return _scaled(count, ("k", "M", "G", "T"), "{:.0f}")
