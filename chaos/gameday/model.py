"""The game day model: what a validated game day file becomes.

Each value is checked where it is written, so a problem reads at its own
``FILE:LINE:COL``; checks that need the file's place on disk or the whole
document (drill names, paths, an ``at`` in the skipped hour) are in
:mod:`chaos.gameday.checks`. Build a game day with
:func:`chaos.gameday.loader.load_gameday`, which runs both.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from chaos.durations import Duration, Timeout
from chaos.experiment.validate import did_you_mean
from chaos.gameday.events import KINDS

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names in the order of :meth:`datetime.date.weekday`."""

WHOLE_DAY = 24 * 3600


def _no_items() -> list[Any]:
    return []


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# -- wall-clock values ------------------------------------------------------------------

_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _wall_time(value: Any) -> int:
    """``"HH:MM"`` or ``"HH:MM:SS"`` as seconds after midnight; ``"24:00"`` is the day's end."""
    if isinstance(value, int) and not isinstance(value, bool):
        hours, minutes = divmod(value, 60)
        raise ValueError(
            f'write times in quotes ("{hours:02d}:{minutes:02d}"): YAML reads an unquoted '
            f"{hours}:{minutes:02d} as the number {value}"
        )
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'expected a time of day such as "10:00" or "22:30:15", got {value!r}')
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if minutes > 59 or seconds > 59 or total > WHOLE_DAY:
        raise ValueError(f"{value!r} is not a time of day (00:00 to 24:00)")
    return total


WallTime = Annotated[
    int,
    BeforeValidator(_wall_time),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,2}:\d{2}(:\d{2})?$"}),
]
"""Seconds after local midnight, written ``"HH:MM"``; ``"24:00"`` ends a day."""


def _day_name(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in DAYS:
        hint = did_you_mean(str(value).lower(), list(DAYS))
        raise ValueError(f"unknown day {value!r}{hint}; days: {', '.join(DAYS)}")
    return value.lower()


DayName = Annotated[str, BeforeValidator(_day_name), WithJsonSchema({"enum": list(DAYS)})]


def _local_datetime(value: Any) -> Any:
    """An ISO date and time; naive means the file's zone, ``Z`` is UTC."""
    if isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"expected a date and time such as 2026-12-07T10:30 (or with an offset, "
                f"2026-12-07T10:30+01:00), got {value!r}"
            ) from None
    if isinstance(value, date) and not isinstance(value, datetime):
        raise ValueError(f"{value} is a day: give a time too, e.g. {value}T10:00")
    return value


LocalDateTime = Annotated[
    datetime,
    BeforeValidator(_local_datetime),
    WithJsonSchema({"type": "string", "description": "ISO date and time; naive is local"}),
]


# -- windows and blackout ---------------------------------------------------------------


class Window(Frozen):
    """Drills fire only from ``from`` to ``to`` on the ``days`` named (the day a
    window opens on); ``to`` before ``from`` runs past midnight into the next day."""

    model_config = ConfigDict(populate_by_name=True)

    days: list[DayName] = Field(min_length=1)
    start: WallTime = Field(alias="from")
    end: WallTime = Field(alias="to")

    @field_validator("start")
    @classmethod
    def _not_day_end(cls, value: int) -> int:
        if value == WHOLE_DAY:
            raise ValueError('a window cannot open at 24:00: write "00:00" of the next day')
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if self.start == self.end:
            raise ValueError(
                f"window opens and closes at {clock_text(self.start)}: it would be empty; "
                'for a whole day write from: "00:00", to: "24:00"'
            )
        return self

    @property
    def weekdays(self) -> frozenset[int]:
        return frozenset(DAYS.index(d) for d in self.days)

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def describe(self) -> str:
        return f"{','.join(self.days)} {clock_text(self.start)}-{clock_text(self.end)}"


def clock_text(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


_NOT_DAYS = (
    "expected a day (2026-12-31), a range of days (2026-12-24..2026-12-26) "
    "or {{holidays: COUNTRY}}, got {value}"
)
_RANGE = re.compile(r"^\s*(\S+?)\s*\.\.\s*(\S+)\s*$")


class DateRange(Frozen):
    """Days from ``first`` to ``last``, both included; written ``2026-12-31`` or
    ``2026-12-24..2026-12-26``."""

    first: date
    last: date

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            raise ValueError(f"{value} has a time: a blackout names whole days")
        if isinstance(value, date):
            return {"first": value, "last": value}
        if not isinstance(value, str):
            raise ValueError(_NOT_DAYS.format(value=value))
        match = _RANGE.match(value)
        texts = match.groups() if match else (value.strip(), value.strip())
        try:
            first, last = (date.fromisoformat(t) for t in texts)
        except ValueError:
            raise ValueError(_NOT_DAYS.format(value=repr(value))) from None
        return {"first": first, "last": last}

    @model_validator(mode="after")
    def _in_order(self) -> DateRange:
        if self.last < self.first:
            raise ValueError(f"range {self.describe()} ends before it starts")
        return self

    def describe(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}..{self.last}"


@lru_cache(maxsize=1)
def holiday_countries() -> dict[str, list[str]]:
    """Country codes the ``holidays`` package knows, with their subdivisions."""
    import holidays  # slow to import: only for files that name holidays

    return {c: list(s) for c, s in holidays.list_supported_countries().items()}


class Holidays(Frozen):
    """The public holidays of a country (``holidays: DE``), optionally of one of
    its subdivisions (``subdiv: BY``), from the ``holidays`` package."""

    holidays: str
    subdiv: str | None = None

    @field_validator("holidays")
    @classmethod
    def _known_country(cls, value: str) -> str:
        countries = holiday_countries()
        if value.upper() not in countries:
            hint = did_you_mean(value.upper(), list(countries))
            raise ValueError(f"unknown holiday country {value!r}{hint} (ISO 3166 codes, e.g. DE)")
        return value.upper()

    @model_validator(mode="after")
    def _known_subdivision(self) -> Holidays:
        known = holiday_countries()[self.holidays]
        if self.subdiv is not None and self.subdiv not in known:
            listed = ", ".join(known) or "none"
            hint = did_you_mean(self.subdiv, known)
            raise ValueError(
                f"{self.holidays} has no subdivision {self.subdiv!r}{hint}; subdivisions: {listed}"
            )
        return self

    def describe(self) -> str:
        return self.holidays + (f"-{self.subdiv}" if self.subdiv else "")


def _blackout_kind(value: Any) -> str:
    return "holidays" if isinstance(value, (dict, Holidays)) else "days"


_DAYS_SCHEMA = {
    "type": "string",
    "pattern": r"^\s*\d{4}-\d{2}-\d{2}(\s*\.\.\s*\d{4}-\d{2}-\d{2})?\s*$",
    "description": "a day (2026-12-31) or a range of days, both included (2026-12-24..2026-12-26)",
}

Blackout = Annotated[
    Annotated[DateRange, Tag("days"), WithJsonSchema(_DAYS_SCHEMA)]
    | Annotated[Holidays, Tag("holidays")],
    Discriminator(_blackout_kind),
]


# -- policy and drills ------------------------------------------------------------------


Concurrency = Literal["forbid", "allow"]
CatchUp = Literal["skip", "once"]


class Policy(Frozen):
    """How drills share the day. ``defaults`` sets it for every drill; a drill may
    override any of it."""

    concurrency: Concurrency = "forbid"
    """``forbid``: never two drills at once (across drills and processes on this host)."""
    min_gap: Duration = 0.0
    """Least time from the end of one drill (any drill) to the start of the next."""
    max_per_day: int | None = Field(default=None, ge=1)
    """Most fires of one drill per calendar day of the file's zone."""
    catch_up: CatchUp = "skip"
    """Fires missed while no scheduler ran: ``skip`` them all, or run the latest ``once``."""


class RandomSpec(Frozen):
    """Fires at random, Chaos Monkey style: the gap from one draw to the next is
    ``min_between`` plus an exponential part, ``mean_between`` on average.
    Gaps count open time only (inside windows, outside blackout)."""

    mean_between: Duration
    min_between: Duration = 0.0

    @model_validator(mode="after")
    def _sensible(self) -> RandomSpec:
        if self.mean_between <= 0:
            raise ValueError("mean_between must be greater than 0")
        if self.min_between > self.mean_between:
            raise ValueError("min_between must not be more than mean_between")
        return self


def _cron(value: Any) -> Any:
    if isinstance(value, str):
        from chaos.gameday.cron import parse_cron

        parse_cron(value)  # ValueError with APScheduler's own words
    return value


class When(Frozen):
    """When a drill fires: exactly one of ``cron``, ``every``, ``at``, ``random``."""

    cron: Annotated[str, BeforeValidator(_cron)] | None = None
    every: Duration | None = None
    start: LocalDateTime | None = None
    """Where ``every`` counts from (default 2000-01-01T00:00 in the file's zone)."""
    at: LocalDateTime | None = None
    random: RandomSpec | None = None
    jitter: Duration | None = None
    """Delay each fire by a random amount from 0 to this, the same in plan and serve."""
    seed: int | None = None
    """Seed of random draws and jitter; derived from the drill's name when absent."""

    @field_validator("every")
    @classmethod
    def _at_least_a_second(cls, value: float | None) -> float | None:
        if value is not None and value < 1:
            raise ValueError(f"must be at least 1s, got {value:g}s")
        return value

    @field_validator("jitter")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("must be greater than 0 (leave it out for none)")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> When:
        given = [k for k in ("cron", "every", "at", "random") if getattr(self, k) is not None]
        if len(given) != 1:
            also = f" (found {', '.join(given)})" if given else ""
            raise ValueError(f"give exactly one of cron, every, at, random{also}")
        if self.start is not None and self.every is None:
            raise ValueError("start is where every counts from: it needs every")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("cron", "every", "at", "random") if getattr(self, k) is not None)


class Drill(Frozen):
    """One experiment (or suite) and when it fires."""

    name: str = Field(min_length=1)
    experiment: str | None = None
    suite: str | None = None
    fail_under: float | None = Field(default=None, ge=0, le=100)
    lab: str | None = None
    inventory: str | None = None
    seed: int | None = None
    """The experiment's own seed (as ``chaosdrill run --seed``), not the schedule's."""
    when: When
    concurrency: Concurrency | None = None
    min_gap: Duration | None = None
    max_per_day: int | None = Field(default=None, ge=1)
    catch_up: CatchUp | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Drill:
        if (self.experiment is None) == (self.suite is None):
            raise ValueError("give exactly one of experiment (a file) or suite (a directory)")
        if self.fail_under is not None and self.suite is None:
            raise ValueError("fail_under is a suite's threshold: it needs suite, not experiment")
        if self.lab is not None and self.inventory is not None:
            raise ValueError("give lab or inventory, not both")
        return self

    @property
    def target(self) -> str:
        """The experiment file or suite path, as written."""
        return self.experiment if self.experiment is not None else str(self.suite)


# -- notifications ----------------------------------------------------------------------


class EnvSecret(Frozen):
    env: str = Field(min_length=1)


class FileSecret(Frozen):
    file: str = Field(min_length=1)


def _event_kind(value: Any) -> Any:
    if isinstance(value, str) and value not in KINDS:
        hint = did_you_mean(value, KINDS)
        raise ValueError(f"unknown event kind {value!r}{hint}; kinds: {', '.join(KINDS)}")
    return value


class Notify(Frozen):
    """Where to announce drills, as the webhook notifier (:mod:`chaos.gameday.webhook`)
    reads it; checked here so ``validate`` reports a mistake at its line."""

    webhook: str | EnvSecret | FileSecret
    """A URL, or where to read it: ``{env: NAME}`` or ``{file: PATH}``."""
    slack: bool = False
    announce: Duration | None = None
    """How long before a fire to announce it."""
    events: list[Annotated[str, BeforeValidator(_event_kind)]] | None = None
    timeout: Timeout | None = None
    """How long a delivery may take (the notifier's default when absent)."""


# -- the game day -----------------------------------------------------------------------


def _zone_name(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        ZoneInfo(value)
    except (KeyError, ValueError, OSError):  # not found (a KeyError), a bad key, a directory
        pass
    else:
        return value
    from zoneinfo import available_timezones

    hint = did_you_mean(value, sorted(available_timezones()))
    raise ValueError(f"unknown time zone {value!r}{hint}: use an IANA name such as Europe/Berlin")


class GameDay(Frozen):
    """A schedule of drills, all of its times in one zone."""

    version: Literal[1]
    kind: Literal["gameday"]
    title: str
    description: str | None = None
    timezone: Annotated[str, BeforeValidator(_zone_name)]
    windows: list[Window] = Field(default_factory=_no_items)
    blackout: list[Blackout] = Field(default_factory=_no_items)
    defaults: Policy = Field(default_factory=Policy)
    drills: list[Drill] = Field(min_length=1)
    notify: list[Notify] = Field(default_factory=_no_items)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches its instances

    def drill(self, name: str) -> Drill:
        for drill in self.drills:
            if drill.name == name:
                return drill
        raise KeyError(name)

    def policy(self, drill: Drill) -> Policy:
        """``defaults`` with the drill's own overrides applied."""
        overrides = {
            key: getattr(drill, key)
            for key in Policy.model_fields
            if getattr(drill, key) is not None
        }
        return self.defaults.model_copy(update=overrides)
