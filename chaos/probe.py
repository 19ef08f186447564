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

from chaos.fault import Params

if TYPE_CHECKING:
    from chaos.runtime import Runtime
    from chaos.targets import TargetRef


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

    @abstractmethod
    def check(self, runtime: Runtime, params: Any, targets: tuple[TargetRef, ...]) -> Check:
        """Run once and say whether the system looks fine.

        Exceptions are recorded as a failed sample with their message, so a
        probe need not catch everything; it should still turn expected
        failures (refused, timed out, not found) into a clear ``detail``.
        """
