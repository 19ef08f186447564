"""The experiment model: what a validated experiment file becomes.

Durations, modes and tolerances are parsed here, once; the engine works on
typed values and never re-parses strings. Plugin parameters are kept in each
step's ``params`` and validated against the plugin's own model by
:mod:`chaos.experiment.validate`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
)

from chaos.durations import Duration, Interval

FAULT_STEP_KEYS = ("name", "fault", "target", "at", "duration")
ACTION_STEP_KEYS = ("name", "action", "target", "at")
METHOD_PROBE_KEYS = ("name", "probe", "target", "at")
PROBE_STEP_KEYS = ("name", "probe", "target")
CONTINUOUS_PROBE_KEYS = (*PROBE_STEP_KEYS, "interval", "tolerance")
GUARD_KEYS = (*PROBE_STEP_KEYS, "interval", "breach_after")


def _no_items() -> list[Any]:
    """``default_factory`` for lists. Not ``list`` itself: pydantic asks for the
    factory's signature, and for a builtin Python parses its text signature
    with ``tokenize``, whose regular expressions take milliseconds to compile
    on every ``chaosdrill validate``."""
    return []


class Frozen(BaseModel):
    # built on first use, not at import: a command that validates no file
    # (or only its parts) does not pay for every model's validator
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _percent(value: Any) -> Any:
    """Accept 0.95, 95% or "95%" for a fraction."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100.0
        except ValueError:
            raise ValueError(f"invalid percentage {value!r}") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 < value <= 100:
        raise ValueError(
            f"{value:g} is more than 1: write a fraction ({value / 100:g}) or a "
            f"percentage ({value:g}%)"
        )
    return value


Fraction = Annotated[float, BeforeValidator(_percent), Field(ge=0.0, le=1.0)]


def _not_a_boolean(value: Any) -> Any:
    """YAML reads ``yes`` and ``true`` as booleans, which pydantic would take for 1."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


class SelectionMode(Frozen):
    """How many of the matching objects a target picks: written ``all``, ``one``,
    ``{count: N}`` or ``{percent: P}``."""

    all: bool = False
    count: int | None = Field(default=None, ge=1)
    percent: float | None = Field(default=None, gt=0, le=100)

    def describe(self) -> str:
        if self.all:
            return "all"
        if self.count is not None:
            return "one" if self.count == 1 else f"count {self.count}"
        return f"{self.percent:g}%"


def _mode(value: Any) -> Any:
    if isinstance(value, SelectionMode):
        return value
    if value == "all":
        return {"all": True}
    if value == "one":
        return {"count": 1}
    if isinstance(value, dict) and len(value) == 1 and set(value) <= {"count", "percent"}:
        return value
    raise ValueError("mode must be all, one, {count: N} or {percent: P}")


Mode = Annotated[
    SelectionMode,
    BeforeValidator(_mode),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": ["all", "one"]},
                {
                    "type": "object",
                    "properties": {"count": {"type": "integer", "minimum": 1}},
                    "required": ["count"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {
                        "percent": {"type": "number", "exclusiveMinimum": 0, "maximum": 100}
                    },
                    "required": ["percent"],
                    "additionalProperties": False,
                },
            ]
        }
    ),
]


class Where(BaseModel):
    """``targets.<name>.where``: a probe that must hold for a candidate to be kept,
    checked on each candidate when the target is resolved (``probe`` and the
    probe's own parameters, the candidate as its target)."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    probe: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class TargetSpec(Frozen):
    """``targets.<name>``: which objects a fault may act on."""

    kind: str = "container"
    select: dict[str, Any] = Field(default_factory=dict)
    where: Where | None = None
    """Keep only the candidates for which this probe holds at resolve time."""
    mode: Mode = SelectionMode(count=1)
    """``one`` unless written: a target that does not say how many it wants
    gets the smallest blast radius, never every match."""
    seed: int | None = None
    allow_empty: bool = False
    max_targets: int | None = Field(default=None, ge=1)
    max_percent: float | None = Field(default=None, gt=0, le=100)

    @property
    def mode_written(self) -> bool:
        """False when ``mode`` was left out and the default (``one``) applies."""
        return "mode" in self.model_fields_set

    def describe_mode(self) -> str:
        return self.mode.describe() + ("" if self.mode_written else " (the default)")


class Tolerance(Frozen):
    """What a continuous probe must achieve between the method's start and recovery."""

    min_availability: Fraction | None = None
    max_outage: Duration | None = None
    max_latency: Duration | None = None


STRICT = Tolerance(min_availability=1.0)
"""The tolerance of a continuous probe that names none: every sample must pass."""


class _Step(BaseModel):
    """Common shape: known keys are fields, every other key is a plugin parameter."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    name: str = ""

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class FaultStep(_Step):
    fault: str
    target: str
    at: Duration = 0.0
    duration: Duration | None = None


class ActionStep(_Step):
    """A method step that does something other than a fault (``action: exec``,
    ``action: http``) at its ``at``; its parameters are the action's own."""

    action: str
    target: str | None = None
    at: Duration = 0.0


class ProbeStep(_Step):
    probe: str
    target: str | None = None


class MethodProbe(ProbeStep):
    """A probe checked once in the method, at its ``at``."""

    at: Duration = 0.0


class ContinuousProbe(ProbeStep):
    interval: Interval = 1.0
    tolerance: Tolerance = STRICT


class Guard(ProbeStep):
    interval: Interval = 1.0
    breach_after: int = Field(default=1, ge=1)


STABLE_CHECKS = 3
"""Passing checks in a row that count as stable when ``recovery.stable_for`` is not set."""


class Recovery(Frozen):
    within: Duration = 30.0
    """How long after the method the system has to be back (and then stay back)."""
    interval: Interval = 0.5
    """How often the steady state is re-checked while waiting for recovery."""
    stable_for: Duration | None = None
    """How long the steady state must hold, without one failed check, to count
    as restored; unset: :data:`STABLE_CHECKS` passing checks in a row. ``0s``
    takes the first passing check."""


METHOD_KINDS = ("fault", "action", "probe")
"""The key that says what a method step is, in the order they are looked for."""
METHOD_TAGS = {"fault": "fault step", "action": "action step", "probe": "probe step"}
"""The tag pydantic puts in an error's location inside a method step (after its
index): :func:`without_tag` takes it out, since the file has no such key."""


def method_kind(step: Any) -> str | None:
    """``fault``, ``action`` or ``probe``: the one of them the step has; None
    when it has none of them, or more than one."""
    if isinstance(step, dict):
        present = [key for key in METHOD_KINDS if key in step]
    else:
        present = [key for key in METHOD_KINDS if isinstance(getattr(step, key, None), str)]
    return present[0] if len(present) == 1 else None


def _method_tag(step: Any) -> str | None:
    if not isinstance(step, (dict, BaseModel)):
        return METHOD_TAGS["fault"]  # not a mapping at all: said as for any step
    kind = method_kind(step)
    return METHOD_TAGS[kind] if kind else None


MethodStep = Annotated[
    Annotated[FaultStep, Tag(METHOD_TAGS["fault"])]
    | Annotated[ActionStep, Tag(METHOD_TAGS["action"])]
    | Annotated[MethodProbe, Tag(METHOD_TAGS["probe"])],
    Discriminator(
        _method_tag,
        custom_error_type="method_step",
        custom_error_message="a method step needs exactly one of fault, action or probe",
    ),
]
"""One step of the method: a fault, an action or a probe checked once."""


def without_tag(path: tuple[Any, ...]) -> tuple[Any, ...]:
    """An error location inside a method step without the step's tag."""
    if len(path) > 2 and path[0] == "method" and path[2] in METHOD_TAGS.values():
        return (*path[:2], *path[3:])
    return path


STEP_SECTIONS: dict[str, Any] = {
    "steady_state": ProbeStep,
    "method": MethodStep,
    "probes": ContinuousProbe,
    "guards": Guard,
}
"""Each list of steps in an experiment and the type of one of its steps."""


class Experiment(Frozen):
    version: Literal[1]
    title: str = Field(min_length=1)
    description: str = ""
    tags: list[str] = Field(default_factory=_no_items)
    weight: Annotated[float, BeforeValidator(_not_a_boolean)] = Field(
        default=1.0,
        gt=0,
        allow_inf_nan=False,
        description="how much this experiment counts in a suite's resilience score",
    )
    """How much this experiment counts in a suite's resilience score (``chaosdrill
    suite``): the score is the weighted share of passed experiments. Any
    number greater than 0; default 1. A single ``run`` ignores it."""
    configuration: dict[str, Any] = Field(default_factory=dict)
    targets: dict[str, TargetSpec] = Field(default_factory=dict)
    steady_state: list[ProbeStep] = Field(default_factory=_no_items)
    method: list[MethodStep] = Field(min_length=1)
    probes: list[ContinuousProbe] = Field(default_factory=_no_items)
    guards: list[Guard] = Field(default_factory=_no_items)
    recovery: Recovery = Recovery()

    @property
    def faults(self) -> list[FaultStep]:
        """The method's fault steps."""
        return [s for s in self.method if isinstance(s, FaultStep)]
