"""Picking targets from candidates: modes, seeds and blast-radius limits.

Pure logic, shared by every target kind. Candidates arrive sorted by name so
the same seed picks the same objects on every run against the same system.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction

from chaos.errors import TargetError
from chaos.experiment.model import TargetSpec
from chaos.targets.base import TargetRef


@dataclass(frozen=True)
class Selection:
    name: str
    spec: TargetSpec
    candidates: int
    chosen: tuple[TargetRef, ...]
    seed: int | None


def choose(name: str, spec: TargetSpec, candidates: list[TargetRef], seed: int | None) -> Selection:
    """Apply the target's mode and limits; raise TargetError before anything is touched."""
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
