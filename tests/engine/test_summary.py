"""Summaries of a probe's samples, and how they are judged against a tolerance."""

from __future__ import annotations

import random

import pytest

from chaos.engine.sampling import Sample
from chaos.engine.summary import Outage, summarize, tolerance_violations
from chaos.experiment.model import STRICT, Tolerance


def samples(pattern: str, step: float = 1.0, latency: float = 0.0) -> list[Sample]:
    """One sample per character, ``step`` seconds apart from t=0: ``+`` ok, ``-`` failed.
    Each answers ``latency`` after its start (by default at once)."""
    return [Sample(i * step, c == "+", latency, c) for i, c in enumerate(pattern)]


# --- summarize ----------------------------------------------------------------------------


def test_no_samples():
    summary = summarize([], end=10.0)
    assert summary.samples == 0
    assert summary.ok == 0
    assert summary.availability is None
    assert summary.longest_outage == 0.0
    assert summary.outages == ()
    assert summary.max_latency is None
    assert summary.time_to_recover == 0.0


def test_all_ok():
    summary = summarize(samples("++++"), end=4.0)
    assert (summary.samples, summary.ok, summary.availability) == (4, 4, 1.0)
    assert summary.outages == ()
    assert summary.longest_outage == 0.0
    assert summary.time_to_recover == 0.0


def test_availability_on_an_even_grid_is_the_share_of_passing_samples():
    summary = summarize(samples("++-+--++"), end=8.0)
    assert summary.ok == 5
    assert summary.availability == pytest.approx(5 / 8)


def test_outages_run_from_the_first_failure_to_the_next_success():
    summary = summarize(samples("++--+---++"), end=10.0)
    assert summary.outages == (Outage(2.0, 4.0, True), Outage(5.0, 8.0, True))
    assert summary.longest_outage == 3.0


def test_an_unfinished_outage_lasts_until_the_end():
    summary = summarize(samples("++--"), end=10.0)
    assert summary.outages == (Outage(2.0, 10.0, False),)
    assert summary.longest_outage == 8.0
    assert summary.outages[0].length == 8.0


def test_an_unfinished_outage_never_ends_before_it_starts():
    summary = summarize(samples("++-"), end=1.0)
    assert summary.outages == (Outage(2.0, 2.0, False),)
    assert summary.longest_outage == 0.0


def test_the_unfinished_outage_can_be_the_longest():
    summary = summarize(samples("+-+-"), end=20.0)
    assert summary.longest_outage == 17.0
    assert [o.recovered for o in summary.outages] == [True, False]


def test_time_to_recover_spans_first_failure_to_last_recovery():
    # fails at 1, recovers at 2, fails again at 3, recovers for good at 5
    summary = summarize(samples("+-+--+++"), end=8.0)
    assert summary.time_to_recover == 4.0


def test_time_to_recover_is_zero_without_failures_and_none_when_still_failing():
    assert summarize(samples("+++"), end=3.0).time_to_recover == 0.0
    assert summarize(samples("+-+-"), end=4.0).time_to_recover is None
    assert summarize(samples("---"), end=3.0).time_to_recover is None


def test_failing_from_the_first_sample():
    summary = summarize(samples("--++"), end=4.0)
    assert summary.outages == (Outage(0.0, 2.0, True),)
    assert summary.time_to_recover == 2.0


def test_samples_are_ordered_by_time_first():
    ordered = samples("++--+")
    shuffled = ordered[:]
    random.Random(3).shuffle(shuffled)
    assert shuffled != ordered
    assert summarize(shuffled, end=5.0) == summarize(ordered, end=5.0)


def test_max_latency_counts_passing_samples_only():
    data = [
        Sample(0.0, True, 0.10, ""),
        Sample(1.0, False, 5.00, "timed out"),
        Sample(2.0, True, 0.30, ""),
    ]
    assert summarize(data, end=3.0).max_latency == 0.30
    assert summarize([Sample(0.0, False, 1.0, "")], end=1.0).max_latency is None


# --- tolerance_violations ------------------------------------------------------------------


def violations(data: list[Sample], tolerance: Tolerance, end: float | None = None):
    end = end if end is not None else (data[-1].t + 1 if data else 0.0)
    return tolerance_violations(summarize(data, end), data, tolerance)


def test_no_samples_violates_any_tolerance():
    assert violations([], Tolerance(max_outage=5.0)) == [
        ("took no samples, so nothing shows the tolerance was met", None)
    ]
    assert violations([], Tolerance()) == [
        ("took no samples, so nothing shows the tolerance was met", None)
    ]


def test_an_empty_tolerance_accepts_failures():
    assert violations(samples("+--+"), Tolerance()) == []


def test_strict_tolerance_fails_on_one_failed_sample():
    assert violations(samples("++++"), STRICT) == []
    found = violations(samples("++-+"), STRICT)
    assert found == [
        (
            "availability 75.0% is below min_availability 100% "
            "(down 1.0s of 4.0s probed; 1 of 4 samples failed)",
            2.0,
        )
    ]


def test_min_availability_at_the_limit_passes():
    assert violations(samples("+++-"), Tolerance(min_availability=0.75)) == []
    # 2/3 of the samples against a limit of 2/3: float rounding must not fail it
    assert violations(samples("++-"), Tolerance(min_availability=2 / 3)) == []


def test_availability_just_below_the_limit_is_shown_below_it():
    data = samples("+" * 1999 + "-")  # 99.95%
    found = violations(data, Tolerance(min_availability=0.9996))
    assert found == [
        (
            "availability 99.95% is below min_availability 99.96% "
            "(down 1.0s of 2000.0s probed; 1 of 2000 samples failed)",
            1999.0,
        )
    ]


def test_min_availability_reports_the_earliest_failure_even_if_samples_are_unordered():
    data = samples("+-+-")
    found = violations(list(reversed(data)), Tolerance(min_availability=0.9), end=4.0)
    assert len(found) == 1
    assert found[0][1] == 1.0


def test_max_outage():
    tolerance = Tolerance(max_outage=2.0)
    assert violations(samples("+--+"), tolerance) == []  # exactly 2s is allowed
    found = violations(samples("+---+----+"), tolerance)
    # only the first outage over the limit is reported, at its start
    assert found == [("outage of 3.0s exceeds max_outage 2s", 1.0)]


def test_max_outage_shows_enough_digits_to_exceed_the_limit():
    data = [Sample(0.0, False, 0.0, ""), Sample(3.04, True, 0.0, "")]
    assert violations(data, Tolerance(max_outage=3.0)) == [
        ("outage of 3.04s exceeds max_outage 3s", 0.0)
    ]


def test_unfinished_outage_over_max_outage():
    found = violations(samples("++---"), Tolerance(max_outage=2.0), end=10.0)
    assert found == [("outage of 8.0s and had not ended exceeds max_outage 2s", 2.0)]


def test_max_latency():
    data = [
        Sample(0.0, True, 0.10, ""),
        Sample(1.0, True, 0.35, ""),
        Sample(2.0, False, 9.00, "timeout"),  # failed samples are not judged on latency
        Sample(3.0, True, 0.25, ""),
    ]
    found = violations(data, Tolerance(max_latency=0.2))
    assert found == [("2 sample(s) slower than max_latency 200ms (slowest 350ms)", 1.0)]
    assert violations(data, Tolerance(max_latency=0.35)) == []


def test_max_latency_just_over_the_limit_is_shown_over_it():
    data = [Sample(0.0, True, 0.2004, "")]
    assert violations(data, Tolerance(max_latency=0.2)) == [
        ("1 sample(s) slower than max_latency 200ms (slowest 200.4ms)", 0.0)
    ]


def test_every_broken_limit_is_reported_in_a_fixed_order():
    data = [
        Sample(0.0, True, 0.5, ""),
        Sample(1.0, False, 0.0, ""),
        Sample(2.0, False, 0.0, ""),
        Sample(3.0, False, 0.0, ""),
        Sample(4.0, True, 0.1, ""),
    ]
    found = violations(data, Tolerance(min_availability=0.9, max_outage=1.0, max_latency=0.2))
    assert [message.split(" ")[0] for message, _ in found] == ["availability", "outage", "1"]
    assert [t for _, t in found] == [1.0, 1.0, 0.0]
