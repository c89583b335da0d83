"""A short load test against a real PAM: the harness runs end to end, clean."""

from __future__ import annotations

from pam_loadtest.config import Demand, Desktop, Scenario
from pam_loadtest.sim import LoadTest
from tests.service.conftest import Pam


async def test_short_load_run_has_no_errors_and_no_violations(pam: Pam) -> None:
    sc = Scenario(agents=24, zones=["z1"], duration_s=8, amqp_url=pam.amqp_url, drain_s=8,
                  demand=Demand(enabled=False),
                  desktop=Desktop(login_spread_s=1, logout_spread_s=2, consult_share=0.3,
                                  hold_share=0.3, break_per_min=6))
    summary = await LoadTest(sc).run()
    assert summary["errors"] == 0, summary["error_samples"]
    assert summary["violations"] == 0, summary["violation_details"]
    assert summary["calls_connected"] > 0
    assert summary["events_checked"] > summary["commands"]
    assert summary["latency_ms"]["Login"]["n"] == 24
