"""Faults injected from code, one block at a time, with the safety of a run.

A :class:`FaultSession` is what ``api.fault``, ``api.wait_until`` and the
pytest plugin's ``chaos`` fixture stand on::

    with session.fault("container.pause", target={"select": {"name": "web"}},
                       duration="10s") as injected:
        ...  # the fault is in effect here, on injected.targets

Each injection goes through the same machinery as a fault step of a run:
the target is resolved by :func:`chaos.engine.plan.resolve_target` (kind,
``select``, ``mode``, ``seed``, blast-radius limits), the parameters are
validated by the fault's own model, and a :class:`~chaos.engine.activity.FaultActivity`
injects it, which writes the ledger entry and arms the watchdog
(:class:`~chaos.engine.safeguards.Safeguards`) before touching anything.

The fault is reverted when the block ends, however it ends (normally, an
exception, KeyboardInterrupt, SIGTERM while a fault is active), and at the
latest at the end of ``duration``: that is also the deadline its watchdog
reverts it at (plus the grace) if this process dies. A block that outlives
``duration`` finds the fault already reverted and gets a :class:`FaultExpired`
warning. :meth:`FaultSession.close` reverts whatever is still active (a
handle started with :meth:`Injection.start` and never reverted).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from chaos.durations import check_interval, format_duration, parse_duration
from chaos.engine.activity import FaultActivity
from chaos.engine.clock import RunClock
from chaos.engine.events import Notice, Observer, ignore, redacted
from chaos.engine.plan import PlannedFault, resolve_seed, resolve_target
from chaos.engine.safeguards import Safeguards
from chaos.engine.sampling import BoundProbe
from chaos.errors import ChaosError, InjectionFailed, RevertFailed, UsageError
from chaos.experiment.model import FaultStep, TargetSpec
from chaos.experiment.validate import did_you_mean, unknown_name
from chaos.fault import Fault
from chaos.journal.model import FaultRecord, ReasonRecord
from chaos.ledger import Ledger
from chaos.plugins import Plugins, default_plugins
from chaos.probe import Check, Probe
from chaos.runtime import Runtime
from chaos.targets import TargetRef
from chaos.targets.base import empty_criteria
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
        self.reasons: list[ReasonRecord] = []
        """What went wrong, in the words of a run's reasons (inject and revert failures)."""
        self.expired = False
        """True when the fault was reverted at the end of its ``duration``, before the block ended."""

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
            session.runtime,
            session.clock,
            session.clock.now(),
            self._abort,
            self._report,
            session.observer,
            session.safeguards,
        )
        try:
            self._activity.start()
            while not self._activity.injected.wait(JOIN_POLL):  # short waits: Ctrl-C gets in
                pass
        except BaseException:
            self.revert(raise_errors=False)
            raise
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
                    except KeyboardInterrupt as exc:
                        interrupted = interrupted or exc
                reverted_at = [r.reverted_at for r in activity.records if r.reverted_at is not None]
                self.expired = bool(
                    self.fault.reversible
                    and self.step.duration is not None
                    and reverted_at
                    and ended >= activity.end
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

    One session is one "run" as far as the ledger is concerned (one run id):
    its faults may overlap on one target, another live run's may not. It
    reverts whatever the runs before it left behind when its first fault
    starts, like ``chaosdrill run`` does. Close it when done (a ``with``
    block does): every fault still active is reverted.
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
        ``handle_signals``: while a fault is active on the main thread, SIGTERM
        raises KeyboardInterrupt there so every block is left and reverted (only
        when SIGTERM has its default handler)."""
        self.plugins = plugins or default_plugins()
        self._owns_runtime = runtime is None
        self.runtime = runtime or Runtime(docker_url=docker_url, inventory=inventory)
        self.runtime.node_controllers = self.plugins.registry.node_controllers
        self.ledger = Ledger(Path(state_dir) if state_dir else None) if safeguards else None
        self.safeguards = Safeguards(self.ledger)
        self.seed = resolve_seed(seed)
        """Picks among candidates for targets without a seed of their own (``mode: one``)."""
        self.clock = RunClock()
        self.observer: Observer = lambda event: observer(
            redacted(event, self.runtime.redactor.text)
        )
        self.handle_signals = handle_signals
        self._active: list[Injection] = []
        self._lock = threading.Lock()
        self._recovered = False
        self._previous_sigterm: dict[int, Any] = {}
        self._closed = False

    def __enter__(self) -> FaultSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
        __tracebackhide__ = True  # pytest: keep parameters (secrets) out of tracebacks
        if self._closed:
            raise UsageError("this fault session is closed")
        registry = self.plugins.registry
        faults = registry.faults
        if fault_name not in faults:
            raise UsageError(unknown_name("fault", fault_name, faults))
        fault = faults[fault_name].cls()
        owner = f"fault {fault_name}"
        step_name = name or fault_name
        try:
            step = FaultStep.model_validate(
                {"name": step_name, "fault": fault_name, "target": step_name, "duration": duration}
            )
        except ValidationError as exc:
            message = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
            raise UsageError(f"{owner}: duration: {message}") from None
        if fault.reversible and step.duration is None:
            raise UsageError(
                f"{owner} is reversible and needs a duration: the longest it may last, "
                "and when its watchdog reverts it if this process dies"
            )
        specs = {step_name: self._target(owner, "target", target, fault.target_kinds)}
        for other, spec in (targets or {}).items():
            if other == step_name:
                raise UsageError(f"{owner}: targets: {other!r} is the fault's own target name")
            specs[other] = self._target(owner, f"targets[{other!r}]", spec, None)
        model = fault.Params
        validated = _validate(owner, model, params)
        for key, names in fault.references(validated).items():
            missing = [n for n in names if n not in specs or n == step_name]
            if missing:
                defined = ", ".join(sorted(set(specs) - {step_name})) or "none"
                raise UsageError(
                    f"{owner}: parameter {key!r} names {', '.join(map(repr, missing))}: "
                    f"pass it in targets={{...}} (defined: {defined})"
                )
        return Injection(self, fault, step, validated, specs, owns_session=owns_session)

    def _target(
        self, owner: str, where: str, value: Any, kinds: tuple[str, ...] | None
    ) -> TargetSpec:
        registry = self.plugins.registry
        if isinstance(value, TargetSpec):
            spec = value
        elif isinstance(value, Mapping):
            try:
                spec = TargetSpec.model_validate(dict(value))
            except ValidationError as exc:
                raise UsageError(
                    _problems(owner, exc, what=where, model=TargetSpec, noun="key")
                ) from None
        else:
            raise UsageError(
                f"{owner}: {where} must be a mapping like {{'select': {{'name': 'web'}}}}, "
                f"not {type(value).__name__}"
            )
        kind = registry.target_kinds.get(spec.kind)
        if kind is None:
            raise UsageError(
                f"{owner}: {where}: {unknown_name('target kind', spec.kind, registry.target_kinds)}"
            )
        selector = kind.cls.Selector
        try:
            selector.model_validate(spec.select)
        except ValidationError as exc:
            raise UsageError(
                _problems(owner, exc, what=f"{where} select", model=selector, noun="key")
            ) from None
        for key, message in empty_criteria(selector, spec.select):
            if key is None:
                raise UsageError(
                    f"{owner}: {where} needs a select (one of: "
                    f"{', '.join(selector.model_fields)}): an empty selector would match everything"
                )
            raise UsageError(f"{owner}: {where} {message}")
        if kinds is not None and spec.kind not in kinds:
            raise UsageError(f"{owner} acts on {', '.join(kinds)}, but its target is a {spec.kind}")
        return spec

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
        probes = registry.probes
        if probe not in probes:
            raise UsageError(unknown_name("probe", probe, probes))
        cls: type[Probe] = probes[probe].cls
        owner = f"probe {probe}"
        limit = _seconds(owner, "within", within)
        every = _seconds(owner, "interval", interval)
        try:
            check_interval(every)
        except ValueError as exc:
            raise UsageError(f"{owner}: interval: {exc}") from None
        validated = _validate(owner, cls.Params, params)
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
            spec = self._target(owner, "target", target, None)
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
        if not self._recovered:
            self._recovered = True
            self._recover_orphans()
        with self._lock:
            self._active.append(injection)
            first = len(self._active) == 1
        if first:
            self._trap_sigterm()

    def _end(self, injection: Injection) -> None:
        with self._lock:
            if injection in self._active:
                self._active.remove(injection)
            last = not self._active
        if last:
            self._release_sigterm()

    def _recover_orphans(self) -> None:
        """Revert what dead runs left in the ledger before adding faults of our own."""
        if self.ledger is None:
            return
        from chaos.recovery import recover_orphans

        recover_orphans(
            self.plugins,
            self.runtime,
            self.ledger,
            lambda message: self.observer(Notice(self.clock.now(), message)),
        )

    def _trap_sigterm(self) -> None:
        """SIGTERM and SIGHUP (a closed terminal) raise KeyboardInterrupt in the
        main thread while a fault is active, as Ctrl-C does, so every block is
        left and reverted; only where they still have their default handler."""
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            return
        with contextlib.suppress(ValueError, OSError):
            for signum in TRAPPED:
                if signal.getsignal(signum) is signal.SIG_DFL:
                    self._previous_sigterm[signum] = signal.signal(signum, _sigterm)

    def _release_sigterm(self) -> None:
        if not self._previous_sigterm:
            return
        with contextlib.suppress(ValueError, OSError):
            if threading.current_thread() is threading.main_thread():
                for signum, previous in self._previous_sigterm.items():
                    signal.signal(signum, previous)
                self._previous_sigterm = {}

    def close(self) -> None:
        """Revert every fault still active (newest first) and let go of the engine.

        Raises RevertFailed naming every fault that could not be reverted."""
        if self._closed:
            return
        errors = []
        for injection in reversed(self.active):
            try:
                injection.revert()
            except RevertFailed as exc:
                errors.append(str(exc))
        self._closed = True
        self._release_sigterm()
        if self._owns_runtime:
            self.runtime.close()
        if errors:
            raise RevertFailed("; ".join(errors))


TRAPPED = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


def _sigterm(signum: int, frame: object) -> None:
    name = signal.Signals(signum).name
    raise KeyboardInterrupt(f"{name}: every active fault is reverted")


# -- validation messages ------------------------------------------------------------


def _validate(owner: str, model: type[BaseModel], values: dict[str, Any]) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise UsageError(_problems(owner, exc, what="", model=model)) from None


def _problems(
    owner: str,
    exc: ValidationError,
    *,
    what: str,
    model: type[BaseModel] | None = None,
    noun: str = "parameter",
) -> str:
    """Pydantic errors as one line per problem, naming the owner and the key."""
    written = [info.alias or key for key, info in model.model_fields.items()] if model else []
    lines = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        field = ".".join(str(p) for p in loc)
        prefix = f"{owner}: {what}" if what else owner
        if error["type"] == "extra_forbidden" and len(loc) == 1:
            hint = did_you_mean(loc[0], written)
            takes = ", ".join(written) or f"no {noun}s"
            where = f" of {what}" if what else ""
            lines.append(f"{owner}: {loc[0]!r} is not a {noun}{where}{hint}; it takes: {takes}")
        elif error["type"] == "missing":
            lines.append(f"{prefix}: missing required {noun} {field!r}")
        else:
            message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
            if not field:
                lines.append(f"{prefix}: {message}")
            elif what:  # a key of the target: target.mode
                lines.append(f"{prefix}.{field}: {message}")
            else:
                lines.append(f"{prefix}: {noun} {field}: {message}")
    return "; ".join(dict.fromkeys(lines))


def _seconds(owner: str, key: str, value: str | float) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{owner}: {key}: {exc}") from None


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
