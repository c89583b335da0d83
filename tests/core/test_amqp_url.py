"""The default AMQP heartbeat the services add to a URL that sets none."""

from __future__ import annotations

from pam_protocol.client import DEFAULT_HEARTBEAT_S, with_default_heartbeat


def test_a_url_without_a_heartbeat_gets_the_default_and_keeps_the_rest() -> None:
    hb = DEFAULT_HEARTBEAT_S
    assert with_default_heartbeat("amqp://u:p@h:5672/") == f"amqp://u:p@h:5672/?heartbeat={hb}"
    assert with_default_heartbeat("amqps://u:p%40x@h/%2F?reconnect_interval=1") == (
        f"amqps://u:p%40x@h/%2F?reconnect_interval=1&heartbeat={hb}")
    assert with_default_heartbeat("amqp://h/v?xheartbeat=9") == f"amqp://h/v?xheartbeat=9&heartbeat={hb}"


def test_an_explicit_heartbeat_wins_even_zero() -> None:
    for url in ("amqp://h/v?heartbeat=30", "amqp://h/v?a=1&heartbeat=0"):
        assert with_default_heartbeat(url) == url
