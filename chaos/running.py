"""Running one experiment: load it, plan it, run it.

These are the functions behind :mod:`chaos.api` (which re-exports them), kept
below it so that the suite runner, which :func:`chaos.api.suite` calls, runs
each experiment through exactly the same path.
"""

from __future__ import annotations

from pathlib import Path

from chaos.engine.events import Observer, ignore
from chaos.engine.interrupt import Interrupt
from chaos.engine.plan import Plan, check_selectors, make_plan, resolve_seed
from chaos.engine.result import RunResult
from chaos.engine.runner import Runner
from chaos.engine.sampling import BoundProbe
from chaos.engine.scope import RunScope, runtime_for_run
from chaos.errors import Halted, UsageError
from chaos.experiment.loader import LoadedExperiment, load_experiment
from chaos.halt import HaltFlag
from chaos.journal.writer import DEFAULT_REPORT_DIR
from chaos.lab.lab import load_lab_inventory
from chaos.ledger import Ledger
from chaos.plugins import Plugins, default_plugins
from chaos.probe import Check
from chaos.pushgateway import Pushgateway, PushOnFinish, group_name
from chaos.redaction import Redactor
from chaos.runtime import Runtime
from chaos.swarm.inventory import Inventory, load_inventory

__all__ = ["inventory", "load", "plan", "preview", "run", "runtime_for"]


def load(path: str | Path, *, plugins: Plugins | None = None) -> LoadedExperiment:
    """Load and validate an experiment file (raises InvalidExperiment / UsageError)."""
    return load_experiment(path, plugins=plugins or default_plugins())


def inventory(*, lab: str | None = None, path: str | Path | None = None) -> Inventory | None:
    """The swarm to run against: a lab by name, an inventory file, or None (the
    local engine, and its swarm if it is a manager). Raises UsageError, also
    when both are given."""
    if lab and path:
        raise UsageError("a lab and an inventory file were both given: name one swarm")
    if path:
        return load_inventory(path)
    if lab:
        return load_lab_inventory(lab)
    return None


def runtime_for(
    loaded: LoadedExperiment,
    *,
    docker_url: str | None = None,
    inventory: Inventory | None = None,
    plugins: Plugins | None = None,
) -> Runtime:
    """The runtime to plan or run ``loaded`` with: its secrets redacted, and the
    node controllers of ``plugins``."""
    return runtime_for_run(
        plugins or default_plugins(),
        docker_url=docker_url,
        inventory=inventory,
        redactor=Redactor(loaded.secrets),
    )


def plan(
    loaded: LoadedExperiment,
    *,
    seed: int | None = None,
    plugins: Plugins | None = None,
    runtime: Runtime | None = None,
    inventory: Inventory | None = None,
) -> Plan:
    """Resolve targets without touching anything (what ``--dry-run`` shows)."""
    plugins = plugins or default_plugins()
    check_selectors(loaded, plugins.registry)
    runtime = runtime or runtime_for(loaded, inventory=inventory, plugins=plugins)
    return make_plan(loaded, plugins, runtime, resolve_seed(seed))


def preview(plan: Plan, *, runtime: Runtime | None = None) -> list[tuple[BoundProbe, Check]]:
    """What ``--dry-run`` asks before anything is touched: every probe step that
    can take a read-only look (:meth:`chaos.probe.Probe.preview`; a
    ``prometheus`` query's current value) takes one, within its deadline.
    Steps with nothing to show are left out."""
    runtime = runtime or runtime_for(plan.loaded)
    looks = []
    for bound in (*plan.steady_state, *plan.probes, *plan.guards):
        if not bound.implements("preview"):
            continue
        check, _ = bound.call(
            runtime, lambda b=bound: b.probe.preview(runtime, b.params, b.targets)
        )
        if check is not None:
            looks.append((bound, check))
    return looks


def run(
    loaded: LoadedExperiment,
    *,
    seed: int | None = None,
    report_dir: str | Path | None = DEFAULT_REPORT_DIR,
    observer: Observer = ignore,
    plugins: Plugins | None = None,
    runtime: Runtime | None = None,
    handle_signals: bool = True,
    state_dir: str | Path | None = None,
    safeguards: bool = True,
    inventory: Inventory | None = None,
    interrupt: Interrupt | None = None,
    pushgateway: str | None = None,
    push_group: str | None = None,
) -> RunResult:
    """Run the experiment and return its verdict; never raises for run-time failures.

    Raises UsageError (InvalidTarget) before anything is touched when a
    target's selector has an empty criterion, and Halted while ``chaosdrill
    halt`` is in force (in ``state_dir``): nothing is touched then, not even
    what dead runs left in the ledger (``chaosdrill recover`` still reverts that).
    A halt thrown while the run goes on ends it ``aborted`` (reason ``halted``).

    An engine that does not answer, a target that selects nothing or a fault
    that cannot be injected end in ``Verdict.ERROR`` with the reason, and a
    journal is written either way (unless ``report_dir`` is None).

    Every injection is recorded in the fault ledger under ``state_dir``
    (default: see :func:`chaos.ledger.default_state_dir`) and reversible
    faults get a dead man's switch; ``safeguards=False`` turns both off.
    ``inventory`` names the swarm that swarm targets live in (see :func:`inventory`).

    ``handle_signals`` makes SIGINT and SIGTERM revert every fault and end the
    run ``aborted``; it only works on the main thread. A run on another thread
    passes False and, to be interruptible, an ``interrupt`` that the main
    thread triggers (see :class:`chaos.engine.interrupt.Interrupt`).

    ``pushgateway`` (a URL, credentials allowed) pushes the result's figures
    to a Prometheus Pushgateway once the run has finished (see
    :mod:`chaos.pushgateway`), as job ``chaosdrill`` and grouping key
    ``experiment=<push_group>`` (default: the file's path relative to the
    working directory, dotted, as ``chaosdrill suite`` names it). A push that
    fails becomes one of the result's notices; it never changes the verdict.
    A URL that is not one raises InvalidArgument before anything is touched.
    """
    exporters = []
    if pushgateway is not None:
        gateway = Pushgateway.parse(pushgateway)
        exporters.append(PushOnFinish(gateway, push_group or group_name(loaded.path)))
    halt = HaltFlag(state_dir or None)
    halted = halt.status()
    if halted is not None:
        raise Halted(halted.message)
    plugins = plugins or default_plugins()
    check_selectors(loaded, plugins.registry)  # invalid input: UsageError, nothing touched
    runtime = runtime or runtime_for(loaded, inventory=inventory, plugins=plugins)
    scope = RunScope(
        plugins,
        runtime,
        ledger=Ledger(Path(state_dir) if state_dir else None) if safeguards else None,
        observer=observer,
        handle_signals=handle_signals,
        interrupt=interrupt,
        halt=halt,
        run_plugins=exporters,
    )
    try:
        return Runner(loaded, scope, seed=resolve_seed(seed), report_dir=report_dir).run()
    finally:
        runtime.close()
