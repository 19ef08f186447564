"""Running a suite: every experiment under some paths, one after the other or
several at a time on disjoint targets, into one :class:`SuiteResult`.

Each experiment runs through :func:`chaos.running.run` (the function behind
:func:`chaos.api.run`) with a report directory of its own
(``<report_dir>/<case name>/``), as ``chaosdrill run`` would run it.
The suite handles SIGINT and SIGTERM on the main thread: every running
experiment reverts its faults at once and ends ``aborted``, and the ones not
started yet are reported ``aborted`` without running. A halt
(``chaosdrill halt``) does the same: each running experiment sees it itself
(reason ``halted``), and none starts while it is in force.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chaos import running
from chaos.engine.interrupt import Interrupt
from chaos.errors import ChaosError, Halted, InvalidArgument, InvalidExperiment, UsageError
from chaos.experiment.loader import LoadedExperiment
from chaos.halt import HaltFlag
from chaos.journal.writer import DEFAULT_REPORT_DIR
from chaos.redaction import Redactor
from chaos.signals import interrupt_signals
from chaos.suite.discover import Found, case_name, discover, read_yaml
from chaos.suite.result import CaseResult, CaseVerdict, ProbeFigures, SuiteResult
from chaos.suite.schedule import Keys, fault_targets, next_to_start
from chaos.suite.score import judge, resilience_score

CaseCallback = Callable[[CaseResult], None]


@dataclass
class _Case:
    """An experiment that loaded, waiting to run."""

    index: int
    found: Found
    name: str
    loaded: LoadedExperiment
    seed: int
    report_dir: Path | None


def run_suite(
    paths: Sequence[str | Path],
    *,
    jobs: int = 1,
    report_dir: str | Path | None = DEFAULT_REPORT_DIR,
    seed: int | None = None,
    fail_under: float | None = None,
    inventory: Any = None,
    plugins: Any = None,
    state_dir: str | Path | None = None,
    on_case: CaseCallback | None = None,
    on_start: Callable[[Sequence[Found], Sequence[Path]], None] | None = None,
    handle_signals: bool = True,
    interrupt: Interrupt | None = None,
    pushgateway: str | None = None,
) -> SuiteResult:
    """Run every experiment under ``paths`` (see :mod:`chaos.suite.discover`).

    ``jobs`` > 1 runs experiments whose fault targets do not overlap at the
    same time (see :mod:`chaos.suite.schedule`). ``on_case`` is called once
    per experiment as it finishes (from one thread at a time), ``on_start``
    once with what was found. Raises UsageError for bad arguments, a missing
    path or no experiment at all; everything else ends up in the result.
    ``pushgateway`` pushes each experiment's figures as it finishes, grouped
    under its case name (see :func:`chaos.running.run`).
    """
    from chaos.engine.plan import resolve_seed
    from chaos.plugins import default_plugins
    from chaos.pushgateway import Pushgateway

    if jobs < 1:
        raise InvalidArgument("jobs", f"must be at least 1, not {jobs}")
    if fail_under is not None and not 0 <= fail_under <= 100:
        raise InvalidArgument("fail_under", f"must be between 0 and 100, not {fail_under:g}")
    if pushgateway is not None:
        Pushgateway.parse(pushgateway)  # InvalidArgument before anything runs
    discovery = discover(list(paths))
    if on_start is not None:
        on_start(discovery.experiments, discovery.skipped)
    plugins = plugins or default_plugins()
    started_at = datetime.now(timezone.utc)
    clock = time.monotonic()
    report = _Reporter(on_case)
    interrupt = interrupt or Interrupt()

    cases: list[_Case] = []
    names: set[str] = set()
    for index, found in enumerate(discovery.experiments):
        name = _unique(case_name(found), names)
        try:
            loaded = _load(found.path, plugins)
        except Exception as exc:
            report(_not_loaded(index, found, name, exc))
            continue
        cases.append(
            _Case(
                index,
                found,
                name,
                loaded,
                resolve_seed(seed),
                Path(report_dir) / name if report_dir is not None else None,
            )
        )

    context = _RunContext(plugins, inventory, state_dir, interrupt, report, pushgateway)
    with interrupt_signals(_trigger_later(interrupt), enabled=handle_signals):
        if jobs == 1 or len(cases) <= 1:
            for case in cases:
                context.run(case)
        else:
            _run_parallel(cases, jobs, context)

    reported = {index for index, _ in report.results}
    for case in cases:  # never happens unless a run crashed the suite's own code
        if case.index not in reported:
            report((case.index, _crashed(case, RuntimeError("the experiment never finished"))))
    results = tuple(sorted(report.results, key=lambda item: item[0]))
    ordered = tuple(result for _, result in results)
    exit_code, message = judge(ordered, fail_under)
    if interrupt.cause is not None:
        message = f"interrupted by {interrupt.cause}; {message}"
    elif context.halted is not None:
        message = f"{context.halted}; {message}"
    return SuiteResult(
        cases=ordered,
        score=resilience_score(ordered),
        exit_code=exit_code,
        message=message,
        fail_under=fail_under,
        skipped=discovery.skipped,
        started_at=started_at.strftime("%Y-%m-%dT%H:%M:%S"),
        duration=time.monotonic() - clock,
        jobs=jobs,
        interrupted=interrupt.cause,
    )


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


def _load(path: Path, plugins: Any) -> LoadedExperiment:
    return running.load(path, plugins=plugins)


def _not_loaded(index: int, found: Found, name: str, exc: Exception) -> tuple[int, CaseResult]:
    if isinstance(exc, InvalidExperiment):
        verdict, reasons = CaseVerdict.INVALID, tuple(str(p) for p in exc.problems)
    elif isinstance(exc, UsageError):
        verdict, reasons = CaseVerdict.INVALID, (str(exc),)
    else:
        verdict, reasons = CaseVerdict.ERROR, (f"{found.path}: {_describe(exc)}",)
    title, weight = _title_and_weight(found.path)
    return index, CaseResult(found.path, name, title, weight, verdict, reasons or ("invalid",))


def _title_and_weight(path: Path) -> tuple[str, float]:
    """What an invalid file says of itself, where it can be read."""
    try:
        data = read_yaml(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        data = None
    title, weight = str(path), 1.0
    if isinstance(data, dict):
        if isinstance(data.get("title"), str) and data["title"].strip():
            title = data["title"].strip()
        value = data.get("weight")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1e300:
            weight = float(value)
    return title, weight


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ChaosError) else f"{type(exc).__name__}: {exc}"


class _Reporter:
    """Collects results and hands each to the callback, one thread at a time."""

    def __init__(self, callback: CaseCallback | None):
        self.callback = callback
        self.results: list[tuple[int, CaseResult]] = []
        self._lock = threading.Lock()

    def __call__(self, item: tuple[int, CaseResult]) -> None:
        with self._lock:
            self.results.append(item)
            if self.callback is not None:
                with contextlib.suppress(Exception):  # a broken callback must not stop the suite
                    self.callback(item[1])


@dataclass
class _RunContext:
    plugins: Any
    inventory: Any
    state_dir: str | Path | None
    interrupt: Interrupt
    report: _Reporter
    pushgateway: str | None = None
    halted: str | None = None
    """The halt's message, once one stopped an experiment or kept one from starting."""

    def run(self, case: _Case) -> None:
        """Run one experiment (on any thread) and report it."""
        if self.interrupt.cause is not None:
            self.report((case.index, _not_run(case, self.interrupt.cause)))
            return
        halt = HaltFlag(self.state_dir).status()
        if halt is not None:
            self.halted = self.halted or halt.message
            self.report((case.index, _not_run_halted(case, halt.message)))
            return
        started, clock = time.time(), time.monotonic()

        def finished(verdict: CaseVerdict, reasons: tuple[str, ...], **more: Any) -> CaseResult:
            return _case_result(
                case,
                verdict,
                reasons,
                duration=time.monotonic() - clock,
                started=started,
                ended=time.time(),
                **more,
            )

        try:
            result = running.run(
                case.loaded,
                seed=case.seed,
                report_dir=case.report_dir,
                plugins=self.plugins,
                handle_signals=False,  # the suite handles signals, on the main thread
                interrupt=self.interrupt,
                state_dir=self.state_dir,
                inventory=self.inventory,
                pushgateway=self.pushgateway,
                push_group=case.name,
            )
        except Halted as exc:  # thrown between the look above and the run's own
            self.halted = self.halted or str(exc)
            self.report((case.index, _not_run_halted(case, str(exc))))
            return
        except UsageError as exc:  # invalid input found before anything was touched
            self.report((case.index, finished(CaseVerdict.INVALID, (str(exc),))))
            return
        except Exception as exc:  # running.run does not raise for run-time failures: a bug
            self.report((case.index, finished(CaseVerdict.ERROR, (_describe(exc),))))
            return
        journal = result.journal
        halted = [reason.message for reason in result.reasons if reason.kind == "halted"]
        if halted:
            self.halted = self.halted or halted[0]
        probes = tuple(
            ProbeFigures(
                record.section,
                record.name,
                record.summary.availability,
                record.summary.longest_outage,
                record.time_to_recover,
            )
            for record in [*journal.probes, *journal.guards]
            if record.summary is not None
        )
        self.report(
            (
                case.index,
                finished(
                    CaseVerdict(result.verdict.value),
                    tuple(reason.message for reason in result.reasons),
                    journal_path=result.journal_path,
                    probes=probes,
                    time_to_recover=journal.recovery.time_to_recover if journal.recovery else None,
                    run=result,
                ),
            )
        )

    def keys_of(self, case: _Case) -> Keys | None:
        """What the experiment's faults would act on if it started now; None
        when it cannot be planned (it will then run alone, and say why)."""
        runtime = running.runtime_for(case.loaded, inventory=self.inventory, plugins=self.plugins)
        try:
            plan = running.plan(case.loaded, seed=case.seed, plugins=self.plugins, runtime=runtime)
            return fault_targets(plan)
        except Exception:
            return None
        finally:
            with contextlib.suppress(Exception):
                runtime.close()


def _case_result(
    case: _Case, verdict: CaseVerdict, reasons: tuple[str, ...], **more: Any
) -> CaseResult:
    experiment = case.loaded.experiment
    redact = Redactor(case.loaded.secrets).text
    return CaseResult(
        case.found.path,
        case.name,
        redact(experiment.title),
        experiment.weight,
        verdict,
        tuple(redact(r) for r in reasons),
        **more,
    )


def _crashed(case: _Case, exc: BaseException) -> CaseResult:
    return _case_result(case, CaseVerdict.ERROR, (f"internal error: {_describe(exc)}",))


def _not_run(case: _Case, cause: str) -> CaseResult:
    return _case_result(
        case, CaseVerdict.ABORTED, (f"not run: the suite was interrupted by {cause}",)
    )


def _not_run_halted(case: _Case, message: str) -> CaseResult:
    return _case_result(case, CaseVerdict.ABORTED, (f"not run: {message}",))


def _run_parallel(cases: list[_Case], jobs: int, context: _RunContext) -> None:
    """Greedy list scheduling on ``jobs`` worker threads (see :mod:`chaos.suite.schedule`).

    Pending experiments are planned again only when a run has finished since
    the last try, so a blocked queue does not poll the engine."""
    pending = list(cases)
    running: dict[int, Keys | None] = {}
    finished = 0
    tried_at: int | None = None  # the value of `finished` when nothing could start
    changed = threading.Condition()

    def work(case: _Case) -> None:
        nonlocal finished
        try:
            context.run(case)
        except Exception as exc:  # a bug: the suite still reports the experiment
            context.report((case.index, _crashed(case, exc)))
        finally:
            with changed:
                running.pop(case.index, None)
                finished += 1
                changed.notify_all()

    threads: list[threading.Thread] = []
    with changed:
        while pending:
            if context.interrupt.cause is not None:
                for case in pending:
                    context.report((case.index, _not_run(case, context.interrupt.cause)))
                pending.clear()
                break
            pick = None
            if len(running) < jobs and tried_at != finished:
                pick = next_to_start(pending, list(running.values()), context.keys_of)
                if pick is None:
                    tried_at = finished
            if pick is None:
                changed.wait(0.5)  # a timeout, to notice an interrupt
                continue
            index, keys = pick
            case = pending.pop(index)
            running[case.index] = keys
            tried_at = None
            thread = threading.Thread(
                target=work, args=(case,), name=f"chaosdrill-suite-{case.name}", daemon=True
            )
            threads.append(thread)
            thread.start()
    for thread in threads:
        while thread.is_alive():  # short joins: the main thread keeps handling signals
            thread.join(0.1)


def _trigger_later(interrupt: Interrupt) -> Callable[[str], None]:
    """A signal handler that interrupts every run of the suite.

    The work happens on another thread, not in the handler itself: the handler
    may have interrupted this thread inside a lock the runs' callbacks take."""

    def on_signal(name: str) -> None:
        threading.Thread(target=interrupt.trigger, args=(name,), daemon=True).start()

    return on_signal
