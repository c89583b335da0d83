"""Reports of issue #8: a store fed by its own subscription to ``pam.events``.

See docs/reports.md. The web dashboard and ``pam-supervisor report`` read them
through :class:`ReportStore`.
"""

from supervisor_api.reports.activity import (
    ActivityRow,
    CampaignRow,
    CodeCount,
    SummaryRow,
    to_csv,
)
from supervisor_api.reports.store import ReportStore

__all__ = ["ActivityRow", "CampaignRow", "CodeCount", "ReportStore", "SummaryRow", "to_csv"]
