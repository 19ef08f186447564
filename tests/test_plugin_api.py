"""chaos.plugin_api: the one module a plugin imports from."""

from __future__ import annotations

import ast
from pathlib import Path

import chaos.plugin_api as plugin_api
from chaos.container_exec import exec_run
from chaos.fault import Fault
from chaos.params import Params
from chaos.probe import Probe

ROOT = Path(__file__).resolve().parent.parent
BUILTINS = [
    *sorted((ROOT / "chaos" / "faults").glob("*.py")),
    *sorted((ROOT / "probes").glob("*.py")),
    ROOT / "chaos" / "targets" / "container.py",
    ROOT / "chaos" / "targets" / "swarm.py",
    ROOT / "chaos" / "lab" / "control.py",
]


def test_every_exported_name_is_there_and_is_the_original():
    assert sorted(plugin_api.__all__) == sorted(set(plugin_api.__all__))
    for name in plugin_api.__all__:
        assert hasattr(plugin_api, name), name
    assert plugin_api.Fault is Fault and plugin_api.Probe is Probe
    assert plugin_api.Params is Params and plugin_api.exec_run is exec_run


def test_faults_and_probes_share_one_params_base():
    from probes.tcp import TcpParams

    assert issubclass(TcpParams, plugin_api.Params)
    assert plugin_api.Fault.Params is plugin_api.Probe.Params is plugin_api.Params


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_builtins_import_the_plugin_interfaces_from_the_plugin_api_only():
    """The built-in plugins are written as a third party would write them."""
    interfaces = {
        "chaos.fault",
        "chaos.probe",
        "chaos.params",
        "chaos.hookspecs",
        "chaos.registry",
        "chaos.targets",
        "chaos.targets.base",
        "chaos.container_exec",
        "chaos.runtime",
    }
    for path in BUILTINS:
        direct = _imported_modules(path) & interfaces
        assert not direct, f"{path.relative_to(ROOT)} imports {sorted(direct)} directly"


def test_hook_implementations_use_the_plugin_api_marker():
    from chaos.hookspecs import hookimpl

    assert plugin_api.hookimpl is hookimpl


def test_the_readme_plugin_example_registers():
    """The Plugins section's example imports from chaos.plugin_api alone and registers."""
    import re

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Plugins\n") : readme.index("## Library API\n")]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    assert "from chaos.plugin_api import" in code.group(1)
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    registry = plugin_api.Registry()
    namespace["chaosdrill_register_faults"](registry)  # type: ignore[operator]
    assert list(registry.faults) == ["acme.touch"]
