"""Which experiments may run at the same time: pure logic on resolved fault targets.

Each experiment is planned before it starts (``api.plan``: targets resolved,
nothing touched) and reduced to the set of objects its faults act on, as
``(kind, id)`` pairs: every method step's target and the targets its
parameters name (a partition's ``from``). Two experiments conflict when the
sets share an object; a fault on a whole swarm (target kind ``swarm``, as
``swarm.lose_managers`` uses, which picks its managers only at injection)
conflicts with every experiment that faults a swarm's nodes or services or
the swarm itself. An experiment whose plan failed (``None``) conflicts with
everything: it runs alone.

Probes, guards and the steady state are not targets: two experiments whose
faults act on different containers run side by side even when one probes
what the other breaks.

Scheduling is greedy, in discovery order: whenever a slot is free, the first
pending experiment that conflicts with none of the running ones starts. An
experiment that must run alone holds back the ones after it until it has
run, so it is not starved.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TypeVar

from chaos.engine.plan import Plan

Key = tuple[str, str]
"""An object a fault acts on: ``(target kind, engine id)``."""
Keys = frozenset[Key]
"""Everything an experiment's faults act on; None when it could not be planned."""

SWARM_KINDS = frozenset({"swarm", "node", "service"})

T = TypeVar("T")


def fault_targets(plan: Plan) -> Keys:
    """Every object the plan's faults act on (steady state and probes excluded)."""
    keys: set[Key] = set()
    for planned in plan.faults:
        refs = list(planned.selection.chosen)
        for names in planned.fault.references(planned.params).values():
            for name in names:
                refs.extend(planned.selections.get(name, ()))
        keys.update((ref.kind, ref.id) for ref in refs)
    return frozenset(keys)


def conflict(a: Keys | None, b: Keys | None) -> bool:
    """True when two experiments must not run at the same time."""
    if a is None or b is None:
        return True
    if a & b:
        return True
    kinds_a = {kind for kind, _ in a}
    kinds_b = {kind for kind, _ in b}
    return ("swarm" in kinds_a and bool(kinds_b & SWARM_KINDS)) or (
        "swarm" in kinds_b and bool(kinds_a & SWARM_KINDS)
    )


def next_to_start(
    pending: Sequence[T],
    running: Collection[Keys | None],
    keys_of: Callable[[T], Keys | None],
) -> tuple[int, Keys | None] | None:
    """The index (and keys) of the first pending experiment that may start now.

    ``keys_of`` is called for each candidate in order until one fits, so the
    targets are resolved as late as possible, against the system as it is
    when the experiment starts. None when nothing may start yet.
    """
    if any(keys is None for keys in running):
        return None
    for index, item in enumerate(pending):
        keys = keys_of(item)
        if keys is None:
            # runs alone; and nothing after it jumps the queue meanwhile
            return (index, None) if not running else None
        if not any(conflict(keys, other) for other in running):
            return index, keys
    return None
