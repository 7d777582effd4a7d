"""Audit: rules that catch real misconfigurations of a KVM host's network.

Every rule is a pure function of one Snapshot (or of the previous and the current one)
yielding Finding objects; nothing here imports Textual, so `kvmtui audit`, the dashboard
and the tests share it.
"""

from kvmtui.audit.engine import RULES, audit
from kvmtui.audit.findings import SEVERITIES, Finding, counts, counts_text, reaches, severity_rank

__all__ = ["RULES", "SEVERITIES", "Finding", "audit", "counts", "counts_text", "reaches", "severity_rank"]
