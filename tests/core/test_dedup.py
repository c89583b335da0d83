"""pam_service.dedup.CommittedIds: it never forgets an id within the TTL (a false negative
would apply a command twice), forgets it after two, and rarely claims an unknown one."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pam_service.dedup import CommittedIds


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_every_added_id_is_kept_and_few_unknown_ones_are_claimed() -> None:
    f = CommittedIds(600, bits_log2=20)
    added = [uuid.uuid4().hex for _ in range(50_000)]
    for mid in added:
        f.add(mid)
    assert all(f.maybe_seen(mid) for mid in added)
    others = [uuid.uuid4().hex for _ in range(50_000)]
    false_positives = sum(f.maybe_seen(mid) for mid in others)
    # 3 probes, 2**20 bits, 50,000 ids: about 0.3% expected
    assert false_positives < 0.01 * len(others), false_positives


def test_an_id_lives_between_one_and_two_ttls() -> None:
    clock = Clock()
    f = CommittedIds(10, bits_log2=16, clock=clock)
    f.add("m1")
    clock.t += 9.9
    assert f.maybe_seen("m1")
    clock.t += 0.2  # first rotation: m1 moves to the previous generation
    f.add("m2")
    assert f.maybe_seen("m1") and f.maybe_seen("m2")
    clock.t += 10.0  # second rotation: m1 is more than a TTL old and gone
    assert not f.maybe_seen("m1")
    assert f.maybe_seen("m2")


def test_a_long_idle_zone_forgets_everything() -> None:
    clock = Clock()
    f = CommittedIds(10, bits_log2=16, clock=clock)
    f.add("m1")
    clock.t += 25
    assert not f.maybe_seen("m1")


def test_bad_size_is_refused() -> None:
    with pytest.raises(ValueError, match="bits_log2"):
        CommittedIds(10, bits_log2=8)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=12),
                          st.floats(min_value=0, max_value=7)), max_size=80))
def test_no_id_committed_within_the_ttl_is_ever_forgotten(
        steps: list[tuple[str, float]]) -> None:
    clock = Clock()
    f = CommittedIds(10, bits_log2=16, clock=clock)
    when: dict[str, float] = {}
    for mid, advance in steps:
        clock.t += advance
        f.add(mid)
        when[mid] = clock.t
        for old, t in when.items():
            if clock.t - t < 10:
                assert f.maybe_seen(old), (old, clock.t - t)
