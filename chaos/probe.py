"""The probe interface that built-in (``probes/``) and third-party probes implement.

A probe answers one question about the system: is it fine right now? The
engine uses the same probe in three places: ``steady_state`` (checked once
before the method and repeatedly until recovery), ``probes`` (sampled on an
interval and judged against a tolerance) and ``guards`` (a failure aborts
the run). The probe does not know where it is used.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from chaos.params import Params

DEADLINE_GRACE = 1.0
"""Seconds a check may take beyond its own ``timeout`` (connecting, reading the answer)."""
HELPER_GRACE = 10.0
"""More for a check made in a helper container: starting one takes time on a busy engine."""
DEFAULT_DEADLINE = 30.0
"""The deadline of a check whose probe has no ``timeout`` parameter."""

if TYPE_CHECKING:
    from chaos.runtime import Runtime
    from chaos.targets.base import TargetRef


@dataclass(frozen=True)
class Check:
    """The outcome of one probe call.

    A failed check is data, not an error: a refused connection or a timeout
    is ``Check(ok=False, detail="connection refused")``.
    """

    ok: bool
    detail: str = ""


class Probe(ABC):
    """One probe type."""

    name: ClassVar[str]
    """Name used in experiments (``probe: http``)."""

    summary: ClassVar[str] = ""

    Params: ClassVar[type[Params]] = Params

    accepts_target: ClassVar[bool] = False
    """True if the probe runs against the objects of an experiment target
    (``target: web``); it then receives them in ``targets``."""

    max_in_flight: ClassVar[int | None] = None
    """How many checks of one continuous probe may run at once (see
    :mod:`chaos.engine.sampling`); None for the engine's limit. 1 keeps checks
    from ever overlapping, for a check that costs the system it looks at."""

    def deadline(self, params: Any, targets: tuple[TargetRef, ...] = ()) -> float:
        """Seconds one check may take in all, after which the engine fails the
        sample without waiting for it (a server that drips one byte at a time
        defeats a per-read timeout). By default the probe's ``timeout``
        parameter plus :data:`DEADLINE_GRACE` (plus :data:`HELPER_GRACE` when
        it runs in a helper container, ``from:``), or :data:`DEFAULT_DEADLINE`
        for a probe without a ``timeout``."""
        timeout = getattr(params, "timeout", None)
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
            helper = HELPER_GRACE if getattr(params, "from_", None) else 0.0
            return float(timeout) + DEADLINE_GRACE + helper
        return DEFAULT_DEADLINE

    @abstractmethod
    def check(self, runtime: Runtime, params: Any, targets: tuple[TargetRef, ...]) -> Check:
        """Run once and say whether the system looks fine.

        Exceptions are recorded as a failed sample with their message, so a
        probe need not catch everything; it should still turn expected
        failures (refused, timed out, not found) into a clear ``detail``.
        """
