"""Plugins: built-ins and third-party packages go through the same hooks.

The third-party packages are real distributions: their source is in
``tests/plugin_pkg/``, built into wheels by pip (offline) and installed with
``pip install --target`` into a temporary directory that the CLI subprocesses
get on PYTHONPATH, so importlib.metadata finds their ``chaosdrill`` entry
points exactly as it would in a user's environment.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import shutil
import subprocess
import sys
import textwrap
import threading
import types
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chaos import api
from chaos.engine.events import Notice
from chaos.engine.result import Verdict
from chaos.errors import InjectionFailed, InvalidExperiment
from chaos.experiment.loader import load_text
from chaos.hookspecs import hookimpl
from chaos.plugin_api import Fault, Params
from chaos.plugins import (
    BUILTIN_PLUGINS,
    BUILTIN_TYPES,
    DISABLE_ENV,
    REGISTRATION_HOOKS,
    Plugins,
    build_plugin_manager,
    default_plugins,
    plugins_for,
)
from chaos.probe import Check, Probe
from chaos.registry import Registry
from chaos.runtime import Runtime
from chaos.swarm.control import ControlSettings, NodeController, controller_for
from chaos.swarm.inventory import Inventory, InventoryNode
from chaos.targets.base import Selector, TargetKind, TargetRef
from tests.conftest import at_once, chaosdrill, cli

PKG_SRC = Path(__file__).resolve().parent / "plugin_pkg"
ACME = "acme-chaos 1.2.3"


@pytest.fixture(autouse=True)
def _no_disabled_plugins(monkeypatch):
    """A developer's CHAOSDRILL_DISABLE_PLUGINS must not change what these tests see."""
    monkeypatch.delenv(DISABLE_ENV, raising=False)


def builtins_only() -> Plugins:
    return build_plugin_manager(load_entry_points=False)


def plugin(**hooks: Any) -> types.ModuleType:
    """A plugin module, made on the fly, with the given hook implementations."""
    module = types.ModuleType(f"test_plugin_{uuid.uuid4().hex[:8]}")
    for name, func in hooks.items():
        setattr(module, name, hookimpl(func))
    return module


def registering(method: str, *classes: type) -> types.ModuleType:
    """A plugin whose registration hook adds ``classes`` with ``registry.<method>``."""
    hook = {
        "add_fault": "chaosdrill_register_faults",
        "add_probe": "chaosdrill_register_probes",
        "add_target_kind": "chaosdrill_register_target_kinds",
        "add_node_controller": "chaosdrill_register_node_controllers",
    }[method]

    def register(registry: Registry) -> None:
        for cls in classes:
            getattr(registry, method)(cls)

    return plugin(**{hook: register})


def failures(plugins: Plugins) -> dict[str, str]:
    return {f.plugin: f.error for f in plugins.registry.failures}


def load(text: str, plugins: Plugins):
    return load_text(textwrap.dedent(text).lstrip(), "exp.yaml", plugins=plugins)


def problems(text: str, plugins: Plugins) -> list[str]:
    with pytest.raises(InvalidExperiment) as caught:
        load(text, plugins)
    return [str(p) for p in caught.value.problems]


# -- in-process plugin types ---------------------------------------------------


class ShelfSelector(Selector):
    shelf: str


class BoxKind(TargetKind):
    name = "acme.box"
    summary = "boxes on a shelf (no engine needed)"
    Selector = ShelfSelector

    def candidates(self, runtime: Any, selector: Any) -> list[TargetRef]:
        return [TargetRef("acme.box", f"id-{i}", f"{selector.shelf}-{i}") for i in range(4)]


class TipParams(Params):
    angle: int = 45


class TipBox(Fault):
    name = "acme.tip"
    summary = "tip a box over"
    Params = TipParams
    target_kinds = ("acme.box",)

    def inject(self, ctx: Any, params: Any) -> dict[str, Any]:
        return {}


class AlwaysParams(Params):
    answer: bool = True


class Always(Probe):
    name = "acme.always"
    summary = "answers what it is told"
    Params = AlwaysParams

    def check(self, runtime: Any, params: Any, targets: tuple[TargetRef, ...]) -> Check:
        return Check(params.answer, "as told")


# -- one test per hook (tests/test_hookspecs.py checks that each hook has one) --


def test_hook_chaosdrill_register_target_kinds():
    plugins = builtins_only()
    assert plugins.registry.target_kinds["container"].origin == "builtin"
    assert plugins.register(registering("add_target_kind", BoxKind), "acme-kinds")
    assert plugins.register(registering("add_fault", TipBox), "acme-faults")
    assert failures(plugins) == {}
    assert plugins.registry.target_kinds["acme.box"].origin == "acme-kinds"

    experiment = """
        version: 1
        title: boxes
        targets:
          boxes: {kind: acme.box, select: {shelf: top}, mode: one, seed: 7}
        method:
          - {name: tip, fault: acme.tip, target: boxes, angle: 90}
    """
    plan = api.plan(load(experiment, plugins), plugins=plugins)
    selection = plan.selections["boxes"]
    assert selection.candidates == 4
    assert [ref.kind for ref in selection.chosen] == ["acme.box"]
    assert selection.chosen[0].name.startswith("top-")

    # the kind's selector validates select:, and faults are checked against kinds
    found = problems(
        """
        version: 1
        title: boxes
        targets:
          boxes: {kind: acme.box, select: {shlef: top}}
        method:
          - {name: kill, fault: container.kill, target: boxes}
        """,
        plugins,
    )
    assert (
        "exp.yaml:4:36: unknown key 'shlef' of a acme.box selector (did you mean 'shelf'?)" in found
    ), found
    assert (
        "exp.yaml:6:49: fault container.kill acts on container, but target 'boxes' is a acme.box"
        in found
    ), found


def test_hook_chaosdrill_register_faults():
    plugins = builtins_only()
    builtin = set(plugins.registry.faults)
    assert builtin and all(r.origin == "builtin" for r in plugins.registry.faults.values())
    # the built-in set is exactly what the hook registers: nothing bypasses it
    again = Registry()
    plugins.hook.chaosdrill_register_faults(registry=again)
    assert set(again.faults) == builtin

    assert plugins.register(registering("add_fault", TipBox), "acme-faults")
    assert plugins.registry.faults["acme.tip"].origin == "acme-faults"
    assert plugins.registry.faults["acme.tip"].cls is TipBox
    assert set(plugins.registry.faults) == builtin | {"acme.tip"}


def test_hook_chaosdrill_register_probes():
    plugins = builtins_only()
    builtin = set(plugins.registry.probes)
    assert {"http", "tcp", "exec", "container.health"} <= builtin
    again = Registry()
    plugins.hook.chaosdrill_register_probes(registry=again)
    assert set(again.probes) == builtin

    assert plugins.register(registering("add_probe", Always), "acme-probes")
    assert plugins.registry.probes["acme.always"].origin == "acme-probes"
    text = """
        version: 1
        title: probes from a plugin
        targets:
          web: {select: {name: web}}
        steady_state:
          - {name: fine, probe: acme.always, answer: true}
        method:
          - {name: kill, fault: container.kill, target: web}
    """
    loaded = load(text, plugins)
    assert loaded.params_for("steady_state", 0) == AlwaysParams(answer=True)
    found = problems(text.replace("answer: true", "anwser: true"), plugins)
    assert found == [
        "exp.yaml:6:38: 'anwser' is not a parameter of probe acme.always "
        "(did you mean 'answer'?); it takes: answer"
    ]


class PowerSwitch(NodeController):
    """A platform plugin's controller: records what it was asked to do."""

    name = "acme.power"
    calls: list[tuple[str, str, str]] = []

    class Control(ControlSettings):
        outlet: int

    def apply(self, action, tag, *, graceful=False):
        self.calls.append((action, self.node.name, f"outlet {self.settings.outlet}"))
        return {"outlet": self.settings.outlet}

    def undo(self, action, tag):
        self.calls.append((f"undo {action}", self.node.name, f"outlet {self.settings.outlet}"))


def test_hook_chaosdrill_register_node_controllers():
    plugins = builtins_only()
    assert plugins.registry.node_controllers["lab"].origin == "builtin"
    assert plugins.register(registering("add_node_controller", PowerSwitch), "acme-power")
    assert plugins.registry.node_controllers["acme.power"].origin == "acme-power"

    inventory = Inventory(
        nodes=[
            InventoryNode(
                name="m1",
                role="manager",
                endpoint="tcp://127.0.0.1:1",
                control={"type": "acme.power", "outlet": 3},
            ),
            InventoryNode(name="m2", role="manager", endpoint="tcp://127.0.0.1:2"),
            InventoryNode(
                name="m3",
                role="manager",
                endpoint="tcp://127.0.0.1:3",
                control={"type": "acme.power", "outlett": 3},
            ),
            InventoryNode(
                name="m4", role="manager", endpoint="tcp://127.0.0.1:4", control={"type": "ipmi"}
            ),
        ]
    )
    runtime = Runtime(inventory=inventory, node_controllers=plugins.registry.node_controllers)
    controller = controller_for(runtime, inventory.nodes[0], inventory)
    assert isinstance(controller, PowerSwitch)
    assert controller.apply("stop", "t1") == {"outlet": 3}
    controller.undo("stop", "t1")
    assert PowerSwitch.calls == [("stop", "m1", "outlet 3"), ("undo stop", "m1", "outlet 3")]
    with pytest.raises(InjectionFailed, match="node m2 has no `control`"):
        controller_for(runtime, inventory.nodes[1], inventory)
    with pytest.raises(InjectionFailed, match=r"node m3: control\.outlet: Field required"):
        controller_for(runtime, inventory.nodes[2], inventory)
    with pytest.raises(
        InjectionFailed, match=r"no node controller for control type 'ipmi'.*acme\.power, lab"
    ):
        controller_for(runtime, inventory.nodes[3], inventory)


# chaosdrill_run_finished: runs against a real container


@pytest.fixture
def group() -> str:
    return f"g{uuid.uuid4().hex[:10]}"


@pytest.fixture
def pause_experiment(containers, experiment_file, group) -> Path:
    containers.run("web", labels={"grp": group}, wait_healthy=False)
    return experiment_file(f"""
        version: 1
        title: run_finished hook
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: 200ms}}
        recovery: {{within: 2s}}
    """)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[api.RunResult, bool]] = []

    @hookimpl
    def chaosdrill_run_finished(self, result: api.RunResult) -> None:
        written = result.journal_path is not None and result.journal_path.exists()
        self.calls.append((result, written))


class Raiser:
    @hookimpl
    def chaosdrill_run_finished(self, result: api.RunResult) -> None:
        raise RuntimeError("the notifier is down")


def run_with(path: Path, plugins: Plugins, tmp_path: Path, **kw: Any) -> api.RunResult:
    loaded = api.load(path, plugins=plugins)
    return api.run(
        loaded, plugins=plugins, report_dir=tmp_path / "reports", handle_signals=False, **kw
    )


@pytest.mark.docker
def test_hook_chaosdrill_run_finished_once_per_run_with_the_result(pause_experiment, tmp_path):
    plugins = builtins_only()
    recorder = Recorder()
    plugins.pm.register(recorder, name="recorder")

    first = run_with(pause_experiment, plugins, tmp_path)
    assert first.verdict is Verdict.PASSED, [r.message for r in first.reasons]
    assert len(recorder.calls) == 1
    result, journal_written = recorder.calls[0]
    assert result is first
    assert journal_written, "the journal is written before the hook runs"
    assert json.loads(first.journal_path.read_text())["verdict"] == "passed"

    second = run_with(pause_experiment, plugins, tmp_path)
    assert [r for r, _ in recorder.calls] == [first, second]
    assert second.journal.run_id != first.journal.run_id


@pytest.mark.docker
def test_hook_chaosdrill_run_finished_exception_does_not_change_the_verdict(
    pause_experiment, tmp_path
):
    plugins = builtins_only()
    plugins.pm.register(Raiser(), name="raiser")
    recorder = Recorder()
    plugins.pm.register(recorder, name="recorder")  # pluggy calls the last registered first
    events: list[Any] = []

    result = run_with(pause_experiment, plugins, tmp_path, observer=events.append)
    assert result.verdict is Verdict.PASSED, [r.message for r in result.reasons]
    assert int(result.exit_code) == 0
    assert result.reasons == ()
    assert json.loads(result.journal_path.read_text())["verdict"] == "passed"
    assert [r for r, _ in recorder.calls] == [result]
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("the notifier is down" in m for m in notices), notices


@pytest.mark.docker
def test_hook_chaosdrill_run_finished_after_a_run_that_errors(experiment_file, tmp_path):
    """Whatever the verdict: here the target selects nothing."""
    plugins = builtins_only()
    recorder = Recorder()
    plugins.pm.register(recorder, name="recorder")
    path = experiment_file(f"""
        version: 1
        title: nothing to act on
        targets:
          web: {{select: {{labels: {{grp: none-{uuid.uuid4().hex}}}}}}}
        method:
          - {{name: kill, fault: container.kill, target: web}}
    """)
    result = run_with(path, plugins, tmp_path)
    assert result.verdict is Verdict.ERROR
    assert [r for r, _ in recorder.calls] == [result]


@pytest.mark.docker
def test_hook_chaosdrill_run_finished_failure_does_not_silence_other_plugins(
    experiment_file, tmp_path
):
    plugins = builtins_only()
    recorder = Recorder()
    plugins.pm.register(recorder, name="recorder")
    plugins.pm.register(Raiser(), name="raiser")  # called first
    path = experiment_file(f"""
        version: 1
        title: nothing to act on
        targets:
          web: {{select: {{labels: {{grp: none-{uuid.uuid4().hex}}}}}}}
        method:
          - {{name: kill, fault: container.kill, target: web}}
    """)
    result = run_with(path, plugins, tmp_path)
    assert [r for r, _ in recorder.calls] == [result]


def test_call_each_calls_every_implementation_despite_failures():
    plugins = builtins_only()
    recorder = Recorder()
    plugins.pm.register(recorder, name="recorder")
    plugins.pm.register(Raiser(), name="raiser")
    marker = types.SimpleNamespace(journal_path=None)
    found = plugins.call_each("chaosdrill_run_finished", result=marker)
    assert [(f.plugin, f.error) for f in found] == [
        ("raiser", "RuntimeError: the notifier is down")
    ]
    assert recorder.calls == [(marker, False)]


# chaosdrill_gameday_event: through the dispatcher a game day uses


def test_hook_chaosdrill_gameday_event_reaches_plugins_in_order_off_the_callers_thread():
    from chaos.gameday.events import GameDayEvent
    from chaos.gameday.notify import Dispatcher

    class Listener:
        def __init__(self) -> None:
            self.got: list[tuple[str, str]] = []

        @hookimpl
        def chaosdrill_gameday_event(self, event):
            self.got.append((event.kind, threading.current_thread().name))

    plugins = build_plugin_manager(load_entry_points=False)
    listener = Listener()
    assert plugins.register(listener, name="listener")
    plugins.register(Raiser(), name="raiser")  # implements another hook: changes nothing
    dispatcher = Dispatcher(plugins)
    for kind in ("announce", "started", "finished"):
        dispatcher.emit(GameDayEvent(kind, "Friday drills", "/ops/friday.yaml", drill="d"))
    assert dispatcher.close(10)
    assert [kind for kind, _ in listener.got] == ["announce", "started", "finished"]
    assert threading.current_thread().name not in {name for _, name in listener.got}


# -- built-ins are plugins like any other ------------------------------------


def _defined_types(package: str, base: type) -> set[str]:
    """Names of the concrete ``base`` subclasses defined in a package's modules."""
    names = set()
    root = importlib.import_module(package)
    for info in pkgutil.iter_modules(root.__path__, f"{package}."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, base)
                and obj.__module__ == module.__name__
                and not inspect.isabstract(obj)
            ):
                names.add(obj.name)
    return names


def test_builtins_are_registered_through_the_hooks():
    plugins = builtins_only()
    registry = plugins.registry
    assert failures(plugins) == {}
    registered = dict(plugins.pm.list_name_plugin())
    assert set(registered) == set(BUILTIN_PLUGINS)
    for table in (
        registry.faults,
        registry.probes,
        registry.target_kinds,
        registry.node_controllers,
    ):
        for name, entry in table.items():
            assert entry.origin == "builtin", name
            module = entry.cls.__module__
            assert module in BUILTIN_PLUGINS, f"{name} is defined outside a built-in plugin"
            hooks = [h for h in REGISTRATION_HOOKS if hasattr(registered[module], h)]
            assert hooks, f"{module} registers {name} without a registration hook"
    # every concrete fault, probe and kind shipped with chaosdrill is registered
    assert _defined_types("chaos.faults", Fault) == set(registry.faults)
    assert _defined_types("probes", Probe) == set(registry.probes)
    assert _defined_types("chaos.targets", TargetKind) == set(registry.target_kinds)
    assert _defined_types("chaos.lab", NodeController) == set(registry.node_controllers)


def test_disabling_a_builtin_plugin_removes_exactly_its_types(monkeypatch):
    full = builtins_only().registry
    monkeypatch.setenv(DISABLE_ENV, " probes.http , chaos.faults.container")
    plugins = builtins_only()
    assert failures(plugins) == {}
    assert plugins.pm.get_plugin("probes.http") is None
    assert set(plugins.registry.probes) == set(full.probes) - {"http"}
    assert set(plugins.registry.faults) == {
        n for n in full.faults if not n.startswith("container.")
    }
    assert set(plugins.registry.target_kinds) == set(full.target_kinds)


# -- loading only the plugins a file names ----------------------------------------


def test_builtin_types_table_is_what_each_builtin_registers():
    for module in BUILTIN_PLUGINS:
        registry = build_plugin_manager(only={module}).registry
        assert registry.failures == [], module
        for table, by_module in BUILTIN_TYPES.items():
            assert set(getattr(registry, table)) == set(by_module.get(module, ())), (
                module,
                table,
            )


def test_plugins_for_loads_only_the_builtins_defining_the_names():
    plugins = plugins_for(
        {"target_kinds": {"container"}, "faults": {"container.crash"}, "probes": {"http", "tcp"}}
    )
    assert plugins is not default_plugins()
    assert {name for name, _ in plugins.pm.list_name_plugin()} == {
        "chaos.targets.container",
        "chaos.faults.container",
        "probes.http",
        "probes.tcp",
    }
    # still registered through the hooks, with the built-in origin
    assert plugins.registry.faults["container.crash"].origin == "builtin"
    assert set(plugins.registry.probes) == {"http", "tcp"}


def test_plugins_for_an_unknown_name_is_every_plugin():
    assert plugins_for({"faults": {"container.crsh"}}) is default_plugins()
    assert plugins_for({"target_kinds": {"k8s"}}) is default_plugins()


def test_plugins_for_skips_a_disabled_builtin_like_a_full_load(monkeypatch):
    assert "tcp" in plugins_for({"probes": {"tcp"}}).registry.probes
    monkeypatch.setenv(DISABLE_ENV, "probes.tcp")
    # not the set built before the variable was set: it falls back to every
    # plugin, where tcp is missing too
    assert plugins_for({"probes": {"tcp"}}) is default_plugins()
    assert "tcp" not in build_plugin_manager().registry.probes


UNKNOWN_NAMES = """\
version: 1
title: typos
targets:
  web: {kind: containr, select: {name: web}}
  db: {select: {name: db}}
steady_state:
  - {probe: htp, url: "http://127.0.0.1/"}
method:
  - {fault: container.crsh, target: db}
  - {fault: container.pause, target: db, duration: 1s, bogus: 1}
"""


def test_validate_with_names_not_found_reports_as_with_every_plugin():
    with pytest.raises(InvalidExperiment) as selective:
        load_text(UNKNOWN_NAMES, "typos.yaml")
    with pytest.raises(InvalidExperiment) as full:
        load_text(UNKNOWN_NAMES, "typos.yaml", plugins=build_plugin_manager())
    assert selective.value.problems == full.value.problems
    messages = [p.message for p in selective.value.problems]
    assert any("unknown target kind 'containr' (did you mean 'container'?)" in m for m in messages)
    assert any("unknown probe 'htp' (did you mean 'http'?)" in m for m in messages)
    assert any(
        "unknown fault 'container.crsh' (did you mean 'container.crash'?)" in m for m in messages
    )
    assert any("'bogus' is not a parameter of fault container.pause" in m for m in messages)


def test_cli_validate_imports_only_the_plugins_the_file_names(experiment_file):
    path = experiment_file("""
        version: 1
        title: one fault, one probe
        targets:
          web: {select: {name: web}}
        steady_state:
          - {probe: tcp, host: 127.0.0.1, port: 1}
        method:
          - {fault: container.kill, target: web}
    """)
    script = (
        "import sys\n"
        "from chaos.cli.main import main\n"
        f"code = main(['validate', {str(path)!r}])\n"
        "from chaos.plugins import BUILTIN_PLUGINS\n"
        "print(sorted(m for m in BUILTIN_PLUGINS if m in sys.modules), code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{path}: ok"
    assert lines[1] == "['chaos.faults.container', 'chaos.targets.container', 'probes.tcp'] 0"


def test_experiment_models_are_built_on_first_use_not_at_import():
    script = (
        "import chaos.experiment.model as m\n"
        "print(m.Experiment.__pydantic_complete__, m.FaultStep.__pydantic_complete__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]


# -- failures are reported under the plugin's name -------------------------------


def test_duplicate_names_are_failures_naming_the_plugin():
    plugins = builtins_only()
    assert plugins.register(registering("add_fault", TipBox), "first")
    plugins.register(registering("add_fault", TipBox), "second", origin="second 2.0")
    plugins.register(registering("add_probe", Always, Always), "twice")
    found = failures(plugins)
    assert found["second"] == "RegistrationError: fault 'acme.tip' is already registered by first"
    assert found["twice"] == (
        "RegistrationError: probe 'acme.always' is already registered by twice"
    )
    assert plugins.registry.faults["acme.tip"].origin == "first"
    # a plugin name can be taken only once
    assert not plugins.register(plugin(), "first")
    assert "already registered under the name 'first'" in failures(plugins)["first"]


def test_unknown_hook_and_bad_signature_are_failures_not_crashes():
    plugins = builtins_only()

    def typo(registry: Registry) -> None:  # pragma: no cover - never called
        raise AssertionError

    def wrong_argument(reg: Registry) -> None:  # pragma: no cover - never called
        raise AssertionError

    assert not plugins.register(plugin(chaosdrill_register_fautls=typo), "typo")
    assert not plugins.register(plugin(chaosdrill_register_faults=wrong_argument), "badarg")
    found = failures(plugins)
    assert found["typo"].startswith(
        "PluginValidationError: unknown hook chaosdrill_register_fautls"
    )
    assert "chaosdrill_register_faults" in found["typo"]
    assert "PluginValidationError" in found["badarg"] and "reg" in found["badarg"]
    assert plugins.pm.get_plugin("typo") is None
    plugins.pm.check_pending()  # what build_plugin_manager runs: must not raise now
    assert set(plugins.registry.faults) == set(builtins_only().registry.faults)


def test_registration_rejects_classes_later_commands_would_choke_on():
    class NoInject(Fault):
        name = "acme.noinject"

    class NotAModel(Fault):
        name = "acme.notamodel"
        Params = dict  # type: ignore[assignment]

        def inject(self, ctx: Any, params: Any) -> dict[str, Any]:
            return {}

    class ClashParams(Params):
        duration: int = 1

    class Clash(NotAModel):
        name = "acme.clash"
        Params = ClashParams

    class Spaced(NotAModel):
        name = "acme spaced"
        Params = Params

    class NoCheck(Probe):
        name = "acme.nocheck"

    plugins = builtins_only()
    for cls in (NoInject, NotAModel, Clash, Spaced):
        plugins.register(registering("add_fault", cls), cls.__name__)
    plugins.register(registering("add_probe", NoCheck), "NoCheck")
    found = failures(plugins)
    assert found["NoInject"].endswith("fault 'acme.noinject' does not implement inject")
    assert "Params must be a pydantic model" in found["NotAModel"]
    assert "parameter(s) duration clash with step keys" in found["Clash"]
    assert "needs a name without spaces" in found["Spaced"]
    assert found["NoCheck"].endswith("probe 'acme.nocheck' does not implement check")
    assert not {"acme.noinject", "acme.notamodel", "acme.clash"} & set(plugins.registry.faults)


def test_registration_hook_that_raises_is_a_failure_and_others_still_register():
    def boom(registry: Registry) -> None:
        raise RuntimeError("no licence key")

    plugins = builtins_only()
    plugins.register(plugin(chaosdrill_register_faults=boom), "boom")
    assert plugins.register(registering("add_fault", TipBox), "acme")
    assert failures(plugins) == {"boom": "RuntimeError: no licence key"}
    assert "acme.tip" in plugins.registry.faults


# -- the CLI's view of built-ins -------------------------------------------------


def test_cli_plugins_lists_builtins_with_origin_builtin():
    proc = cli("plugins")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    registry = builtins_only().registry
    for table in (
        registry.faults,
        registry.probes,
        registry.target_kinds,
        registry.node_controllers,
    ):
        for name in table:
            assert any(line.startswith(f"  {name}  (builtin)") for line in lines), name
    assert "failed to load" not in proc.stdout


def test_cli_plugins_json_lists_every_fault_and_probe_with_parameters():
    proc = cli("plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    registry = builtins_only().registry
    assert data["failures"] == []
    for section, table in (
        ("faults", registry.faults),
        ("probes", registry.probes),
        ("target_kinds", registry.target_kinds),
    ):
        # plugins installed beside chaosdrill (the example package) are listed too
        listed = {item["name"]: item for item in data[section] if item["origin"] == "builtin"}
        assert set(listed) == set(table), section
        for name, entry in table.items():
            item = listed[name]
            assert item["summary"], f"{name} has no summary"
            model = getattr(entry.cls, "Params", None) or entry.cls.Selector
            params = {p["name"]: p for p in item["parameters"]}
            fields = {info.alias or field: info for field, info in model.model_fields.items()}
            assert list(params) == list(fields), name  # as written in experiments
            for pname, info in fields.items():
                assert params[pname]["required"] is info.is_required(), (name, pname)
                assert params[pname]["type"] and "Annotated" not in params[pname]["type"]
    faults = {f["name"]: f for f in data["faults"]}
    probes = {p["name"]: p for p in data["probes"]}
    assert faults["container.stop"]["reversible"] is True
    assert faults["container.stop"]["target_kinds"] == ["container"]
    assert {
        "name": "timeout",
        "type": "duration",
        "required": False,
        "default": 10.0,
        "description": "Seconds Docker waits after SIGTERM before SIGKILL.",
    } in faults["container.stop"]["parameters"]
    assert {"name": "signal", "type": "signal", "required": False, "default": "SIGKILL"} in (
        faults["container.kill"]["parameters"]
    )
    http = {p["name"]: p for p in probes["http"]["parameters"]}
    assert http["url"] == {"name": "url", "type": "str", "required": True, "default": None}
    assert http["max_latency"]["type"] == "duration | None"
    assert probes["exec"]["accepts_target"] is True
    assert {"name": "command", "type": "list[str]", "required": True, "default": None} in (
        probes["exec"]["parameters"]
    )


def test_cli_plugins_json_format_gives_an_editor_every_schema_and_origin():
    """The documented shape (docs/plugins.md, "plugins --json"): a format tag, and for
    every fault, probe and target kind its plugin, description and a JSON Schema that
    accepts what validation accepts and rejects an unknown parameter."""
    import jsonschema

    proc = cli("plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["format"] == "chaosdrill.plugins/1"
    keys = {"name", "origin", "plugin", "summary", "description", "parameters", "schema"}
    for section in ("faults", "probes", "target_kinds", "node_controllers"):
        assert data[section], section
        for item in data[section]:
            assert keys <= set(item), (section, item["name"])
            assert item["description"], (section, item["name"])
            plugin = item["plugin"]
            if item["origin"] == "builtin":
                assert plugin["builtin"] is True and plugin["distribution"] is None
                assert plugin["module"] == plugin["name"]
            else:  # a package installed beside chaosdrill (the example plugin, say)
                assert plugin["builtin"] is False and plugin["entry_point"], item["name"]
                assert item["origin"] == f"{plugin['distribution']} {plugin['version']}"
            schema = item["schema"]
            jsonschema.Draft202012Validator.check_schema(schema)
            assert schema["type"] == "object" and schema["additionalProperties"] is False
            assert [p["name"] for p in item["parameters"]] == list(schema["properties"])
            validator = jsonschema.Draft202012Validator(schema)
            assert not validator.is_valid({"no_such_parameter": 1}), item["name"]
            required = set(schema.get("required", ()))
            assert required == {p["name"] for p in item["parameters"] if p["required"]}
    faults = {f["name"]: f for f in data["faults"]}
    for name, fault in faults.items():
        assert set(fault) >= {"reversible", "watchdog", "target_kinds"}, name
        assert not fault["watchdog"] or fault["reversible"], name
    assert faults["container.pause"]["watchdog"] is True
    assert faults["container.kill"]["watchdog"] is False
    assert faults["container.stop"]["plugin"]["name"] == "chaos.faults.container"
    stop = faults["container.stop"]["schema"]["properties"]["timeout"]
    assert stop["description"] == "Seconds Docker waits after SIGTERM before SIGKILL."
    validator = jsonschema.Draft202012Validator(faults["container.stop"]["schema"])
    assert validator.is_valid({"timeout": "5s"}) and validator.is_valid({})
    http = next(p for p in data["probes"] if p["name"] == "http")
    assert not jsonschema.Draft202012Validator(http["schema"]).is_valid({}), "url is required"


# -- third-party packages, built and installed in the test -----------------------


def pip(*args: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            *args,
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_ROOT_USER_ACTION": "ignore"},
    )
    assert proc.returncode == 0, f"pip {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> dict[str, Path]:
    """Build the three plugin packages into wheels and install them.

    ``good`` holds acme-chaos; ``bad`` holds acme-broken and acme-dupe.
    """
    root = tmp_path_factory.mktemp("plugin-packages")
    wheels = root / "wheels"
    for package in ("acme", "broken", "dupe"):
        shutil.copytree(PKG_SRC / package, root / "src" / package)
        shutil.copy(PKG_SRC / "minimal_backend.py", root / "src" / package)
    pip("wheel", "-w", str(wheels), "./acme", "./broken", "./dupe", cwd=root / "src")
    built = sorted(p.name for p in wheels.iterdir())
    assert built == [
        "acme_broken-0.1.0-py3-none-any.whl",
        "acme_chaos-1.2.3-py3-none-any.whl",
        "acme_dupe-0.2.0-py3-none-any.whl",
    ]
    at_once(
        lambda: pip("install", "--target", str(root / "good"), str(wheels / built[1])),
        lambda: pip(
            "install", "--target", str(root / "bad"), str(wheels / built[0]), str(wheels / built[2])
        ),
    )
    return {"wheels": wheels, "good": root / "good", "bad": root / "bad"}


def env_with(*sites: Path, **extra: str) -> dict[str, str]:
    path = [str(s) for s in sites]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    return {"PYTHONPATH": os.pathsep.join(path), **extra}


def test_plugin_package_is_a_real_installed_distribution(sites):
    with zipfile.ZipFile(sites["wheels"] / "acme_chaos-1.2.3-py3-none-any.whl") as wheel:
        names = set(wheel.namelist())
        entry_points = wheel.read("acme_chaos-1.2.3.dist-info/entry_points.txt").decode()
    assert {"acme_chaos/plugin.py", "acme_chaos-1.2.3.dist-info/RECORD"} <= names
    assert "[chaosdrill]\nacme = acme_chaos.plugin" in entry_points
    assert (sites["good"] / "acme_chaos" / "plugin.py").is_file()
    assert (sites["good"] / "acme_chaos-1.2.3.dist-info" / "entry_points.txt").is_file()
    assert not (sites["good"] / "chaos").exists(), "--no-deps: chaosdrill is not copied in"


def test_installed_plugin_is_listed_with_its_distribution_as_origin(sites):
    proc, text = at_once(
        lambda: chaosdrill("plugins", "--json", env=env_with(sites["good"])),
        lambda: chaosdrill("plugins", env=env_with(sites["good"])),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["failures"] == []
    faults = {f["name"]: f for f in data["faults"]}
    probes = {p["name"]: p for p in data["probes"]}
    touch = faults["acme.touch"]
    assert touch["origin"] == ACME
    assert touch["reversible"] is True
    assert touch["parameters"] == [
        {"name": "directory", "type": "str", "required": False, "default": "/tmp"},
        {"name": "prefix", "type": "str", "required": False, "default": "acme-"},
    ]
    assert probes["acme.file"]["origin"] == ACME
    assert faults["container.kill"]["origin"] == "builtin"
    for item in (touch, probes["acme.file"]):
        assert item["plugin"] == {
            "name": "acme",
            "builtin": False,
            "module": "acme_chaos.plugin",
            "distribution": "acme-chaos",
            "version": "1.2.3",
            "entry_point": "acme = acme_chaos.plugin",
        }
    assert touch["watchdog"] is False, "acme.touch has no dead man's switch"
    assert touch["description"] == "create a marker file in the container; removed on revert"
    assert set(touch["schema"]["properties"]) == {"directory", "prefix"}

    assert text.returncode == 0
    assert f"  acme.touch  ({ACME}) [reversible]" in text.stdout.splitlines()
    assert f"  acme.file  ({ACME}) [takes target]" in text.stdout.splitlines()


def test_broken_and_duplicate_plugins_are_reported_by_name_and_others_load(sites):
    env = env_with(sites["good"], sites["bad"])
    proc, listed = at_once(
        lambda: chaosdrill("plugins", env=env), lambda: chaosdrill("plugins", "--json", env=env)
    )
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    failed = lines[lines.index("Plugins that failed to load:") + 1 :]
    assert failed == [
        "  broken: ImportError: acme_broken needs the 'nonexistent-sdk' package",
        "  dupe: RegistrationError: fault 'container.kill' is already registered by builtin",
    ]
    assert f"  acme.touch  ({ACME}) [reversible]" in lines
    assert "  container.kill  (builtin)" in lines

    data = json.loads(listed.stdout)
    assert {f["plugin"] for f in data["failures"]} == {"broken", "dupe"}
    kill = next(f for f in data["faults"] if f["name"] == "container.kill")
    assert kill["origin"] == "builtin", "the built-in keeps its name"


def test_validate_names_plugins_that_failed_to_load(sites, experiment_file):
    path = experiment_file("""
        version: 1
        title: needs the broken plugin
        targets:
          web: {select: {name: web}}
        method:
          - {fault: broken.thing, target: web}
    """)
    proc = chaosdrill("validate", str(path), env=env_with(sites["bad"]))
    assert proc.returncode == 2
    assert f"{path}:6:13: unknown fault 'broken.thing'" in proc.stdout
    assert "(plugins that failed to load: broken, dupe; see chaosdrill plugins)" in proc.stdout


def test_disable_env_skips_the_named_plugins(sites):
    env = env_with(sites["good"], sites["bad"], **{DISABLE_ENV: "broken,dupe,probes.tcp"})
    proc, acme_disabled = at_once(
        lambda: chaosdrill("plugins", "--json", env=env),
        lambda: chaosdrill("plugins", "--json", env={**env, DISABLE_ENV: "acme"}),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["failures"] == []
    probes = {p["name"] for p in data["probes"]}
    assert "acme.file" in probes and "tcp" not in probes and "http" in probes

    data = json.loads(acme_disabled.stdout)
    assert "acme.touch" not in {f["name"] for f in data["faults"]}


MARKER_EXPERIMENT = """\
version: 1
title: acme marker file
targets:
  web:
    select: {{labels: {{grp: {group}}}}}
steady_state:
  - {{name: no-marker, probe: acme.file, target: web, present: false}}
method:
  - name: touch
    fault: acme.touch
    target: web
    duration: 2s
probes:
  - name: marker-visible
    probe: exec
    target: web
    command: [sh, -c, "ls /tmp/acme-*"]
    interval: 100ms
    timeout: 2s
    tolerance: {{min_availability: 30%}}
recovery: {{within: 5s}}
"""


@pytest.mark.docker
def test_installed_plugin_fault_runs_in_an_experiment(sites, containers, tmp_path):
    group = f"g{uuid.uuid4().hex[:10]}"
    web = containers.run("web", labels={"grp": group}, wait_healthy=False)
    path = tmp_path / "experiment.yaml"
    path.write_text(MARKER_EXPERIMENT.format(group=group))
    reports = tmp_path / "reports"

    proc = chaosdrill(
        "run", str(path), "--json", "--report-dir", str(reports), env=env_with(sites["good"])
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "passed" and out["exit_code"] == 0, out["reasons"]
    journal = json.loads(Path(out["journal"]).read_text())
    marker = f"/tmp/acme-{out['run_id']}"

    # the plugin's fault acted on the labelled container and recorded its state
    (fault,) = journal["faults"]
    assert fault["fault"] == "acme.touch" and fault["container"]["id"] == web.id
    assert fault["outcome"] == "reverted"
    assert fault["state"] == {"path": marker}

    # the plugin's probe saw no marker before the method, and again after revert
    (before,) = journal["steady_state_before"]
    assert before["probe"] == "acme.file"
    assert before["samples"][0]["ok"] and before["samples"][0]["detail"] == f"{marker} absent"
    assert journal["recovery"]["recovered"] is True

    # the built-in exec probe saw the file inside the container, and only while the fault
    # was active: a sample ran somewhere in [t, t + latency]
    method_start = next(p["t"] for p in journal["phases"] if p["name"] == "method")
    revert_starts = method_start + fault["duration"]
    samples = journal["probes"][0]["samples"]
    seen = [s for s in samples if s["ok"]]
    assert len(seen) >= 2, samples
    for s in seen:
        assert s["t"] + s["latency"] >= fault["injected_at"], s
        assert s["t"] <= fault["reverted_at"], s
    for s in samples:
        if not s["ok"]:
            assert s["t"] + s["latency"] <= fault["injected_at"] + 1.0 or (
                s["t"] + s["latency"] >= revert_starts
            ), f"the file was missing while the fault was active: {s}"

    # and after the run the file is gone: revert removed it
    assert web.exec_run(["test", "-e", marker]).exit_code == 1
    assert web.exec_run(["sh", "-c", "ls /tmp/acme-*"]).exit_code != 0


def test_validate_checks_installed_plugin_parameters_with_positions(sites, tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(MARKER_EXPERIMENT.format(group="any"))
    bad = tmp_path / "bad.yaml"
    text = MARKER_EXPERIMENT.format(group="any").replace(
        "    duration: 2s\n", "    duration: 2s\n    directroy: /var/tmp\n    prefix: [a, b]\n"
    )
    bad.write_text(text)
    env = env_with(sites["good"])

    # without the package installed, the fault does not exist
    missing = cli("validate", str(good))
    assert missing.returncode == 2
    assert f"{good}:10:12: unknown fault 'acme.touch'" in missing.stdout

    # only the plugin the file names is imported, not the broken one beside it
    script = (
        "import sys\n"
        "from chaos.cli.main import main\n"
        f"code = main(['validate', {str(good)!r}])\n"
        "print(sorted(m for m in ('acme_chaos', 'acme_broken', 'acme_dupe', 'probes.dns')"
        " if m in sys.modules), code)\n"
    )
    valid, imported, invalid = at_once(
        lambda: chaosdrill("validate", str(good), env=env),
        lambda: subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env_with(sites["good"], sites["bad"])},
            check=False,
        ),
        lambda: chaosdrill("validate", str(bad), env=env),
    )
    assert valid.returncode == 0, valid.stdout
    assert valid.stdout.strip() == f"{good}: ok"

    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines() == [f"{good}: ok", "['acme_chaos'] 0"]

    lines = text.splitlines()
    typo_line = lines.index("    directroy: /var/tmp") + 1
    assert invalid.returncode == 2, invalid.stdout
    assert invalid.stdout.splitlines() == [
        f"{bad}:{typo_line}:5: 'directroy' is not a parameter of fault acme.touch "
        "(did you mean 'directory'?); it takes: directory, prefix",
        f"{bad}:{typo_line + 1}:13: method[0].prefix: Input should be a valid string",
    ]
