"""The fault interface that built-in and third-party faults implement.

A fault type is a class registered through ``chaosdrill_register_faults``.
The engine calls :meth:`Fault.inject` once for every object a fault step's
target resolved to, then :meth:`Fault.revert` with the state recorded before
(:meth:`Fault.before`) and the state that ``inject`` returned.

Instances are cheap and carry nothing from one call to the next: the engine
creates them wherever it needs one (for each step of a plan, for each fault
injected from code, to ask a step which targets it references) and
``chaosdrill recover`` reverts with a fresh instance in another process. So a
fault keeps no state on ``self``; what ``revert`` needs travels in the state.

The state must be plain JSON data (str, int, float, bool, None, lists and
dicts of them): it is written to the run journal and is everything ``revert``
may rely on, so that a fault can be reverted from the record alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from chaos.params import Params

if TYPE_CHECKING:
    from chaos.helper_containers import HelperCommand
    from chaos.runtime import Runtime
    from chaos.targets.base import TargetRef


@dataclass(frozen=True)
class FaultContext:
    """Everything one injection (one fault step on one object) works with."""

    runtime: Runtime
    target: TargetRef
    injection_id: str
    """Unique to this injection and recorded before :meth:`Fault.inject` runs:
    names derived from it (an iptables chain, a helper container) can be found
    again by ``chaosdrill recover`` even if the runner died mid-injection."""
    revert_at: float | None = None
    """Wall-clock time (``time.time()``) at which the engine will revert the
    fault; None for one-shot faults."""
    selections: Mapping[str, tuple[TargetRef, ...]] = field(default_factory=dict)
    """Every target of the run by name, as resolved: for faults whose
    parameters name other targets (see :meth:`Fault.references`)."""
    watchdog: str | None = None
    """Id of this injection's watchdog container, once armed (see
    :meth:`Fault.watchdog`). It runs the fault's ``HelperCommand`` setting, so
    a fault may ``exec`` its work in it instead of starting another helper."""


class Fault(ABC):
    """One fault type."""

    name: ClassVar[str]
    """Dotted name used in experiments (``fault: container.kill``)."""

    summary: ClassVar[str] = ""
    """One line shown by ``chaosdrill plugins``."""

    Params: ClassVar[type[Params]] = Params
    """Parameters accepted beside ``name``, ``fault``, ``target``, ``at`` and ``duration``."""

    target_kinds: ClassVar[tuple[str, ...]] = ("container",)
    """Target kinds this fault can act on."""

    reversible: ClassVar[bool] = False
    """True if :meth:`revert` undoes the fault. A reversible fault needs a
    ``duration`` and is reverted when it ends. For a one-shot fault (kill,
    crash) a ``duration`` only keeps the method going that long after it,
    so the system is observed under the fault before recovery is judged."""

    def references(self, params: Any) -> dict[str, list[str]]:
        """Experiment targets that ``params`` name, by parameter (e.g. the peers
        of a partition: ``{"from": ["db", "cache"]}``). The loader checks they
        are defined; the engine hands their resolved objects over in
        ``ctx.selections``."""
        return {}

    def holds(self, ctx: FaultContext, params: Any) -> list[str]:
        """Ids of objects this injection acts on besides ``ctx.target``.

        The ledger holds them like the target: another live run may not fault
        them meanwhile, nor may this one start while another run holds them.
        Called before :meth:`inject` (``swarm.lose_managers`` names the
        managers it is about to take away)."""
        return []

    def before(self, ctx: FaultContext, params: Any) -> dict[str, Any] | None:
        """The object's state before the fault, as :meth:`revert` restores it.

        Called before anything is recorded or touched; what it returns is
        written to the fault ledger before :meth:`inject` runs and is handed
        to :meth:`revert` (merged under the state ``inject`` returned). A
        fault whose revert restores a value it read (a node's availability,
        a service's replica count) must return it here: a runner killed
        between the injection and the state being recorded otherwise leaves
        nothing to restore, and ``chaosdrill recover`` then leaves the entry
        to a human rather than guess. ``None`` (the default) means the revert
        needs nothing recorded beforehand (unpause, start, delete a chain).
        """
        return None

    @abstractmethod
    def inject(self, ctx: FaultContext, params: Any) -> dict[str, Any]:
        """Apply the fault to ``ctx.target`` and return the state ``revert`` needs.

        Raise :class:`chaos.errors.InjectionFailed` with a clear message when
        the fault cannot be applied; anything else is reported as a bug.
        """

    def revert(  # noqa: B027 - optional: only reversible faults override it
        self, ctx: FaultContext, params: Any, state: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Undo the fault. Called only for reversible faults.

        Must be safe to call when the fault already went away by itself
        (a paused container that was removed, say). Raise
        :class:`chaos.errors.RevertFailed` when it cannot be undone. May return
        what it observed (JSON data), recorded in the journal as
        ``revert_state`` (``network.disconnect`` reports whether the address
        changed on reconnect).
        """

    def watchdog(self, ctx: FaultContext, params: Any) -> HelperCommand | None:
        """How a helper container reverts this fault with no chaosdrill process around.

        Return a :class:`chaos.helper_containers.HelperCommand` and the engine arms a dead
        man's switch before every injection: a container that runs it at
        ``ctx.revert_at`` plus a grace period unless the runner reverted first.
        Because it is armed before :meth:`inject` runs, the command must be
        harmless when the fault was never applied (derive names from
        ``ctx.injection_id``, not from the state ``inject`` returns).
        ``None`` (the default) means the fault has no such switch.
        """
        return None


def records_before(fault: Fault) -> bool:
    """True when the fault's revert depends on :meth:`Fault.before`."""
    return type(fault).before is not Fault.before
