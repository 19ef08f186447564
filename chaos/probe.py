"""The probe interface that built-in (``probes/``) and third-party probes implement.

A probe answers one question about the system: is it fine right now? The
engine uses the same probe in three places: ``steady_state`` (checked once
before the method and repeatedly until recovery), ``probes`` (sampled on an
interval and judged against a tolerance) and ``guards`` (a failure aborts
the run). The probe does not know where it is used.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    error: bool = False
    """The check could not be made at all (the service it asks did not answer,
    or rejected the question): not a verdict on the system. In the steady
    state (or a guard) checked before the method this makes the run ``error``
    (reason ``probe_error``) rather than ``failed``; anywhere else it is a
    failed sample like any other."""
    data: Mapping[str, Any] | None = field(default=None, compare=False)
    """What the check measured, for the journal (a baseline, a window's series)."""


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

    def baseline(
        self, runtime: Runtime, params: Any, targets: tuple[TargetRef, ...]
    ) -> Check | None:
        """Measure what later checks compare against, once per run, before
        anything is injected (the engine calls it at the start of the
        steady-state phase, within :meth:`deadline`). None (the default): the
        probe compares against nothing. A failed check ends the run before
        the method (``probe_error`` if it says ``error``, else
        ``not_steady_before``); ``data`` goes to the journal (``baseline``)."""
        return None

    def evaluate_window(
        self,
        runtime: Runtime,
        params: Any,
        targets: tuple[TargetRef, ...],
        start: float,
        end: float,
        step: float,
    ) -> Check | None:
        """Judge the whole method-to-recovery window at once, after recovery
        (``start``/``end`` in seconds since the epoch, ``step`` the probe's
        interval). None (the default): nothing to evaluate. A failed check is
        a ``tolerance`` reason (``probe_error`` if it says ``error``);
        ``data`` goes to the journal (``window``)."""
        return None

    def preview(
        self, runtime: Runtime, params: Any, targets: tuple[TargetRef, ...]
    ) -> Check | None:
        """What ``chaosdrill run --dry-run`` shows for this probe: a read-only
        look (the current value of a query), or None (the default) for a
        probe whose check is not safe or not useful to make ahead of a run."""
        return None
