"""Running one drill of a game day: an experiment file or a suite, through the
same library API every other front end uses (:func:`chaos.api.run`,
:func:`chaos.api.suite`).

A drill runs on a scheduler thread, so it cannot take signals itself: the
daemon hands it an :class:`~chaos.engine.interrupt.Interrupt` that its main
thread triggers on SIGTERM or SIGINT, and the run reverts every fault and ends
``aborted`` exactly as on a signal. The kill switch needs nothing from here:
every run watches it (see :mod:`chaos.halt`).

Whatever happens, a drill returns an :class:`Outcome`; it never raises, so a
broken drill file is recorded in the history rather than killing the daemon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.engine.interrupt import Interrupt
from chaos.exitcodes import ExitCode

__all__ = ["DrillTarget", "Outcome", "run_drill"]

_STATE_OF_CODE = {
    ExitCode.PASSED: "passed",
    ExitCode.FAILED: "failed",
    ExitCode.INVALID: "invalid",
    ExitCode.ABORTED: "aborted",
    ExitCode.ERROR: "error",
}


@dataclass(frozen=True)
class DrillTarget:
    """What a drill runs, with paths already made absolute."""

    name: str
    experiment: Path | None = None
    suite: Path | None = None
    fail_under: float | None = None
    lab: str | None = None
    inventory: Path | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Outcome:
    """How a drill ended: ``state`` is the history's word for it (passed,
    failed, aborted, error, invalid)."""

    state: str
    reasons: tuple[dict[str, Any], ...] = ()
    journal: str | None = None
    detail: str = ""
    """One line for the log: the first reason, or the suite's judgement."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> ExitCode:
        return next(code for code, state in _STATE_OF_CODE.items() if state == self.state)


def run_drill(
    target: DrillTarget,
    *,
    report_dir: Path,
    interrupt: Interrupt | None = None,
    handle_signals: bool = False,
    state_dir: Path | None = None,
) -> Outcome:
    """Run ``target`` once and say how it ended; never raises."""
    from chaos.errors import ChaosError, InvalidExperiment

    try:
        if target.suite is not None:
            return _run_suite(target, report_dir, interrupt, handle_signals, state_dir)
        return _run_experiment(target, report_dir, interrupt, handle_signals, state_dir)
    except InvalidExperiment as exc:
        problems = [str(p) for p in exc.problems]
        return Outcome(
            "invalid",
            tuple({"kind": "invalid", "message": p} for p in problems),
            detail=problems[0] if problems else "invalid experiment",
        )
    except ChaosError as exc:
        return Outcome(
            "invalid" if exc.exit_code == ExitCode.INVALID else "error",
            ({"kind": "error", "message": str(exc)},),
            detail=str(exc),
        )
    except Exception as exc:  # a drill must never take the scheduler down with it
        message = f"the drill crashed: {type(exc).__name__}: {exc}"
        return Outcome("error", ({"kind": "internal_error", "message": message},), detail=message)


def _run_experiment(
    target: DrillTarget,
    report_dir: Path,
    interrupt: Interrupt | None,
    handle_signals: bool,
    state_dir: Path | None,
) -> Outcome:
    from chaos import api

    assert target.experiment is not None
    loaded = api.load(target.experiment)
    inventory = api.inventory(lab=target.lab, path=target.inventory)
    result = api.run(
        loaded,
        seed=target.seed,
        report_dir=report_dir,
        inventory=inventory,
        handle_signals=handle_signals,
        interrupt=interrupt,
        state_dir=state_dir,
    )
    reasons = tuple(r.model_dump(mode="json", exclude_none=True) for r in result.reasons)
    return Outcome(
        result.verdict.value,
        reasons,
        str(result.journal_path) if result.journal_path is not None else None,
        detail=result.messages[0] if result.messages else "",
    )


def _run_suite(
    target: DrillTarget,
    report_dir: Path,
    interrupt: Interrupt | None,
    handle_signals: bool,
    state_dir: Path | None,
) -> Outcome:
    from chaos import api

    assert target.suite is not None
    inventory = api.inventory(lab=target.lab, path=target.inventory)
    result = api.suite(
        [target.suite],
        report_dir=report_dir,
        seed=target.seed,
        fail_under=target.fail_under,
        inventory=inventory,
        state_dir=state_dir,
        handle_signals=handle_signals,
        interrupt=interrupt,
    )
    reasons = tuple(
        {"kind": case.verdict.value, "message": f"{case.name}: {message}"}
        for case in result.cases
        if case.verdict.value != "passed"
        for message in (case.reasons or (case.verdict.value,))
    )
    return Outcome(
        _STATE_OF_CODE[result.exit_code],
        reasons,
        str(report_dir),
        detail=f"score {result.score:.1f}: {result.message}",
        extra={"score": result.score},
    )
