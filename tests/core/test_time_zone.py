"""The server's time zone is a real zone with its rules, never an offset frozen at start."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pam_service.service import local_zone


def test_the_server_time_zone_keeps_its_rules_across_daylight_saving(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/London")
    tz = local_zone()
    offsets = [datetime(2026, month, 15, 12, tzinfo=UTC).astimezone(tz).utcoffset()
               for month in (1, 7)]
    assert [o.total_seconds() if o is not None else None for o in offsets] == [0, 3600]


def test_an_unknown_tz_falls_back_instead_of_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Not/AZone")
    assert datetime(2026, 1, 1, tzinfo=UTC).astimezone(local_zone()).utcoffset() is not None
