"""One run scope under both ways of running: an experiment (``api.run``) and
faults from code (``api.session``, ``api.fault``) recover what dead runs left,
handle signals and fire ``chaosdrill_run_finished`` the same way."""

from __future__ import annotations

import json
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest

from chaos import api
from chaos.engine.events import Finished, Notice
from chaos.engine.result import RunResult, Verdict
from chaos.engine.scope import RunScope
from chaos.engine.session import SESSION_TITLE
from chaos.hookspecs import hookimpl
from chaos.ledger import Ledger
from chaos.plugins import DISABLE_ENV, Plugins, build_plugin_manager
from chaos.signals import interrupt_signals
from tests.pytest_plugin.test_fault_api import sigterm_once_paused
from tests.test_recovery import pause_entry, paused


@pytest.fixture(autouse=True)
def _no_disabled_plugins(monkeypatch):
    monkeypatch.delenv(DISABLE_ENV, raising=False)


@pytest.fixture
def group() -> str:
    return f"g{uuid.uuid4().hex[:10]}"


class Recorder:
    """A plugin that keeps every result it is handed."""

    def __init__(self) -> None:
        self.results: list[RunResult] = []

    @hookimpl
    def chaosdrill_run_finished(self, result: RunResult) -> None:
        self.results.append(result)


class Raiser:
    @hookimpl
    def chaosdrill_run_finished(self, result: RunResult) -> None:
        raise RuntimeError("the notifier is down")


def plugins_with(*plugins: object) -> Plugins:
    built = build_plugin_manager(load_entry_points=False)
    for index, plugin in enumerate(plugins):
        assert built.register(plugin, name=f"test-plugin-{index}")
    return built


# -- recovery at the start ---------------------------------------------------------


def _start_a_run(experiment_file: Any, group: str, tmp_path: Path, events: list[Any]) -> None:
    path = experiment_file(f"""
        version: 1
        title: after a dead run
        targets:
          web: {{select: {{labels: {{grp: {group}, role: other}}}}}}
        method:
          - {{name: f, fault: container.pause, target: web, duration: 200ms}}
        recovery: {{within: 2s}}
    """)
    result = api.run(
        api.load(path), report_dir=tmp_path, handle_signals=False, observer=events.append
    )
    assert result.verdict is Verdict.PASSED, result.describe()


def _start_a_session(experiment_file: Any, group: str, tmp_path: Path, events: list[Any]) -> None:
    with (
        api.session(observer=events.append) as session,
        session.fault(
            "container.pause",
            target={"select": {"labels": {"grp": group, "role": "other"}}},
            duration="5s",
        ) as injected,
    ):
        assert injected.active


@pytest.mark.docker
@pytest.mark.parametrize("start", [_start_a_run, _start_a_session], ids=["run", "session"])
def test_a_run_and_a_session_revert_what_a_dead_run_left_the_same_way(
    start, containers, experiment_file, group, tmp_path, state_dir
):
    victim = containers.run("busybox", command=["sleep", "600"], labels={"grp": group})
    other = containers.run(
        "busybox", command=["sleep", "600"], labels={"grp": group, "role": "other"}
    )
    victim.pause()
    ledger = Ledger(state_dir)
    ledger.open(pause_entry(victim, "dead1"))
    events: list[Any] = []

    start(experiment_file, group, tmp_path, events)

    assert not paused(victim), "the dead run's pause was reverted before the first fault"
    assert not paused(other)
    assert ledger.open_entries() == []
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert notices[0] == (
        f"left by an earlier run: reverted: container.pause (freeze) on {victim.name}, "
        "run deadrun, entry dead1: reverted"
    )


# -- the run-finished hook ---------------------------------------------------------------


def test_a_session_that_started_no_fault_reports_no_run():
    recorder = Recorder()
    with api.session(plugins=plugins_with(recorder), safeguards=False) as session:
        pass
    assert recorder.results == []
    assert session.result is None


@pytest.mark.docker
def test_a_session_fires_run_finished_once_when_it_closes(containers, group, state_dir):
    web = containers.run("busybox", command=["sleep", "600"], labels={"grp": group})
    recorder = Recorder()
    events: list[Any] = []
    plugins = plugins_with(Raiser(), recorder)  # the recorder is called first, then the raiser
    with api.session(plugins=plugins, observer=events.append) as session:
        with session.fault(
            "container.pause", target={"select": {"labels": {"grp": group}}}, duration="5s"
        ) as injected:
            assert paused(web)
        with session.fault("container.kill", target={"select": {"labels": {"grp": group}}}):
            pass
        assert recorder.results == [], "not before the session closes"
    session.close()  # closing twice reports once

    (result,) = recorder.results
    assert result is session.result
    assert result.verdict is Verdict.PASSED and result.reasons == ()
    assert result.journal_path is None
    journal = result.journal
    assert journal.run_id == session.run_id
    assert journal.experiment["title"] == SESSION_TITLE
    assert journal.verdict == "passed" and journal.exit_code == 0
    assert [(f.step, f.fault, f.outcome) for f in journal.faults] == [
        ("container.pause", "container.pause", "reverted"),
        ("container.kill", "container.kill", "injected"),
    ]
    assert journal.faults[0].injection_id == injected.records[0].injection_id
    assert [t.selected[0]["id"] for t in journal.targets] == [web.id, web.id]
    assert result.notices == [
        "plugin test-plugin-0: chaosdrill_run_finished failed: RuntimeError: the notifier is down"
    ]
    assert any(isinstance(e, Finished) and e.verdict == "passed" for e in events)
    assert any(isinstance(e, Notice) and "the notifier is down" in e.message for e in events)


SIGTERM_SCRIPT = """
import json, sys, time
from pathlib import Path
from chaos import api
from chaos.hookspecs import hookimpl
from chaos.plugins import build_plugin_manager

class Recorder:
    @hookimpl
    def chaosdrill_run_finished(self, result):
        Path(sys.argv[3]).write_text(json.dumps(
            {"verdict": result.verdict.value, "reasons": list(result.messages),
             "outcomes": [f.outcome for f in result.journal.faults]}))

plugins = build_plugin_manager(load_entry_points=False)
plugins.register(Recorder(), name="recorder")
with api.session(plugins=plugins) as session:
    with session.fault("container.pause", target={"select": {"name": sys.argv[1]}},
                       duration="60s"):
        Path(sys.argv[2]).write_text("in")
        time.sleep(60)
"""


@pytest.mark.docker
def test_sigterm_ends_a_session_aborted_and_reports_it(containers, state_dir, tmp_path):
    web = containers.run("busybox", command=["sleep", "300"])
    report = tmp_path / "result.json"
    returncode, output = sigterm_once_paused(
        SIGTERM_SCRIPT, web, tmp_path / "injected", str(report)
    )
    assert returncode != 0, output
    assert "KeyboardInterrupt: SIGTERM: every active fault is reverted" in output
    assert not paused(web)
    assert json.loads(report.read_text()) == {
        "verdict": "aborted",
        "reasons": ["fault session interrupted by SIGTERM; every active fault was reverted"],
        "outcomes": ["reverted"],
    }
    assert Ledger(state_dir).open_entries() == []


# -- signals: one way -----------------------------------------------------------------


def test_a_session_takes_over_only_signals_the_program_left_alone():
    """``defaults_only``: a handler the program installed, or a signal it ignores
    (nohup), stays; Python's own SIGINT handler and SIG_DFL are taken over."""
    seen: list[str] = []

    def own(signum: int, frame: object) -> None:
        seen.append("own")

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, own)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        with interrupt_signals(seen.append, defaults_only=True):
            assert signal.getsignal(signal.SIGTERM) is own
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGTERM)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with interrupt_signals(seen.append):  # a run's: every one of them
            signal.raise_signal(signal.SIGHUP)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
    assert seen == ["SIGINT", "own", "SIGHUP"]


def test_the_scope_interrupts_from_signals_and_from_another_thread():
    from chaos.engine.interrupt import Interrupt

    interrupt = Interrupt()
    calls: list[str] = []
    scope = RunScope(plugins_with(), interrupt=interrupt, handle_signals=False)
    with scope.interrupts(calls.append):
        interrupt.trigger("SIGTERM")
    interrupt.trigger("SIGINT")  # once only, and no longer subscribed
    scope.close()
    assert calls == ["SIGTERM"]


def test_a_runtime_for_a_run_has_the_plugins_node_controllers():
    plugins = plugins_with()
    scope = RunScope(plugins)
    assert scope.runtime.node_controllers is plugins.registry.node_controllers
    assert "lab" in scope.runtime.node_controllers
    scope.close()


def test_an_observer_that_raises_never_breaks_the_scope():
    def broken(event: Any) -> None:
        raise RuntimeError("observer down")

    scope = RunScope(plugins_with(), observer=broken)
    scope.notice("hello")  # no exception
    scope.close()


def test_a_run_s_own_plugins_hear_its_end_after_the_installed_ones():
    """``run_plugins`` (the Pushgateway export) hear this run only, after the
    installed plugins; one that raises is a notice, credentials masked, and the
    verdict stays."""
    from chaos.errors import ChaosError
    from chaos.journal.model import Journal

    heard: list[str] = []

    class Installed:
        @hookimpl
        def chaosdrill_run_finished(self, result: RunResult) -> None:
            heard.append("installed")

    class Own:
        name = "own"

        def chaosdrill_run_finished(self, result: RunResult) -> None:
            heard.append("own")
            raise ChaosError("could not reach http://user:hunter22@127.0.0.1:1")

    events: list[Any] = []
    plugins = plugins_with(Installed())
    scope = RunScope(plugins, observer=events.append, run_plugins=[Own()])
    journal = Journal(
        run_id="r1", versions={}, experiment={"title": "t"}, started_at="2026-01-01T00:00:00"
    )
    result = scope.finished(RunResult(Verdict.PASSED, (), journal, None))
    scope.close()
    assert heard == ["installed", "own"]
    assert result.verdict is Verdict.PASSED
    assert result.notices == ["own: could not reach http://user:***@127.0.0.1:1"]
    assert [e.message for e in events if isinstance(e, Notice)] == result.notices
    assert "own" not in dict(plugins.pm.list_name_plugin())  # not left behind for other runs
