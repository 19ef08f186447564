"""Random drills: Chaos Monkey's model, in open time, reproducible."""

from __future__ import annotations

from datetime import timedelta
from itertools import islice, pairwise

import pytest

from chaos.gameday.calendar import in_window, open_time_between
from chaos.gameday.fires import draw_seed, fires, next_fire

from .support import berlin, drill, gameday

WORK_HOURS = {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "10:00", "to": "16:00"}
WORK_DAYS = 10_000


@pytest.mark.parametrize(("mean", "least"), [("2d", "1d"), ("12h", "0s")])
def test_over_ten_thousand_work_days_the_mean_gap_is_mean_between(mean, least):
    day = gameday(
        drill("r", random={"mean_between": mean, "min_between": least}), windows=[WORK_HOURS]
    )
    spec = day.drills[0].when.random
    start = berlin(2027, 1, 4)  # a Monday
    end = start + timedelta(weeks=WORK_DAYS // 5)
    times = []
    for fire in fires(day, day.drills[0], start):
        if fire.at >= end:
            break
        times.append(fire.at)
    gaps = [open_time_between(day, a, b).total_seconds() for a, b in pairwise(times)]
    assert len(gaps) > 1000
    assert min(gaps) >= spec.min_between
    assert sum(gaps) / len(gaps) == pytest.approx(spec.mean_between, rel=0.05)
    assert all(in_window(day, t) for t in times)


def test_draws_never_land_on_a_blackout_day():
    day = gameday(
        drill("r", random={"mean_between": "2h"}),
        windows=[WORK_HOURS],
        blackout=["2026-12-07..2026-12-11"],  # a whole working week
    )
    found = list(islice(fires(day, day.drills[0], berlin(2026, 12, 4, 15)), 50))
    assert not any(berlin(2026, 12, 5) <= f.at < berlin(2026, 12, 12) for f in found)


def test_a_draw_is_reproducible_from_where_it_starts_and_reports_its_seed():
    day = gameday(drill("r", random={"mean_between": "1d", "min_between": "2h"}))
    one = list(islice(fires(day, day.drills[0], berlin(2026, 12, 1)), 10))
    two = list(islice(fires(day, day.drills[0], berlin(2026, 12, 1)), 10))
    assert one == two
    previous = one[4].scheduled
    assert one[5].seed == draw_seed(day.drills[0], previous)
    assert next_fire(day, day.drills[0], previous) == one[5]


def test_the_seed_or_the_name_picks_the_draws():
    start = berlin(2026, 12, 1)

    def draws(**fields):
        day = gameday(drill(**{"name": "r", "random": {"mean_between": "1d"}, **fields}))
        return [f.at for f in islice(fires(day, day.drills[0], start), 5)]

    assert draws() == draws()
    assert draws(seed=1) == draws(seed=1)
    assert draws(seed=1) != draws(seed=2)
    assert draws() != draws(name="other")
