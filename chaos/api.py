"""The library API: load an experiment, plan it, run it.

Every front end (the ``chaosdrill`` CLI, the pytest plugin, the game-day
scheduler) goes through these functions and nothing else::

    from chaos import api

    loaded = api.load("experiments/web-survives-crash.yaml")
    result = api.run(loaded)
    assert result.verdict is api.Verdict.PASSED, result.reasons
"""

from __future__ import annotations

from pathlib import Path

from chaos.engine.events import Observer, ignore
from chaos.engine.plan import Plan, make_plan, resolve_seed
from chaos.engine.result import RunResult, Verdict
from chaos.engine.runner import Runner
from chaos.experiment.configuration import Redactor
from chaos.experiment.loader import LoadedExperiment, load_experiment
from chaos.journal.writer import DEFAULT_REPORT_DIR
from chaos.ledger import Ledger
from chaos.plugins import Plugins, default_plugins
from chaos.runtime import Runtime
from chaos.swarm.inventory import Inventory, resolve_inventory

__all__ = [
    "Inventory",
    "LoadedExperiment",
    "Plan",
    "RunResult",
    "Verdict",
    "inventory",
    "load",
    "plan",
    "recover",
    "run",
]


def load(path: str | Path, *, plugins: Plugins | None = None) -> LoadedExperiment:
    """Load and validate an experiment file (raises InvalidExperiment / UsageError)."""
    return load_experiment(path, plugins=plugins or default_plugins())


def inventory(*, lab: str | None = None, path: str | Path | None = None) -> Inventory | None:
    """The swarm to run against: a lab by name, an inventory file, or None (the
    local engine, and its swarm if it is a manager). Raises UsageError."""
    return resolve_inventory(lab=lab, path=path)


def runtime_for(
    loaded: LoadedExperiment,
    *,
    docker_url: str | None = None,
    inventory: Inventory | None = None,
) -> Runtime:
    return Runtime(docker_url=docker_url, redactor=Redactor(loaded.secrets), inventory=inventory)


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
    runtime = runtime or runtime_for(loaded, inventory=inventory)
    runtime.node_controllers = plugins.registry.node_controllers
    return make_plan(loaded, plugins, runtime, resolve_seed(seed))


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
) -> RunResult:
    """Run the experiment and return its verdict; never raises for run-time failures.

    An engine that does not answer, a target that selects nothing or a fault
    that cannot be injected end in ``Verdict.ERROR`` with the reason, and a
    journal is written either way (unless ``report_dir`` is None).

    Every injection is recorded in the fault ledger under ``state_dir``
    (default: see :func:`chaos.ledger.default_state_dir`) and reversible
    faults get a dead man's switch; ``safeguards=False`` turns both off.
    ``inventory`` names the swarm that swarm targets live in (see :func:`inventory`).
    """
    runtime = runtime or runtime_for(loaded, inventory=inventory)
    ledger = Ledger(Path(state_dir) if state_dir else None) if safeguards else None
    try:
        return Runner(
            loaded,
            plugins or default_plugins(),
            runtime,
            seed=resolve_seed(seed),
            report_dir=report_dir,
            observer=observer,
            handle_signals=handle_signals,
            ledger=ledger,
        ).run()
    finally:
        runtime.close()


def recover(
    *,
    state_dir: str | Path | None = None,
    include_live: bool = False,
    plugins: Plugins | None = None,
    docker_url: str | None = None,
    inventory: Inventory | None = None,
):
    """Revert every fault left in the ledger by a run that is gone (``chaosdrill recover``).

    Swarm faults are reverted through ``inventory``: pass the one the run used."""
    from chaos.recovery import recover as recover_ledger

    runtime = Runtime(docker_url=docker_url, inventory=inventory)
    try:
        return recover_ledger(
            plugins or default_plugins(),
            runtime,
            Ledger(Path(state_dir) if state_dir else None),
            include_live=include_live,
        )
    finally:
        runtime.close()
