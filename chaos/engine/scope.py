"""What one run holds from its start to its end, however it is run.

A run is an experiment that :class:`~chaos.engine.runner.Runner` runs, or the
faults a :class:`~chaos.engine.session.FaultSession` injects from code
(``api.fault``, ``api.session``, the pytest ``chaos`` fixture). Both stand on
one :class:`RunScope`, so both set up and tear down a run the same way:

* the plugins and the runtime (the engine, the swarm, and the plugins' node
  controllers, given to the runtime once, when it is made: :func:`runtime_for_run`);
* the fault ledger and the :class:`~chaos.engine.safeguards.Safeguards` around
  each injection;
* the run's clock;
* the observer: every event redacted, and a broken observer never breaks the run;
* recovery at the start: what dead runs left in the ledger is reverted once,
  before the run's first fault (:func:`chaos.recovery.recover_orphans`);
* interruption: SIGINT, SIGTERM and SIGHUP on the main thread
  (:func:`chaos.signals.interrupt_signals`), or a suite's
  :class:`~chaos.engine.interrupt.Interrupt` from another thread, call the run back;
* the kill switch: ``chaosdrill halt`` (:mod:`chaos.halt`) calls the run back
  within :data:`chaos.halt.POLL_INTERVAL` through a watcher thread, and
  :meth:`RunScope.halted` answers at once (before the run starts, before each
  injection);
* the end: the ``Finished`` event and the ``chaosdrill_run_finished`` hook, of
  the installed plugins and of the run's own (``run_plugins``: the Pushgateway
  export, :mod:`chaos.pushgateway`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from chaos.engine.clock import RunClock
from chaos.engine.events import Event, Finished, Notice, Observer, ProbeFigures, ignore, redacted
from chaos.engine.safeguards import Safeguards
from chaos.errors import ChaosError
from chaos.halt import HaltFlag, HaltState, HaltWatcher
from chaos.journal.model import ProbeRecord
from chaos.runtime import Runtime
from chaos.signals import interrupt_signals

if TYPE_CHECKING:
    from chaos.engine.interrupt import Interrupt
    from chaos.engine.result import RunResult
    from chaos.experiment.configuration import Redactor
    from chaos.ledger import Ledger
    from chaos.plugins import Plugins
    from chaos.swarm.inventory import Inventory

__all__ = ["RunScope", "runtime_for_run"]


def runtime_for_run(
    plugins: Plugins,
    *,
    docker_url: str | None = None,
    inventory: Inventory | None = None,
    redactor: Redactor | None = None,
) -> Runtime:
    """A runtime for one run (or plan, or recovery), with the node controllers
    that ``plugins`` registered: swarm node faults find their platform's
    controller through it."""
    return Runtime(
        docker_url=docker_url,
        inventory=inventory,
        redactor=redactor,
        node_controllers=plugins.registry.node_controllers,
    )


class RunScope:
    """The plugins, runtime, ledger, safeguards, clock and observer of one run.

    ``runtime``: None makes one (:func:`runtime_for_run`) that :meth:`close`
    closes; a runtime passed in is the caller's to close, and should come from
    :func:`runtime_for_run` too (``api.runtime_for`` for an experiment) so it
    carries the node controllers. ``ledger`` None
    turns the ledger and the watchdogs off. ``handle_signals`` lets
    :meth:`interrupts` install signal handlers (main thread only);
    ``interrupt`` interrupts the run from another thread as a signal would.
    ``halt`` is the kill switch's flag (default: the ledger's state directory,
    else the default one; runs without a ledger obey it too).
    ``run_plugins`` are objects with a ``chaosdrill_run_finished(result)`` method
    (and a ``name``) that hear this run's end only, after the installed plugins.
    """

    def __init__(
        self,
        plugins: Plugins,
        runtime: Runtime | None = None,
        *,
        docker_url: str | None = None,
        inventory: Inventory | None = None,
        ledger: Ledger | None = None,
        observer: Observer = ignore,
        handle_signals: bool = True,
        interrupt: Interrupt | None = None,
        halt: HaltFlag | None = None,
        run_plugins: Sequence[object] = (),
    ):
        self.plugins = plugins
        self.run_plugins = tuple(run_plugins)
        self.owns_runtime = runtime is None
        self.runtime = (
            runtime
            if runtime is not None
            else runtime_for_run(plugins, docker_url=docker_url, inventory=inventory)
        )
        self.ledger = ledger
        self.safeguards = Safeguards(ledger)
        self.clock = RunClock()
        self.handle_signals = handle_signals
        self.interrupt = interrupt
        self.halt = halt or HaltFlag(ledger.dir if ledger is not None else None)
        self._observer = observer
        self._lock = threading.Lock()
        self._recovered = False

    @property
    def run_id(self) -> str:
        return self.runtime.run_id

    # -- the observer ----------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Hand ``event`` to the observer, redacted."""
        with contextlib.suppress(Exception):  # a broken observer must not break the run
            self._observer(redacted(event, self.runtime.redactor.text))

    def notice(self, message: str) -> None:
        self.emit(Notice(self.clock.now(), message))

    # -- the start ---------------------------------------------------------------

    def recover_orphans(self) -> None:
        """Revert what earlier, dead runs left in the ledger, before this run adds
        faults of its own, and say so through the observer. Once per run; nothing
        without a ledger."""
        with self._lock:
            if self._recovered or self.ledger is None:
                return
            self._recovered = True
        from chaos.recovery import recover_orphans

        recover_orphans(self.plugins, self.runtime, self.ledger, self.notice)

    # -- interruption ------------------------------------------------------------

    @contextlib.contextmanager
    def interrupts(
        self,
        on_interrupt: Callable[[str], None],
        *,
        on_halt: Callable[[HaltState], None] | None = None,
        defaults_only: bool = False,
    ) -> Iterator[None]:
        """For the length of the block, SIGINT, SIGTERM and SIGHUP (when this scope
        handles signals and this is the main thread) and the scope's ``interrupt``
        call ``on_interrupt(name)``; a halt calls ``on_halt(state)`` (on the
        watcher's thread), once. ``defaults_only`` leaves alone a signal the
        program handles or ignores itself (see :func:`chaos.signals.interrupt_signals`)."""
        with contextlib.ExitStack() as stack:
            if on_halt is not None:
                stack.enter_context(self.watch_halt(on_halt))
            stack.enter_context(
                interrupt_signals(
                    on_interrupt, enabled=self.handle_signals, defaults_only=defaults_only
                )
            )
            if self.interrupt is not None:
                stack.callback(self.interrupt.subscribe(on_interrupt))
            yield

    @contextlib.contextmanager
    def watch_halt(self, on_halt: Callable[[HaltState], None]) -> Iterator[HaltWatcher]:
        """For the length of the block, a thread that calls ``on_halt(state)`` once
        when the kill switch is thrown (it looks at once, then every 0.2 s)."""
        watcher = HaltWatcher(self.halt, on_halt).start()
        try:
            yield watcher
        finally:
            watcher.stop()

    def halted(self) -> HaltState | None:
        """The halt in force now, or None: asked before a run starts and before
        each injection, so no fault goes in after a halt."""
        return self.halt.status()

    # -- the end -----------------------------------------------------------------

    def finished(self, result: RunResult) -> RunResult:
        """Announce the result and call every ``chaosdrill_run_finished``.

        A hook that raises does not change the verdict: its failure becomes one
        of the result's notices and a Notice event. Returns ``result``."""
        journal = result.journal
        t = journal.duration if journal.duration is not None else self.clock.now()
        path = str(result.journal_path) if result.journal_path is not None else None
        recovery = journal.recovery
        self.emit(
            Finished(
                t,
                result.verdict.value,
                tuple(result.messages),
                path,
                probes=tuple(_figures(record) for record in (*journal.probes, *journal.guards)),
                time_to_recover=recovery.time_to_recover if recovery is not None else None,
                recovered=recovery.recovered if recovery is not None else None,
            )
        )
        for failure in self.plugins.call_each("chaosdrill_run_finished", result=result):
            notice = f"plugin {failure.plugin}: chaosdrill_run_finished failed: {failure.error}"
            result.notices.append(notice)
            self.notice(notice)
        for plugin in self.run_plugins:
            name = getattr(plugin, "name", type(plugin).__name__)
            try:
                plugin.chaosdrill_run_finished(result=result)  # type: ignore[attr-defined]
            except Exception as exc:
                why = str(exc) if isinstance(exc, ChaosError) else f"{type(exc).__name__}: {exc}"
                notice = self.runtime.redactor.text(f"{name}: {why}")
                result.notices.append(notice)
                self.notice(notice)
        return result

    def close(self) -> None:
        """Let go of the engine, if this scope made the runtime."""
        if self.owns_runtime:
            self.runtime.close()


def _figures(record: ProbeRecord) -> ProbeFigures:
    summary = record.summary
    return ProbeFigures(
        section=record.section,
        name=record.name,
        availability=summary.availability if summary else None,
        longest_outage=summary.longest_outage if summary else None,
        max_latency=summary.max_latency if summary else None,
        time_to_recover=record.time_to_recover,
        recovered=record.recovered,
        tolerance=tuple((record.tolerance or {}).items()),
        passed=record.passed,
    )
