"""The library API: load an experiment, plan it, run it.

Every front end (the ``chaosdrill`` CLI, the pytest plugin, the game-day
scheduler) goes through these functions and nothing else::

    from chaos import api

    loaded = api.load("experiments/web-survives-crash.yaml")
    result = api.run(loaded)
    assert result.verdict is api.Verdict.PASSED, result.reasons
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.engine.events import Observer, ignore
from chaos.engine.interrupt import Interrupt
from chaos.engine.plan import Plan
from chaos.engine.result import RunResult, Verdict
from chaos.engine.scope import runtime_for_run
from chaos.experiment.loader import LoadedExperiment
from chaos.journal.writer import DEFAULT_REPORT_DIR
from chaos.ledger import Ledger
from chaos.plugins import Plugins, default_plugins
from chaos.running import inventory, load, plan, preview, run, runtime_for
from chaos.suite import CaseResult, SuiteResult, run_suite
from chaos.suite.discover import Found
from chaos.swarm.inventory import Inventory

if TYPE_CHECKING:
    from chaos.engine.session import FaultSession, Injection, TargetLike
    from chaos.ledger import Entry
    from chaos.probe import Check
    from chaos.recovery import RecoveryReport

__all__ = [
    "Inventory",
    "LoadedExperiment",
    "Plan",
    "RunResult",
    "Verdict",
    "fault",
    "forget",
    "inventory",
    "load",
    "plan",
    "preview",
    "recover",
    "run",
    "runtime_for",
    "session",
    "suite",
    "wait_until",
]


def suite(
    paths: Sequence[str | Path],
    *,
    jobs: int = 1,
    report_dir: str | Path | None = DEFAULT_REPORT_DIR,
    seed: int | None = None,
    fail_under: float | None = None,
    inventory: Inventory | None = None,
    plugins: Plugins | None = None,
    state_dir: str | Path | None = None,
    on_case: Callable[[CaseResult], None] | None = None,
    on_start: Callable[[Sequence[Found], Sequence[Path]], None] | None = None,
    handle_signals: bool = True,
    interrupt: Interrupt | None = None,
    pushgateway: str | None = None,
) -> SuiteResult:
    """Run every experiment under ``paths`` (``chaosdrill suite``) and judge them.

    Directories are searched for experiment files (see
    :mod:`chaos.suite.discover`); invalid files are reported, not raised.
    ``jobs`` > 1 runs experiments whose fault targets do not overlap side by
    side (see :mod:`chaos.suite.schedule`); each run gets its own report
    directory under ``report_dir``. ``on_case`` receives each experiment's
    :class:`~chaos.suite.CaseResult` as it finishes, ``on_start`` the files
    found and the YAML files skipped as not experiments. The result carries the
    resilience score and the exit code (see :mod:`chaos.suite.score`); render
    it with :mod:`chaos.report.junit` or :mod:`chaos.report.markdown`.
    ``pushgateway`` pushes each experiment's figures to a Prometheus
    Pushgateway as it finishes, grouped as ``experiment=<case name>`` (see
    :func:`run`; a failed push is a notice in ``case.run.notices``).
    Raises UsageError for a missing path, bad arguments or no experiment.
    """
    return run_suite(
        paths,
        jobs=jobs,
        report_dir=report_dir,
        seed=seed,
        fail_under=fail_under,
        inventory=inventory,
        plugins=plugins,
        state_dir=state_dir,
        on_case=on_case,
        on_start=on_start,
        handle_signals=handle_signals,
        interrupt=interrupt,
        pushgateway=pushgateway,
    )


def session(
    *,
    inventory: Inventory | None = None,
    docker_url: str | None = None,
    state_dir: str | Path | None = None,
    safeguards: bool = True,
    seed: int | None = None,
    plugins: Plugins | None = None,
    observer: Observer = ignore,
    handle_signals: bool = True,
) -> FaultSession:
    """A session that injects faults from code (``session.fault(...)``) and
    waits on probes (``session.wait_until(...)``); closing it (``with``)
    reverts every fault still active. It is one run: one run id for the
    ledger, what dead runs left reverted before its first fault, and, once it
    started a fault, ``chaosdrill_run_finished`` when it closes."""
    from chaos.engine.session import FaultSession

    return FaultSession(
        plugins=plugins,
        inventory=inventory,
        docker_url=docker_url,
        state_dir=state_dir,
        safeguards=safeguards,
        seed=seed,
        observer=observer,
        handle_signals=handle_signals,
    )


def fault(
    fault: str,
    target: TargetLike,
    duration: str | float | None = None,
    *,
    name: str | None = None,
    targets: Mapping[str, TargetLike] | None = None,
    **params: Any,
) -> Injection:
    """Inject one fault for the length of a ``with`` block, with the safety of a run::

        with api.fault("container.pause", target={"select": {"name": "web"}},
                       duration="10s") as injected:
            ...  # web is paused; injected.targets says which container

    The target is resolved as in an experiment (``kind`` defaults to
    ``container``; ``mode``, ``seed``, ``max_targets``, ``allow_empty``), the
    parameters are validated by the fault's model (UsageError naming the
    fault and the parameter), the ledger entry is written and the watchdog
    armed before the injection, and the fault is reverted when the block ends
    (normally, by an exception or KeyboardInterrupt) or at the end of
    ``duration``, whichever comes first. If the process dies, the watchdog
    reverts it at ``duration`` plus its grace. ``duration`` is required for a
    reversible fault; a one-shot fault (``container.kill``) needs none.

    The local engine, the default state dir; for a swarm, or several faults
    in one run, use :func:`session`.
    """
    __tracebackhide__ = True  # pytest: keep parameters (secrets) out of tracebacks
    from chaos.engine.session import FaultSession

    owner = FaultSession()
    try:
        return owner._injection(fault, target, duration, name, targets, params, owns_session=True)
    except BaseException:
        owner.close()
        raise


def wait_until(
    probe: str,
    within: str | float = "30s",
    interval: str | float = "500ms",
    target: TargetLike | None = None,
    **params: Any,
) -> Check:
    """Sample a probe every ``interval`` until it passes and return that Check;
    raise :class:`chaos.engine.session.ProbeTimeout` (a TimeoutError) after
    ``within``, with the last sample's detail::

        api.wait_until("http", within="20s", url="http://127.0.0.1:8080/")
    """
    __tracebackhide__ = True  # pytest: keep parameters (secrets) out of tracebacks
    from chaos.engine.session import FaultSession

    with FaultSession() as owner:
        return owner.wait_until(probe, within, interval, target, **params)


def recover(
    *,
    state_dir: str | Path | None = None,
    include_live: bool = False,
    plugins: Plugins | None = None,
    docker_url: str | None = None,
    inventory: Inventory | None = None,
) -> RecoveryReport:
    """Revert every fault left in the ledger by a run that is gone (``chaosdrill recover``).

    Swarm faults are reverted through ``inventory``: pass the one the run used.
    Returns a :class:`chaos.recovery.RecoveryReport` (it unpacks as
    ``outcomes, removed``); damaged ledger lines are in ``ledger_problems``."""
    from chaos.recovery import recover as recover_ledger

    plugins = plugins or default_plugins()
    runtime = runtime_for_run(plugins, docker_url=docker_url, inventory=inventory)
    try:
        return recover_ledger(
            plugins,
            runtime,
            Ledger(Path(state_dir) if state_dir else None),
            include_live=include_live,
        )
    finally:
        runtime.close()


def forget(entry_id: str, *, state_dir: str | Path | None = None) -> Entry | None:
    """Close a ledger entry by hand, once a human has put its object right
    (``chaosdrill recover --forget ID``): for entries ``recover`` left open
    because reverting them would mean guessing. Returns the entry, or None."""
    from chaos.recovery import forget as forget_entry

    return forget_entry(Ledger(Path(state_dir) if state_dir else None), entry_id)
