"""Picking targets from candidates: modes, seeds and blast-radius limits.

Pure logic, shared by every target kind. Candidates arrive sorted by name so
the same seed picks the same objects on every run against the same system.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass
from fractions import Fraction

from chaos.errors import TargetError, UsageError
from chaos.experiment.model import TargetSpec
from chaos.targets.base import TargetRef

MAX_TARGETS_ENV = "CHAOSDRILL_MAX_TARGETS"
DEFAULT_MAX_TARGETS = 10


def default_max_targets() -> int:
    """The blast-radius limit for targets that set no ``max_targets`` of their own:
    ``$CHAOSDRILL_MAX_TARGETS``, else 10. Raises UsageError for a bad value."""
    raw = os.environ.get(MAX_TARGETS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_TARGETS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"{MAX_TARGETS_ENV}={raw!r}: expected a whole number of at least 1")
    return value


@dataclass(frozen=True)
class Examined:
    """One candidate as a target's ``where`` probe found it."""

    ref: TargetRef
    ok: bool
    detail: str


@dataclass(frozen=True)
class WhereResult:
    """What a target's ``where`` probe kept and dropped, before the mode picked."""

    probe: str
    examined: tuple[Examined, ...]

    @property
    def kept(self) -> list[TargetRef]:
        return [e.ref for e in self.examined if e.ok]

    def refusal(self, name: str, spec: TargetSpec) -> str:
        """Why no candidate is left: each one's failed check, a few at most."""
        shown = "; ".join(f"{e.ref.name}: {e.detail}" for e in self.examined[:5])
        more = f"; and {len(self.examined) - 5} more" if len(self.examined) > 5 else ""
        return (
            f"target {name!r}: none of the {len(self.examined)} running {spec.kind}(s) its "
            f"select matched satisfies where (probe {self.probe}): {shown}{more}; "
            "set allow_empty: true if that is expected; nothing was touched"
        )


class NoneKept(TargetError):
    """The selector matched, but ``where`` held for none of the candidates: the
    error carries the selection, so the journal records what each one said."""

    def __init__(self, message: str, selection: Selection):
        super().__init__(message)
        self.selection = selection


@dataclass(frozen=True)
class Selection:
    name: str
    spec: TargetSpec
    candidates: int
    chosen: tuple[TargetRef, ...]
    seed: int | None
    where: WhereResult | None = None
    """What ``where`` kept and dropped; ``candidates`` counts the kept."""


def choose(
    name: str,
    spec: TargetSpec,
    candidates: list[TargetRef],
    seed: int | None,
    *,
    acted_on: bool = True,
) -> Selection:
    """Apply the target's mode and limits; raise TargetError before anything is touched.

    A target that faults act on (``acted_on``) and sets no ``max_targets`` is
    held to :func:`default_max_targets`; a target only probes look at is not.
    """
    if not candidates and not spec.allow_empty:
        raise TargetError(
            f"target {name!r} matched no running {spec.kind} (select: {spec.select}); "
            "set allow_empty: true if that is expected"
        )
    mode = spec.mode
    if mode.all:
        wanted = len(candidates)
    elif mode.count is not None:
        wanted = min(mode.count, len(candidates))
    else:
        assert mode.percent is not None
        share = math.ceil(len(candidates) * _exact(mode.percent) / 100)
        wanted = min(len(candidates), max(1, share)) if candidates else 0
    rng = random.Random(seed)
    chosen = (
        candidates
        if wanted == len(candidates)
        else sorted(rng.sample(candidates, wanted), key=lambda ref: (ref.name, ref.id))
    )
    _enforce_limits(name, spec, len(candidates), len(chosen))
    if acted_on and spec.max_targets is None:
        limit = default_max_targets()
        if len(chosen) > limit:
            raise TargetError(
                f"target {name!r} would act on {len(chosen)} {spec.kind}s (of "
                f"{len(candidates)} matching), over the limit of {limit} for a target without "
                f"max_targets ({MAX_TARGETS_ENV}); set max_targets on the target if that many "
                "is meant; nothing was touched"
            )
    return Selection(name, spec, len(candidates), tuple(chosen), seed)


def _enforce_limits(name: str, spec: TargetSpec, candidates: int, chosen: int) -> None:
    if spec.max_targets is not None and chosen > spec.max_targets:
        raise TargetError(
            f"target {name!r} would act on {chosen} {spec.kind}s, over its limit "
            f"max_targets: {spec.max_targets}; nothing was touched"
        )
    if (
        spec.max_percent is not None
        and candidates
        and Fraction(chosen * 100, candidates) > _exact(spec.max_percent)
    ):
        raise TargetError(
            f"target {name!r} would act on {chosen} of {candidates} {spec.kind}s "
            f"({chosen * 100 / candidates:.3g}%), over its limit max_percent: "
            f"{spec.max_percent:g}; nothing was touched"
        )


def _exact(percent: float) -> Fraction:
    """A percentage as the decimal the user wrote: ``64.4`` is 644/10, not the
    binary float just above it (250 candidates at 64.4% are 161, not 162)."""
    return Fraction(repr(percent))
