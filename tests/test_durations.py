"""Durations: parsing what experiments say and formatting what the console shows."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from chaos.durations import (
    DURATION_PATTERN,
    MAX_SECONDS,
    Duration,
    format_duration,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("100ms", 0.1),
        ("10s", 10.0),
        ("1.5s", 1.5),
        ("2m", 120.0),
        ("1m30s", 90.0),
        ("2h", 7200.0),
        ("1h2m3s", 3723.0),
        ("1h 30m", 5400.0),
        ("  10s  ", 10.0),
        ("10 s", 10.0),
        ("1m\t30s", 90.0),
        ("0s", 0.0),
        ("1s500ms", 1.5),
        ("0.25h", 900.0),
        ("2d", 172800.0),
        ("1d12h", 129600.0),
    ],
)
def test_parse_text(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("value", "seconds"), [(0, 0.0), (10, 10.0), (2.5, 2.5), (10**6, 1e6)])
def test_numbers_are_seconds(value, seconds):
    result = parse_duration(value)
    assert result == seconds
    assert isinstance(result, float)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "invalid duration ''"),
        ("   ", "invalid duration '   '"),
        ("10", "invalid duration '10': use a number with a unit"),
        ("s", "invalid duration 's'"),
        ("ms10", "invalid duration 'ms10'"),
        ("10x", "invalid duration '10x'"),
        ("10s garbage", "invalid duration '10s garbage'"),
        ("1 0s", "invalid duration '1 0s'"),
        ("-5s", "invalid duration '-5s'"),
        (".5s", "invalid duration '.5s'"),
        ("1e3s", "invalid duration '1e3s'"),
        ("10S", "invalid duration '10S'"),
        ("\u0665s", "invalid duration"),  # an Arabic-Indic five is not an ASCII digit
        (-1, "duration must not be negative, got -1"),
        (-0.5, "duration must not be negative, got -0.5"),
        (True, "expected a duration such as 10s or 500ms, got True"),
        (None, "expected a duration such as 10s or 500ms, got NoneType"),
        ([10], "expected a duration such as 10s or 500ms, got list"),
        (math.nan, "invalid duration nan"),
        (math.inf, "duration inf is too long: at most 366 days"),
        (10**400, "is too long: at most 366 days"),
        ("9999h", "duration '9999h' is too long: at most 366 days"),
        ("9" * 400 + "h", "is too long"),
    ],
)
def test_bad_values(value, message):
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert message in str(info.value)


def test_the_longest_duration_is_accepted():
    assert parse_duration(MAX_SECONDS) == MAX_SECONDS
    assert parse_duration("8784h") == MAX_SECONDS
    with pytest.raises(ValueError):
        parse_duration(MAX_SECONDS + 1)


def test_long_values_are_shortened_in_messages():
    with pytest.raises(ValueError) as info:
        parse_duration("x" * 1000)
    assert len(str(info.value)) < 120
    assert "..." in str(info.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0ms"),
        (0.0004, "0ms"),
        (0.25, "250ms"),
        (0.999, "999ms"),
        (0.9996, "1s"),  # rounds up into seconds, never "1000ms"
        (1, "1s"),
        (12.5, "12.5s"),
        (12.04, "12s"),
        (59.94, "59.9s"),
        (59.96, "1m00s"),  # never "60s"
        (60, "1m00s"),
        (185, "3m05s"),
        (3599.4, "59m59s"),
        (3599.6, "1h00m00s"),
        (3723, "1h02m03s"),
        (90000, "25h00m00s"),
        (-2.5, "-2.5s"),
    ],
)
def test_format(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_format_refuses_what_is_not_a_duration(bad):
    with pytest.raises(ValueError):
        format_duration(bad)


@given(st.floats(min_value=0, max_value=MAX_SECONDS, allow_nan=False))
def test_formatted_durations_parse_back_closely(seconds):
    again = parse_duration(format_duration(seconds))
    # the format keeps milliseconds below 1s, tenths below 1m, whole seconds above
    tolerance = 0.0005 if seconds < 0.9995 else 0.05 if seconds < 59.95 else 0.5
    assert again == pytest.approx(seconds, abs=tolerance + 1e-9)


@given(
    st.lists(
        st.tuples(st.integers(0, 999), st.sampled_from(["ms", "s", "m", "h"])),
        min_size=1,
        max_size=4,
    )
)
def test_parts_add_up(parts):
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    text = "".join(f"{n}{u}" for n, u in parts)
    assert parse_duration(text) == pytest.approx(sum(n * unit[u] for n, u in parts))
    # the JSON schema accepts exactly what the parser accepts
    assert re.fullmatch(DURATION_PATTERN.strip("^$"), text)


@pytest.mark.parametrize("text", ["10", "s", "1 0s", "-1s", ""])
def test_schema_pattern_rejects_what_the_parser_rejects(text):
    assert not re.fullmatch(DURATION_PATTERN.strip("^$"), text)
    with pytest.raises(ValueError):
        parse_duration(text)


class _Model(BaseModel):
    d: Duration


def test_duration_in_a_model():
    assert _Model(d="1m").d == 60.0
    assert _Model.model_validate({"d": 5}).model_dump() == {"d": 5.0}
    with pytest.raises(ValidationError) as info:
        _Model(d="later")
    assert "invalid duration 'later'" in str(info.value)
    with pytest.raises(ValidationError):
        _Model(d=10**400)  # too large for a float: a validation error, not an OverflowError
