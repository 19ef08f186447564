"""Faults injected from code, one block at a time, with the safety of a run.

A :class:`FaultSession` is what ``api.fault``, ``api.wait_until`` and the
pytest plugin's ``chaos`` fixture stand on::

    with session.fault("container.pause", target={"select": {"name": "web"}},
                       duration="10s") as injected:
        ...  # the fault is in effect here, on injected.targets

Each injection goes through the same machinery as a fault step of a run:
the call is validated as a one-step experiment by the experiment validator
(:mod:`chaos.experiment.validate`, so a mistake reads as it does in a file),
the target is resolved by :func:`chaos.engine.plan.resolve_target` (kind,
``select``, ``mode``, ``seed``, blast-radius limits), and a
:class:`~chaos.engine.activity.FaultActivity` injects it, which writes the
ledger entry and arms the watchdog (:class:`~chaos.engine.safeguards.Safeguards`)
before touching anything. The session is a run
(:class:`~chaos.engine.scope.RunScope`): recovery at the start, signals and
the run-finished hook are a run's.

The fault is reverted when the block ends, however it ends (normally, an
exception, KeyboardInterrupt, SIGTERM while a fault is active), at once when
``chaosdrill halt`` is thrown (the block then gets :class:`~chaos.errors.Halted`,
at once on the main thread while the session handles SIGINT, else when it
ends), and at the latest at the end of ``duration``: that is also the deadline its watchdog
reverts it at (plus the grace) if this process dies. A block that outlives
``duration`` finds the fault already reverted and gets a :class:`FaultExpired`
warning. :meth:`FaultSession.close` reverts whatever is still active (a
handle started with :meth:`Injection.start` and never reverted).
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from chaos.durations import check_interval, format_duration, parse_duration
from chaos.engine.activity import FaultActivity, StepContext
from chaos.engine.clock import RunClock
from chaos.engine.events import Observer, ignore
from chaos.engine.plan import PlannedFault, resolve_seed, resolve_target
from chaos.engine.result import RunResult
from chaos.engine.safeguards import Safeguards
from chaos.engine.sampling import BoundProbe
from chaos.engine.scope import RunScope
from chaos.engine.verdict import decide, ordered
from chaos.errors import ChaosError, Halted, InjectionFailed, RevertFailed, UsageError
from chaos.experiment.model import FAULT_STEP_KEYS, FaultStep, TargetSpec
from chaos.experiment.validate import (
    STEP_KEYS,
    CallProblems,
    Parts,
    check_params,
    not_a_parameter,
    unknown_kind,
    validate_plugins,
)
from chaos.fault import Fault
from chaos.halt import HaltFlag, HaltState
from chaos.journal.build import close_journal, open_journal, target_records
from chaos.journal.model import FaultRecord, ReasonRecord
from chaos.ledger import Ledger
from chaos.plugins import Plugins, default_plugins
from chaos.probe import Check, Probe
from chaos.runtime import Runtime
from chaos.signals import interrupt_main_thread
from chaos.targets import TargetRef
from chaos.targets.selection import Selection

JOIN_POLL = 0.1
"""Waits on fault threads are this short, so Ctrl-C reaches the main thread promptly."""

__all__ = [
    "FaultExpired",
    "FaultSession",
    "Injection",
    "ProbeTimeout",
    "TargetLike",
]

TargetLike = TargetSpec | Mapping[str, Any]
"""A target as in an experiment's ``targets.<name>``: ``{"select": {...}, "mode": "one", ...}``."""


class FaultExpired(UserWarning):
    """A block outlived its fault's ``duration``: the fault was reverted at the
    deadline while the block still ran."""


class ProbeTimeout(ChaosError, TimeoutError):
    """:meth:`FaultSession.wait_until` gave up: the probe never passed in time."""

    def __init__(self, message: str, last: Check, samples: int):
        super().__init__(message)
        self.last = last
        """The last check: what the probe said when time ran out."""
        self.samples = samples

    def __str__(self) -> str:
        return str(self.args[0])


class Injection:
    """One fault injected from code: a context manager, or :meth:`start` / :meth:`revert`.

    ``targets`` are the objects it acts on (resolved when it starts),
    ``records`` the journal's view of each injection (outcome, times, ledger
    and watchdog ids, the state ``inject`` returned), ``states`` those states.
    """

    def __init__(
        self,
        session: FaultSession,
        fault: Fault,
        step: FaultStep,
        params: Any,
        specs: dict[str, TargetSpec],
        *,
        owns_session: bool = False,
    ):
        self._session = session
        self.fault = fault
        self.step = step
        self.params = params
        self._specs = specs
        self._owns_session = owns_session
        self._abort = threading.Event()
        self._activity: FaultActivity | None = None
        self._lock = threading.Lock()
        self._started = False
        self._finished = False
        self.selection: Selection | None = None
        """How the target was resolved (candidates, chosen, seed); None before :meth:`start`."""
        self.selections: dict[str, Selection] = {}
        """Every target resolved for it: its own and those in ``targets``."""
        self.reasons: list[ReasonRecord] = []
        """What went wrong, in the words of a run's reasons (inject and revert failures)."""
        self.expired = False
        """True when the fault was reverted at the end of its ``duration``, before the block ended."""
        self.halted: HaltState | None = None
        """The halt that reverted it before the block ended (``chaosdrill halt``), if any."""

    # -- what it is --------------------------------------------------------

    @property
    def name(self) -> str:
        return self.step.name

    @property
    def duration(self) -> float | None:
        return self.step.duration

    @property
    def targets(self) -> tuple[TargetRef, ...]:
        """The objects the fault acts on (empty before :meth:`start`)."""
        return self.selection.chosen if self.selection else ()

    @property
    def records(self) -> list[FaultRecord]:
        return list(self._activity.records) if self._activity else []

    @property
    def outcomes(self) -> tuple[str, ...]:
        """Per target: ``injected``, ``reverted``, ``inject-failed``, ``revert-failed``, ..."""
        return tuple(r.outcome for r in self.records)

    @property
    def states(self) -> tuple[dict[str, Any], ...]:
        """Per target, what the fault's ``inject`` returned (what its revert needs)."""
        return tuple(dict(r.state) for r in self.records)

    @property
    def state(self) -> dict[str, Any]:
        """The inject state of the one target; use :attr:`states` for several."""
        if len(self.records) != 1:
            raise ValueError(
                f"fault {self.name} acts on {len(self.records)} targets: use .states, not .state"
            )
        return dict(self.records[0].state)

    @property
    def active(self) -> bool:
        """True while some target carries the fault (reversible faults only)."""
        activity = self._activity
        return (
            activity is not None
            and not self._finished
            and self.fault.reversible
            and activity.is_alive()
            and any(r.outcome == "injected" for r in activity.records)
        )

    def __repr__(self) -> str:
        on = ", ".join(t.name for t in self.targets) or "nothing yet"
        return f"<Injection {self.name} ({self.fault.name}) on {on}: {', '.join(self.outcomes)}>"

    # -- its life ----------------------------------------------------------

    def __enter__(self) -> Injection:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.revert()

    def start(self) -> Injection:
        """Resolve the target, record, arm and inject; return once the fault is in effect.

        Raises TargetError (nothing selected, a limit broken), InjectionFailed
        (nothing is left injected then), EngineUnreachable.
        """
        __tracebackhide__ = True  # pytest: keep parameters (secrets) out of tracebacks
        with self._lock:
            if self._started:
                raise UsageError(f"fault {self.name} was already started; make a new one")
            self._started = True
        session = self._session
        try:
            selections = {
                name: resolve_target(
                    session.plugins.registry, session.runtime, name, spec, session.seed
                )
                for name, spec in self._specs.items()
            }
            self.selections = selections
            self.selection = selections[self.step.target]
            session._begin(self)
        except BaseException:  # nothing was touched
            self._finished = True
            session._end(self)
            self._close_owned_session()
            raise
        planned = PlannedFault(
            0,
            self.step,
            self.fault,
            self.params,
            self.selection,
            {name: sel.chosen for name, sel in selections.items()},
        )
        self._activity = FaultActivity(
            planned,
            StepContext(
                session.runtime,
                session.clock,
                self._abort,
                self._report,
                session.observer,
                session.safeguards,
                before_inject=session._check_halt,
            ),
        )
        try:
            self._activity.start(session.clock.now())
            while not self._activity.injected.wait(JOIN_POLL):  # short waits: Ctrl-C gets in
                pass
        except BaseException:
            self.revert(raise_errors=False)
            raise
        if self.halted is not None:
            self.revert(raise_errors=False)
            session._raise_halted(always=True)
        failed = [r.message for r in self.reasons]
        if failed:
            self.revert(raise_errors=False)
            raise InjectionFailed("; ".join(failed) + self._left_behind())
        return self

    def revert(self, *, raise_errors: bool = True) -> None:
        """Revert now (what leaving the block does); idempotent.

        Waits for the revert (Ctrl-C, SIGTERM or SIGHUP while waiting is held
        back until it is done, however many come). Raises RevertFailed when a target still
        carries the fault: its ledger entry stays open and its watchdog armed.
        """
        __tracebackhide__ = True  # pytest: keep parameters (secrets) out of tracebacks
        with self._lock:
            if self._finished or not self._started:
                return
            self._finished = True
        activity = self._activity
        interrupted: BaseException | None = None
        try:
            if activity is not None:
                ended = self._session.clock.now()
                self._abort.set()
                while True:  # however many Ctrl-Cs or signals come, the revert finishes first
                    try:
                        _join(activity)
                        break
                    except (KeyboardInterrupt, Halted) as exc:
                        interrupted = interrupted or exc
                reverted_at = [r.reverted_at for r in activity.records if r.reverted_at is not None]
                self.expired = bool(
                    self.fault.reversible
                    and self.step.duration is not None
                    and reverted_at
                    and ended >= activity.due
                )
                if self.expired:
                    warnings.warn(
                        f"fault {self.name} ({self.fault.name}) was reverted at the end of its "
                        f"duration ({format_duration(self.step.duration or 0)}) while the block "
                        "still ran; give it a longer duration",
                        FaultExpired,
                        stacklevel=3,
                    )
        finally:
            self._session._end(self)
            self._close_owned_session()
        if interrupted is not None:
            raise interrupted
        failed = [r for r in self.reasons if r.kind == "revert_failed"]
        if failed and raise_errors:
            raise RevertFailed("; ".join(r.message for r in failed))
        if self.halted is not None and raise_errors:
            self._session._raise_halted()

    def _halt(self, state: HaltState) -> None:
        """The kill switch was thrown: revert now (on the fault's own thread)."""
        self.halted = self.halted or state
        self._abort.set()

    # -- helpers -------------------------------------------------------------

    def _report(self, reason: ReasonRecord, abort_run: bool) -> None:
        reason.message = self._session.runtime.redactor.text(reason.message)
        self.reasons.append(reason)
        if abort_run:
            self._abort.set()

    def _left_behind(self) -> str:
        stuck = [r.container.get("name", "?") for r in self.records if r.outcome == "revert-failed"]
        if not stuck:
            return " (nothing was left injected)"
        return f"; could not be reverted on {', '.join(stuck)}: its watchdog and the ledger keep it"

    def _close_owned_session(self) -> None:
        if self._owns_session:
            self._session.close()


def _join(activity: FaultActivity) -> None:
    while activity.is_alive():
        activity.join(JOIN_POLL)


class FaultSession:
    """Injects faults and samples probes from code, with a run's safety net.

    One session is one run (one :class:`~chaos.engine.scope.RunScope`, one run
    id): its faults may overlap on one target, another live run's may not. It
    sets up and tears down like ``chaosdrill run``: it reverts whatever the
    runs before it left behind when its first fault starts, and when it closes
    (a ``with`` block does) it reverts every fault still active and, if it
    started any, calls ``chaosdrill_run_finished`` with a result describing
    what it injected.
    """

    def __init__(
        self,
        *,
        plugins: Plugins | None = None,
        runtime: Runtime | None = None,
        inventory: Any = None,
        docker_url: str | None = None,
        state_dir: str | Path | None = None,
        safeguards: bool = True,
        seed: int | None = None,
        observer: Observer = ignore,
        handle_signals: bool = True,
    ):
        """``safeguards=False`` turns the ledger and watchdogs off (as for ``api.run``).
        ``handle_signals``: while a fault is active on the main thread, SIGINT,
        SIGTERM and SIGHUP raise KeyboardInterrupt there so every block is left
        and reverted (only where the signal still has its default handler)."""
        self.scope = RunScope(
            plugins or default_plugins(),
            runtime,
            docker_url=docker_url,
            inventory=inventory,
            ledger=Ledger(Path(state_dir) if state_dir else None) if safeguards else None,
            observer=observer,
            handle_signals=handle_signals,
            halt=HaltFlag(state_dir or None),
        )
        self.seed = resolve_seed(seed)
        """Picks among candidates for targets without a seed of their own (``mode: one``)."""
        self._active: list[Injection] = []
        self._started: list[Injection] = []
        self._lock = threading.Lock()
        self._signals = contextlib.ExitStack()
        self._watch = contextlib.ExitStack()
        self._interrupted_by: str | None = None
        self._halted: HaltState | None = None
        self._halt_raised = False
        self._kick_pending = False
        self._closed = False
        self.result: RunResult | None = None
        """What the session did, once it is closed (None if it started no fault)."""

    def __enter__(self) -> FaultSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # what faults and probes stand on: the run scope's

    @property
    def plugins(self) -> Plugins:
        return self.scope.plugins

    @property
    def runtime(self) -> Runtime:
        return self.scope.runtime

    @property
    def ledger(self) -> Ledger | None:
        return self.scope.ledger

    @property
    def safeguards(self) -> Safeguards:
        return self.scope.safeguards

    @property
    def clock(self) -> RunClock:
        return self.scope.clock

    @property
    def observer(self) -> Observer:
        """Events go through the scope: redacted, and an observer that raises is ignored."""
        return self.scope.emit

    @property
    def run_id(self) -> str:
        return self.runtime.run_id

    @property
    def active(self) -> list[Injection]:
        with self._lock:
            return list(self._active)

    # -- faults --------------------------------------------------------------

    def fault(
        self,
        fault: str,
        target: TargetLike,
        duration: str | float | None = None,
        *,
        name: str | None = None,
        targets: Mapping[str, TargetLike] | None = None,
        **params: Any,
    ) -> Injection:
        """A fault ready to inject: use it as a context manager (or call ``start()``).

        ``target`` is written as in an experiment (``kind`` defaults to
        ``container``; ``select``, ``mode``, ``seed``, ``max_targets``,
        ``max_percent``, ``allow_empty``). ``duration`` is required for a
        reversible fault: the fault lasts at most that long, and its watchdog
        reverts it then (plus the grace) if this process dies. ``params`` are
        the fault's own parameters; ``targets`` names further targets that
        parameters refer to (``network.partition``'s ``from``). Raises
        UsageError, naming the fault and the parameter, for anything invalid.
        """
        __tracebackhide__ = True  # pytest: keep parameters (secrets) out of tracebacks
        return self._injection(fault, target, duration, name, targets, params)

    def _injection(
        self,
        fault_name: str,
        target: TargetLike,
        duration: str | float | None,
        name: str | None,
        targets: Mapping[str, TargetLike] | None,
        params: dict[str, Any],
        owns_session: bool = False,
    ) -> Injection:
        """The fault call checked as a one-step experiment, by the experiment
        validator's own checks (:mod:`chaos.experiment.validate`): the same
        mistake reads the same as in a file."""
        __tracebackhide__ = True  # pytest: keep parameters (secrets) out of tracebacks
        if self._closed:
            raise UsageError("this fault session is closed")
        registry = self.plugins.registry
        step_name = name or fault_name
        owner = f"fault {fault_name}"
        problems = CallProblems(owner, own_target=step_name)
        if fault_name not in registry.faults:
            raise UsageError(unknown_kind("fault", fault_name, registry))
        written = {step_name: ("target", target)}
        for other, value in (targets or {}).items():
            if other == step_name:
                raise UsageError(f"{owner}: targets: {other!r} is the fault's own target name")
            written[other] = (f"targets[{other!r}]", value)
        specs = {
            target_name: spec
            for target_name, (where, value) in written.items()
            if (spec := self._target_spec(owner, where, value, target_name, problems)) is not None
        }
        given = set(params) & set(FAULT_STEP_KEYS)
        for key in sorted(given):  # ``at`` and the like are the call's to set, not a parameter
            problems.at_key(
                ("method", 0, key),
                not_a_parameter(key, owner, registry.faults[fault_name].cls.Params),
            )
        document = {"name": step_name, "fault": fault_name, "target": step_name}
        step = None
        try:
            step = FaultStep.model_validate(
                {**{k: v for k, v in params.items() if k not in given}, **document}
                | ({} if duration is None else {"duration": duration})
            )
        except ValidationError as exc:
            problems.pydantic(exc, ("method", 0), model=FaultStep)
        validated = None
        if step is not None:
            parts = Parts(frozenset(written), specs, {"method": [(0, step)]})
            validated = validate_plugins(parts, registry, problems).get(("method", 0))
        if problems.messages or step is None or validated is None:
            raise UsageError(problems.text())
        fault = registry.faults[fault_name].cls()
        return Injection(self, fault, step, validated, specs, owns_session=owns_session)

    def _target_spec(
        self, owner: str, where: str, value: Any, name: str, problems: CallProblems
    ) -> TargetSpec | None:
        """``value`` as a target spec, or None with its problems reported."""
        if isinstance(value, TargetSpec):
            return value
        if not isinstance(value, Mapping):
            raise UsageError(
                f"{owner}: {where} must be a mapping like {{'select': {{'name': 'web'}}}}, "
                f"not {type(value).__name__}"
            )
        try:
            return TargetSpec.model_validate(dict(value))
        except ValidationError as exc:
            problems.pydantic(exc, ("targets", name), model=TargetSpec)
            return None

    # -- probes --------------------------------------------------------------

    def wait_until(
        self,
        probe: str,
        within: str | float = "30s",
        interval: str | float = "500ms",
        target: TargetLike | TargetRef | Iterable[TargetRef] | None = None,
        **params: Any,
    ) -> Check:
        """Sample ``probe`` every ``interval`` until it passes; return that Check.

        ``target`` (for probes that take one): a target as for :meth:`fault`,
        or resolved objects (``injected.targets``). Raises ProbeTimeout after
        ``within``, with the last sample's detail; UsageError for bad input.
        """
        __tracebackhide__ = True  # pytest: keep parameters (secrets) out of tracebacks
        registry = self.plugins.registry
        if probe not in registry.probes:
            raise UsageError(unknown_kind("probe", probe, registry))
        cls: type[Probe] = registry.probes[probe].cls
        owner = f"probe {probe}"
        problems = CallProblems(owner)
        limit = _seconds(problems, "within", within)
        every = _seconds(problems, "interval", interval)
        if every is not None:
            try:
                check_interval(every)
            except ValueError as exc:
                problems.value("interval", str(exc))
        validated = check_params(
            problems, ("probes", 0), params, cls.Params, STEP_KEYS["probes"], owner
        )
        if problems.messages or limit is None or every is None:
            raise UsageError(problems.text())
        refs: tuple[TargetRef, ...] = ()
        if target is not None:
            if not cls.accepts_target:
                raise UsageError(f"{owner} does not take a target")
            refs = self._probe_targets(owner, target)
        bound = BoundProbe("wait_until", probe, cls(), validated, refs)
        shown = _describe_params(validated)
        deadline = time.monotonic() + limit
        samples = 0
        while True:
            sample = bound.sample(self.runtime, self.clock)
            samples += 1
            if sample.ok:
                return Check(True, sample.detail)
            left = deadline - time.monotonic()
            if left <= 0:
                last = Check(False, sample.detail)
                raise ProbeTimeout(
                    self.runtime.redactor.text(
                        f"{owner}{shown} did not pass within {format_duration(limit)} "
                        f"({samples} sample{'s' if samples != 1 else ''}, one every "
                        f"{format_duration(every)}); last: {sample.detail or 'failed, no detail'}"
                    ),
                    last,
                    samples,
                )
            time.sleep(min(every, left))

    def _probe_targets(self, owner: str, target: Any) -> tuple[TargetRef, ...]:
        if isinstance(target, TargetRef):
            return (target,)
        if isinstance(target, TargetSpec | Mapping):
            problems = CallProblems(owner, own_target="target")
            spec = self._target_spec(owner, "target", target, "target", problems)
            if spec is not None:
                parts = Parts(frozenset({"target"}), {"target": spec}, {})
                validate_plugins(parts, self.plugins.registry, problems)
            if problems.messages or spec is None:
                raise UsageError(problems.text())
            return resolve_target(
                self.plugins.registry, self.runtime, "target", spec, self.seed, acted_upon=False
            ).chosen
        refs = tuple(target)
        if not all(isinstance(r, TargetRef) for r in refs):
            raise UsageError(
                f"{owner}: target must be a mapping like {{'select': {{...}}}} or TargetRefs"
            )
        return refs

    # -- bookkeeping -----------------------------------------------------------

    def _begin(self, injection: Injection) -> None:
        halted = self.scope.halted()
        if halted is not None:  # refused before anything is touched, recovery included
            raise Halted(halted.message)
        self.scope.recover_orphans()
        with self._lock:
            self._started.append(injection)
            self._active.append(injection)
            first = len(self._active) == 1
        if first:
            self._watch.enter_context(self.scope.watch_halt(self._on_halt))
        if first and threading.current_thread() is threading.main_thread():
            self._signals.enter_context(self.scope.interrupts(self._on_signal, defaults_only=True))

    def _end(self, injection: Injection) -> None:
        with self._lock:
            if injection in self._active:
                self._active.remove(injection)
            last = not self._active
        if last:
            self._watch.close()
            self._release_signals()

    def _on_signal(self, name: str) -> None:
        """SIGINT, SIGTERM or SIGHUP while a fault is active: leave the block (the
        revert holds further ones back until it is done), as Ctrl-C does. The
        SIGINT a halt sends (:meth:`_on_halt`) leaves it with Halted instead."""
        if self._kick_pending and name == "SIGINT":
            self._kick_pending = False
            self._raise_halted()
            return
        self._interrupted_by = self._interrupted_by or name
        raise KeyboardInterrupt(f"{name}: every active fault is reverted")

    def _on_halt(self, state: HaltState) -> None:
        """The kill switch was thrown (the watcher's thread, or before an injection):
        every active fault is reverted at once, on its own thread, and the main
        thread is made to leave its block with Halted when this session holds
        its SIGINT (elsewhere the block gets Halted when it ends)."""
        with self._lock:
            active = list(self._active)
            if active:  # a halt between two blocks concerns the next one, which refuses
                self._halted = self._halted or state
            for injection in active:
                injection._halt(state)
            kick = bool(active) and not self._halt_raised and not self._kick_pending
            self._kick_pending = self._kick_pending or kick
        if kick and not interrupt_main_thread():  # outside the lock: the handler runs here
            self._kick_pending = False

    def _check_halt(self) -> None:
        """Before each injection: a halt the watcher has not seen yet stops it too."""
        state = self.scope.halted()
        if state is not None:
            self._on_halt(state)

    def _raise_halted(self, *, always: bool = False) -> None:
        """Raise Halted, once per session: the one block it ends says why. Takes no
        lock: it runs in a signal handler, which may have interrupted a holder."""
        halted = self._halted
        if halted is None or (self._halt_raised and not always):
            return
        self._halt_raised = True
        raise Halted(f"{halted.message}; every active fault was reverted")

    def _release_signals(self) -> None:
        """Give the signals back; only the main thread can (else :meth:`close` does)."""
        if threading.current_thread() is threading.main_thread():
            self._signals.close()

    def close(self) -> None:
        """Revert every fault still active (newest first), report the session to
        ``chaosdrill_run_finished`` (if it started a fault) and let go of the engine.

        Raises RevertFailed naming every fault that could not be reverted."""
        if self._closed:
            return
        errors = []
        halted: Halted | None = None
        for injection in reversed(self.active):
            try:
                injection.revert()
            except RevertFailed as exc:
                errors.append(str(exc))
            except Halted as exc:
                halted = halted or exc
        self._closed = True
        self._release_signals()
        try:
            if self._started:
                self.result = self.scope.finished(self._result())
        finally:
            self.scope.close()
        if errors:
            raise RevertFailed("; ".join(errors))
        if halted is not None:
            raise halted

    def _result(self) -> RunResult:
        """What the session did, as a run's result: every fault it started, with
        its targets and records, and the reasons (inject and revert failures, a
        signal) deciding the verdict. It writes no journal file."""
        reasons = [reason for injection in self._started for reason in injection.reasons]
        end = self.clock.now()
        if self._halted is not None:
            reasons.append(
                ReasonRecord(
                    kind="halted",
                    message=self._halted.message,
                    at=end,
                )
            )
        if self._interrupted_by is not None:
            reasons.append(
                ReasonRecord(
                    kind="interrupted",
                    message=f"fault session interrupted by {self._interrupted_by}; "
                    "every active fault was reverted",
                    at=end,
                )
            )
        verdict = decide(reasons)
        journal = open_journal(
            self.run_id,
            self.clock,
            {"file": None, "title": SESSION_TITLE, "tags": []},
            self.seed,
        )
        journal.targets = target_records(
            {name: sel for i in self._started for name, sel in i.selections.items()}
        )
        journal.faults = [record for injection in self._started for record in injection.records]
        journal = close_journal(
            journal, verdict, ordered(reasons, verdict), end, self.clock, self.runtime.redactor
        )
        return RunResult(verdict, tuple(journal.reasons), journal, None)


SESSION_TITLE = "faults injected from code"
"""The title a session's result carries (``result.journal.experiment["title"]``)."""


# -- validation ----------------------------------------------------------------------


def _seconds(problems: CallProblems, key: str, value: str | float) -> float | None:
    try:
        return parse_duration(value)
    except ValueError as exc:
        problems.value(key, str(exc))
        return None


def _describe_params(params: BaseModel) -> str:
    """`` (url=http://..., port=80)``: what the user set, to say which probe timed out."""
    try:
        shown = params.model_dump(mode="json", exclude_defaults=True, by_alias=True)
    except Exception:
        return ""
    if not shown:
        return ""
    text = ", ".join(f"{k}={v}" for k, v in shown.items())
    return f" ({text[:200]})"
