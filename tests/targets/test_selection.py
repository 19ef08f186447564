"""Choosing targets among candidates: modes, seeds, empty matches and blast-radius limits."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaos.errors import TargetError
from chaos.experiment.model import TargetSpec
from chaos.targets.base import TargetRef
from chaos.targets.selection import choose


def spec(**fields: Any) -> TargetSpec:
    return TargetSpec.model_validate({"select": {"name_regex": "web-.*"}, **fields})


def refs(n: int) -> list[TargetRef]:
    return [TargetRef("container", f"id{i:03d}", f"web-{i:03d}") for i in range(n)]


def names(selection) -> list[str]:
    return [ref.name for ref in selection.chosen]


def test_one_is_the_default():
    target = spec()
    selection = choose("web", target, refs(5), seed=1)
    assert len(selection.chosen) == 1 and selection.chosen[0] in refs(5)
    assert selection.candidates == 5
    assert (selection.name, selection.seed) == ("web", 1)
    assert not target.mode_written and target.describe_mode() == "one (the default)"
    assert spec(mode="one").describe_mode() == "one"


def test_all_keeps_the_order():
    candidates = refs(5)
    selection = choose("web", spec(mode="all"), candidates, seed=1)
    assert selection.chosen == tuple(candidates)
    assert selection.candidates == 5


def test_one():
    selection = choose("web", spec(mode="one"), refs(5), seed=1)
    assert len(selection.chosen) == 1
    assert selection.chosen[0] in refs(5)


@pytest.mark.parametrize(("count", "n", "expected"), [(2, 5, 2), (5, 5, 5), (9, 5, 5), (1, 1, 1)])
def test_count_is_capped_at_the_candidates(count, n, expected):
    selection = choose("web", spec(mode={"count": count}), refs(n), seed=7)
    assert len(selection.chosen) == expected
    assert len(set(selection.chosen)) == expected


@pytest.mark.parametrize(
    ("percent", "n", "expected"),
    [
        (50, 4, 2),
        (50, 5, 3),  # rounds up
        (10, 3, 1),  # at least one
        (1, 1000, 10),
        (100, 7, 7),
        (64.4, 250, 161),  # 250 * 64.4 / 100 is 161.00000000000003 in floats
        (8.8, 375, 33),
        (33.3, 10, 4),
    ],
)
def test_percent(percent, n, expected):
    # the arithmetic of the mode, apart from the default blast-radius limit
    selection = choose("web", spec(mode={"percent": percent}), refs(n), seed=3, acted_on=False)
    assert len(selection.chosen) == expected


def test_chosen_objects_are_sorted_by_name():
    selection = choose("web", spec(mode={"count": 4}), refs(20), seed=11)
    assert names(selection) == sorted(names(selection))


def test_the_same_seed_picks_the_same_objects():
    first = choose("web", spec(mode={"count": 3}), refs(30), seed=42)
    again = choose("web", spec(mode={"count": 3}), refs(30), seed=42)
    assert first.chosen == again.chosen


def test_different_seeds_pick_differently():
    picks = {choose("web", spec(mode={"count": 3}), refs(30), seed=s).chosen for s in range(20)}
    assert len(picks) > 10


def test_the_pick_for_a_seed_is_stable_across_versions():
    # a recorded seed must replay the same run: pin one known answer
    selection = choose("web", spec(mode={"count": 2}), refs(10), seed=1234)
    assert names(selection) == ["web-001", "web-007"]


@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**31))
def test_selection_invariants(n, count, seed):
    candidates = refs(n)
    selection = choose("web", spec(mode={"count": count}), candidates, seed, acted_on=False)
    assert len(selection.chosen) == min(n, count)
    assert set(selection.chosen) <= set(candidates)
    assert selection == choose("web", spec(mode={"count": count}), candidates, seed, acted_on=False)


def test_no_candidates_is_an_error_naming_the_target():
    with pytest.raises(TargetError) as info:
        choose("web", spec(), [], seed=1)
    message = str(info.value)
    assert "target 'web' matched no running container" in message
    assert "'name_regex': 'web-.*'" in message
    assert "allow_empty: true" in message


@pytest.mark.parametrize("mode", ["all", "one", {"count": 3}, {"percent": 50}])
def test_allow_empty_gives_an_empty_selection(mode):
    selection = choose("web", spec(mode=mode, allow_empty=True), [], seed=1)
    assert selection.chosen == ()
    assert selection.candidates == 0


def test_allow_empty_with_a_limit_is_not_a_violation():
    selection = choose("web", spec(allow_empty=True, max_targets=1, max_percent=10), [], seed=1)
    assert selection.chosen == ()


def test_max_targets():
    assert len(choose("web", spec(mode="all", max_targets=3), refs(3), seed=1).chosen) == 3
    with pytest.raises(TargetError) as info:
        choose("web", spec(mode="all", max_targets=3), refs(4), seed=1)
    assert str(info.value) == (
        "target 'web' would act on 4 containers, over its limit max_targets: 3; nothing was touched"
    )


def test_max_targets_applies_after_the_mode():
    selection = choose("web", spec(mode={"count": 2}, max_targets=2), refs(50), seed=1)
    assert len(selection.chosen) == 2


def test_max_percent():
    assert len(choose("web", spec(mode="one", max_percent=50), refs(2), seed=1).chosen) == 1
    with pytest.raises(TargetError) as info:
        choose("web", spec(mode="one", max_percent=50), refs(1), seed=1)
    assert str(info.value) == (
        "target 'web' would act on 1 of 1 containers (100%), over its limit "
        "max_percent: 50; nothing was touched"
    )


def test_max_percent_shows_the_share_precisely():
    with pytest.raises(TargetError) as info:
        choose("web", spec(mode={"count": 2}, max_percent=66), refs(3), seed=1)
    assert "(66.7%)" in str(info.value)


def test_max_percent_at_the_limit_is_allowed_exactly():
    # 161 of 250 is exactly 64.4%: float arithmetic must not push it over
    selection = choose(
        "web", spec(mode={"percent": 64.4}, max_percent=64.4), refs(250), seed=1, acted_on=False
    )
    assert len(selection.chosen) == 161


def test_limits_are_checked_before_anything_is_returned():
    with pytest.raises(TargetError, match="max_targets: 1"):
        choose("web", spec(mode="all", max_targets=1, max_percent=100), refs(2), seed=1)


def test_a_target_without_max_targets_acts_on_at_most_ten():
    assert len(choose("web", spec(mode="all"), refs(10), seed=1).chosen) == 10
    with pytest.raises(TargetError) as info:
        choose("web", spec(mode="all"), refs(12), seed=1)
    message = str(info.value)
    assert "would act on 12 containers (of 12 matching), over the limit of 10" in message
    assert "CHAOSDRILL_MAX_TARGETS" in message and "set max_targets" in message
    assert "nothing was touched" in message


def test_an_explicit_max_targets_lifts_the_default_limit():
    assert len(choose("web", spec(mode="all", max_targets=12), refs(12), seed=1).chosen) == 12


def test_the_default_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("CHAOSDRILL_MAX_TARGETS", "2")
    assert len(choose("web", spec(mode="all"), refs(2), seed=1).chosen) == 2
    with pytest.raises(TargetError, match="over the limit of 2"):
        choose("web", spec(mode="all"), refs(3), seed=1)


@pytest.mark.parametrize("value", ["0", "-3", "ten", "1.5"])
def test_a_bad_default_limit_is_a_usage_error(monkeypatch, value):
    from chaos.errors import UsageError

    monkeypatch.setenv("CHAOSDRILL_MAX_TARGETS", value)
    with pytest.raises(UsageError, match="CHAOSDRILL_MAX_TARGETS"):
        choose("web", spec(mode="all"), refs(3), seed=1)


def test_targets_only_probes_look_at_are_not_limited():
    assert len(choose("web", spec(mode="all"), refs(30), seed=1, acted_on=False).chosen) == 30
