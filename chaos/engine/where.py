"""A target's ``where``: keep only the candidates for which a probe holds now.

"The current Redis master" is not a name or a label: it moves with every
failover. ``where`` checks each candidate the selector matched with a probe
(any registered probe that looks at a target, with its own parameters), when
the target is resolved and before anything is touched; the candidates it
fails are dropped, and the mode then picks among the rest. Each check is one
sample within the probe's deadline, so a hanging candidate cannot stall the
resolution, and what each said goes to the journal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from chaos.engine.clock import RunClock
from chaos.engine.sampling import BoundProbe
from chaos.errors import InvalidTarget
from chaos.experiment.model import Where
from chaos.targets.base import TargetRef
from chaos.targets.selection import Examined, WhereResult

if TYPE_CHECKING:
    from chaos.registry import Registry
    from chaos.runtime import Runtime


def check_where(
    registry: Registry, runtime: Runtime, name: str, where: Where, candidates: list[TargetRef]
) -> WhereResult:
    """Check every candidate with the ``where`` probe, one after another.

    Raises InvalidTarget for a ``where`` that is not valid (validation
    already refused it: this is the last look before the engine is asked)."""
    registered = registry.probes.get(where.probe)
    if registered is None or not registered.cls.accepts_target:
        raise InvalidTarget(f"target {name!r}: where names no probe that looks at a target")
    probe = registered.cls()
    try:
        params = probe.Params.model_validate(where.params)
    except ValidationError as exc:
        raise InvalidTarget(f"target {name!r}: where: {exc.errors()[0]['msg']}") from None
    clock = RunClock()
    examined = []
    for ref in candidates:
        sample = BoundProbe("where", name, probe, params, (ref,)).sample(runtime, clock)
        examined.append(Examined(ref, sample.ok, sample.detail))
    return WhereResult(where.probe, tuple(examined))
