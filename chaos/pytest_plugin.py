"""The pytest plugin: resilience tests next to the other tests.

Registered under the ``pytest11`` entry point, so installing chaosdrill is
enough. It is a thin client of :mod:`chaos.api`:

* fixtures: ``docker_engine`` (a connected Docker client; the test is
  skipped when no engine answers, or fails with ``--chaos-require-engine``),
  ``chaos`` (inject faults for a ``with`` block, wait on probes, run
  experiments; everything still injected is reverted at teardown) and
  ``swarm_lab`` (a Swarm lab for the session, opt-in);
* collection: ``*.chaos.yaml`` files (and the ``chaos_experiment_files``
  patterns) are test items, one per experiment, passing on ``passed``;
* the ``chaos`` marker, set on every experiment item and on every test that
  uses the ``chaos`` or ``swarm_lab`` fixture.

Nothing but pytest and the standard library is imported until a chaos test
runs or an experiment file is collected: the plugin costs other test suites
nothing.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaos.engine.result import RunResult
    from chaos.engine.session import FaultSession, Injection
    from chaos.experiment.loader import LoadedExperiment
    from chaos.probe import Check
    from chaos.swarm.inventory import Inventory

MARKER = "chaos"
DEFAULT_PATTERNS = ("*.chaos.yaml", "*.chaos.yml")
FIXTURES_MARKED = ("chaos", "swarm_lab")
"""Tests that use one of these fixtures get the ``chaos`` marker."""


# -- options -------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaosdrill", "chaos experiments (chaosdrill)")
    group.addoption(
        "--chaos-require-engine",
        action="store_true",
        default=False,
        help="fail, rather than skip, chaos tests when no Docker engine answers "
        "(ini: chaos_require_engine)",
    )
    group.addoption(
        "--chaos-lab",
        metavar="NAME",
        help="run experiments and faults against the Swarm lab NAME (chaosdrill lab up)",
    )
    group.addoption(
        "--chaos-inventory",
        metavar="FILE",
        help="run experiments and faults against the swarm this inventory describes",
    )
    group.addoption(
        "--chaos-report-dir",
        metavar="DIR",
        help="write experiment journals under DIR (default: the session's temporary directory)",
    )
    group.addoption(
        "--chaos-seed",
        metavar="N",
        type=int,
        help="seed for targets without one of their own (as chaosdrill run --seed)",
    )
    parser.addini(
        "chaos_require_engine",
        type="bool",
        default=False,
        help="fail, rather than skip, chaos tests when no Docker engine answers",
    )
    parser.addini(
        "chaos_experiment_files",
        type="args",
        default=[],
        help="glob patterns of experiment files to collect besides *.chaos.yaml "
        "(with a /: relative to the rootdir, ** for any folders)",
    )
    parser.addini("chaos_lab_managers", default="3", help="managers of the swarm_lab fixture's lab")
    parser.addini("chaos_lab_workers", default="1", help="workers of the swarm_lab fixture's lab")
    parser.addini(
        "chaos_lab_images",
        type="args",
        default=[],
        help="local images the swarm_lab fixture loads into every node",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: a resilience test (chaosdrill): experiment files, and tests that inject "
        "faults; select with -m chaos, leave out with -m 'not chaos'",
    )
    config.stash[_STATE] = _State(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that use the chaos fixtures before ``-m`` selects (tryfirst)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if any(name in names for name in FIXTURES_MARKED) and not item.get_closest_marker(MARKER):
            item.add_marker(MARKER)


# -- session state -------------------------------------------------------------------


class _State:
    """What the plugin keeps for one pytest session: the engine and the swarm, found once."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self._engine: Any = None
        self._engine_error: str | None = None
        self._inventory: Inventory | None = None
        self._inventory_resolved = False
        self._report_root: Path | None = None

    @property
    def require_engine(self) -> bool:
        return bool(
            self.config.getoption("chaos_require_engine")
            or self.config.getini("chaos_require_engine")
        )

    @property
    def seed(self) -> int | None:
        return self.config.getoption("chaos_seed")

    def engine(self) -> Any:
        """A connected Docker client, or skip (fail when one is required)."""
        if self._engine is None and self._engine_error is None:
            from chaos.docker_client import connect
            from chaos.errors import EngineUnreachable

            try:
                self._engine = connect()
            except EngineUnreachable as exc:
                self._engine_error = str(exc)
        if self._engine_error is not None:
            if self.require_engine:
                pytest.fail(
                    f"chaosdrill: no Docker engine: {self._engine_error} "
                    "(required by --chaos-require-engine / chaos_require_engine)",
                    pytrace=False,
                )
            pytest.skip(f"chaosdrill: no Docker engine: {self._engine_error}")
        return self._engine

    def inventory(self) -> Inventory | None:
        """The swarm named by --chaos-lab / --chaos-inventory (UsageError if it is wrong)."""
        if not self._inventory_resolved:
            from chaos import api
            from chaos.errors import UsageError

            lab = self.config.getoption("chaos_lab")
            path = self.config.getoption("chaos_inventory")
            if lab and path:
                raise UsageError("give --chaos-lab or --chaos-inventory, not both")
            self._inventory = api.inventory(lab=lab, path=path)
            self._inventory_resolved = True
        return self._inventory

    def report_root(self) -> Path:
        if self._report_root is None:
            given = self.config.getoption("chaos_report_dir")
            if given:
                self._report_root = Path(given)
            else:
                factory = getattr(self.config, "_tmp_path_factory", None)
                base = factory.getbasetemp() if factory else Path(tempfile.mkdtemp())
                self._report_root = base / "chaos-reports"
        return self._report_root

    def close(self) -> None:
        if self._engine is not None:
            with contextlib.suppress(Exception):
                self._engine.close()
            self._engine = None


_STATE = pytest.StashKey[_State]()


def _state(config: pytest.Config) -> _State:
    return config.stash[_STATE]


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.close()


def _raise_if_interrupted(result: RunResult) -> None:
    """A run that Ctrl-C or SIGTERM interrupted reverted its faults and ended
    ``aborted``; stop the test session as the signal meant to."""
    for reason in result.reasons:
        if reason.kind == "interrupted":
            raise KeyboardInterrupt(reason.message)


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def docker_engine(pytestconfig: pytest.Config) -> Any:
    """A connected Docker client (``docker.DockerClient``) of the engine chaosdrill uses.

    When no engine answers, tests that use it are skipped with the reason;
    with ``--chaos-require-engine`` (or ``chaos_require_engine = true``) they fail.
    """
    return _state(pytestconfig).engine()


class Chaos:
    """The ``chaos`` fixture: faults, probes and experiments for one test.

    * ``chaos.fault(name, target, duration, **params)``: a context manager
      that injects a fault with the safety of a run (see :func:`chaos.api.fault`);
    * ``chaos.wait_until(probe, within, interval, target, **params)``: sample
      a probe until it passes (see :func:`chaos.api.wait_until`);
    * ``chaos.run(path_or_loaded, **kwargs)``: run an experiment, return its
      :class:`~chaos.engine.result.RunResult`.

    Every fault still injected when the test ends (it failed, or a handle was
    started and never reverted) is reverted at teardown.
    """

    def __init__(
        self,
        session: FaultSession,
        *,
        report_dir: Path,
        inventory: Inventory | None,
        seed: int | None,
        test_dir: Path | None = None,
    ):
        self.session = session
        self.report_dir = report_dir
        """Where ``run`` writes journals unless told otherwise (under the test's tmp_path)."""
        self.inventory = inventory
        """The swarm faults and runs go to (``--chaos-lab``, ``--chaos-inventory``, or
        the ``swarm_lab`` fixture's lab when the test uses it)."""
        self.seed = seed
        self.results: list[RunResult] = []
        """Every run's result, in order."""
        self._test_dir = test_dir

    def fault(
        self, fault: str, target: Any, duration: str | float | None = None, **kwargs: Any
    ) -> Injection:
        """A fault to inject for the length of a ``with`` block (or ``.start()``):
        ``chaos.fault("container.pause", target={"select": {"name": "web"}}, duration="10s")``."""
        __tracebackhide__ = True  # pytest: keep parameters (secrets) out of tracebacks
        return self.session.fault(fault, target, duration, **kwargs)

    def wait_until(
        self,
        probe: str,
        within: str | float = "30s",
        interval: str | float = "500ms",
        target: Any = None,
        **params: Any,
    ) -> Check:
        """Sample ``probe`` until it passes and return that Check; raise
        ``ProbeTimeout`` (a TimeoutError) with the last detail after ``within``."""
        __tracebackhide__ = True  # pytest: keep parameters (secrets) out of tracebacks
        return self.session.wait_until(probe, within, interval, target, **params)

    def load(self, path: str | Path) -> LoadedExperiment:
        """Load an experiment; a relative path is looked up in the current
        directory, then next to the test file."""
        from chaos import api

        return api.load(self._find(Path(path)))

    def run(self, experiment: str | Path | LoadedExperiment, **kwargs: Any) -> RunResult:
        """Run an experiment (a path or ``api.load``'s result) and return its result.

        ``kwargs`` go to :func:`chaos.api.run`; ``report_dir``, ``inventory``
        and ``seed`` default to the fixture's. Check ``result.verdict``,
        ``result.messages``, ``result.probe("name").availability``.
        """
        __tracebackhide__ = True  # pytest: keep parameters (secrets) out of tracebacks
        from chaos import api
        from chaos.experiment.loader import LoadedExperiment

        is_loaded = isinstance(experiment, LoadedExperiment)
        loaded = experiment if is_loaded else self.load(experiment)  # type: ignore[arg-type]
        kwargs.setdefault("report_dir", self.report_dir)
        kwargs.setdefault("inventory", self.inventory)
        kwargs.setdefault("seed", self.seed)
        result = api.run(loaded, **kwargs)
        self.results.append(result)
        _raise_if_interrupted(result)
        return result

    @property
    def active(self) -> list[Injection]:
        """Faults in effect right now."""
        return self.session.active

    def revert_all(self) -> None:
        """Revert every fault still active (what teardown does)."""
        for injection in reversed(self.session.active):
            injection.revert()

    def _find(self, path: Path) -> Path:
        if path.is_absolute() or path.exists() or self._test_dir is None:
            return path
        beside = self._test_dir / path
        return beside if beside.exists() else path


@pytest.fixture
def chaos(request: pytest.FixtureRequest, docker_engine: Any, tmp_path: Path) -> Iterator[Chaos]:
    """Inject faults, wait on probes, run experiments; reverted at teardown.

    See :class:`chaos.pytest_plugin.Chaos`. Uses the ``swarm_lab``
    fixture's lab when the test uses that fixture too.
    """
    from chaos import api

    state = _state(request.config)
    if "swarm_lab" in request.fixturenames:
        inventory = request.getfixturevalue("swarm_lab").inventory
    else:
        inventory = state.inventory()
    session = api.session(inventory=inventory, seed=state.seed)
    handle = Chaos(
        session,
        report_dir=tmp_path / "chaos-reports",
        inventory=inventory,
        seed=state.seed,
        test_dir=Path(str(request.path)).parent if getattr(request, "path", None) else None,
    )
    try:
        yield handle
    finally:
        session.close()  # reverts what is still active; RevertFailed is a teardown error


@dataclass(frozen=True)
class ChaosLab:
    """The ``swarm_lab`` fixture: a Swarm lab and its inventory."""

    name: str
    inventory: Inventory
    created: bool
    """True when the fixture made the lab (and removes it at the end of the session);
    False for an existing lab named by ``--chaos-lab``."""


@pytest.fixture(scope="session")
def swarm_lab(pytestconfig: pytest.Config, docker_engine: Any) -> Iterator[ChaosLab]:
    """A local Swarm lab for the session (opt-in: only sessions whose tests use it).

    With ``--chaos-lab NAME`` that existing lab is used and left alone;
    otherwise a lab ``pytest<pid>`` is made (``chaos_lab_managers``,
    ``chaos_lab_workers``, ``chaos_lab_images`` in the ini) and removed at
    the end of the session, even when tests failed.
    """
    from chaos import api
    from chaos.errors import UsageError
    from chaos.lab import lab

    existing = pytestconfig.getoption("chaos_lab")
    if existing:
        yield ChaosLab(existing, api.inventory(lab=existing), created=False)  # type: ignore[arg-type]
        return
    name = f"pytest{os.getpid()}"
    try:
        managers = int(pytestconfig.getini("chaos_lab_managers"))
        workers = int(pytestconfig.getini("chaos_lab_workers"))
    except ValueError as exc:
        raise pytest.UsageError(f"chaos_lab_managers / chaos_lab_workers: {exc}") from None
    try:
        done = lab.up(
            name,
            managers=managers,
            workers=workers,
            load=list(pytestconfig.getini("chaos_lab_images")),
            client=docker_engine,
        )
        yield ChaosLab(name, done.inventory, created=True)
    finally:
        with contextlib.suppress(UsageError):  # nothing left: up removed it already
            lab.down(name, client=docker_engine)


# -- experiment files ----------------------------------------------------------------------


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_experiment(file_path, parent.config):
        return ExperimentFile.from_parent(parent, path=file_path)
    return None


def _is_experiment(path: Path, config: pytest.Config) -> bool:
    patterns = [*DEFAULT_PATTERNS, *config.getini("chaos_experiment_files")]
    try:
        relative = path.relative_to(config.rootpath).parts
    except ValueError:
        relative = None
    for pattern in patterns:
        pattern = pattern.replace(os.sep, "/").removeprefix("./")
        if "/" not in pattern:
            if fnmatch.fnmatchcase(path.name, pattern):
                return True
        elif relative is not None and _glob(relative, tuple(pattern.strip("/").split("/"))):
            return True
    return False


def _glob(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Match path segments against pattern segments; ``**`` spans any number of folders."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_glob(parts[i:], rest) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], head) and _glob(parts[1:], rest)


def _item_name(path: Path) -> str:
    from chaos.suite.discover import without_suffix

    return without_suffix(path.name)


class ExperimentFile(pytest.File):
    """An experiment file: one item, or a collection error with every problem."""

    def collect(self) -> Iterator[pytest.Item]:
        from chaos import api
        from chaos.errors import ChaosError, InvalidExperiment

        try:
            loaded = api.load(self.path)
        except InvalidExperiment as exc:
            shown = _shown_path(self.path, self.config)
            raise self.CollectError(
                "\n".join(f"{shown}:{p.line}:{p.column}: {p.message}" for p in exc.problems)
            ) from None
        except ChaosError as exc:
            raise self.CollectError(str(exc)) from None
        yield ExperimentItem.from_parent(self, name=_item_name(self.path), loaded=loaded)


def _shown_path(path: Path, config: pytest.Config) -> str:
    """The path as the user would write it: relative to where pytest was started."""
    try:
        return os.path.relpath(path, config.invocation_params.dir)
    except ValueError:
        return str(path)


class ExperimentFailed(Exception):
    """An experiment whose verdict is not ``passed``."""

    def __init__(self, result: RunResult):
        super().__init__(result.describe())
        self.result = result


class ExperimentItem(pytest.Item):
    """Runs one experiment (``api.run``); passes when the verdict is ``passed``.

    ``failed``, ``aborted`` and ``error`` verdicts fail the item; the message
    starts with the verdict (``aborted: guard db-up breached...``) and lists
    every reason and the journal.
    """

    def __init__(self, *, loaded: LoadedExperiment, **kwargs: Any):
        super().__init__(**kwargs)
        self.loaded = loaded
        self.result: RunResult | None = None
        self.add_marker(MARKER)
        self.extra_keyword_matches.update(loaded.experiment.tags)

    def runtest(self) -> None:
        from chaos import api

        state = _state(self.config)
        state.engine()  # skip (or fail) before anything else when no engine answers
        result = api.run(
            self.loaded,
            report_dir=state.report_root(),
            seed=state.seed,
            inventory=state.inventory(),
            handle_signals=True,  # SIGINT/SIGTERM revert at once; the runner skips it off the main thread
        )
        self.result = result
        self.user_properties.append(("chaos_verdict", result.verdict.value))
        if result.journal_path is not None:
            self.user_properties.append(("chaos_journal", str(result.journal_path)))
        if result.time_to_recover is not None:
            self.user_properties.append(("chaos_time_to_recover", result.time_to_recover))
        if result.reasons:  # the deciding reason's fields, for programs reading the report
            reason = result.reasons[0]
            self.user_properties.append(("chaos_reason_kind", reason.kind))
            if reason.source is not None:
                self.user_properties.append(("chaos_reason_source", reason.source))
            if reason.faults:
                self.user_properties.append(("chaos_reason_faults", ",".join(reason.faults)))
        _raise_if_interrupted(result)
        if not result.passed:
            raise ExperimentFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from chaos.errors import ChaosError, Halted

        if isinstance(excinfo.value, ExperimentFailed):
            return str(excinfo.value)
        if isinstance(excinfo.value, Halted):  # `chaosdrill halt` is in force: not run
            return f"aborted: {excinfo.value}"
        if isinstance(excinfo.value, ChaosError):  # a bad --chaos-lab, say: no traceback
            return f"error: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        from chaos.redaction import Redactor

        title = Redactor(self.loaded.secrets).text(self.loaded.experiment.title)
        return self.path, None, f"experiment: {title}"
