"""The hook reference (chaos/hookspecs.py) is complete: every hook documented, tested and called.

Adding a hook to chaos/hookspecs.py without a docstring naming its arguments,
without a ``test_hook_<hook name>...`` test, or without chaosdrill calling it
fails here, one parametrized case per hook.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from chaos import hookspecs
from chaos.plugins import REGISTRATION_HOOKS, build_plugin_manager

HOOKS = sorted(
    name
    for name, obj in vars(hookspecs).items()
    if name.startswith(f"{hookspecs.PROJECT}_") and inspect.isfunction(obj)
)
TESTS = Path(__file__).resolve().parent
SOURCES = TESTS.parent / "chaos"


def hook_tests() -> list[str]:
    """Names of the ``test_hook_*`` functions in the plugin test modules."""
    names = []
    for module in (TESTS / "test_plugins.py", TESTS / "test_hookspecs.py"):
        tree = ast.parse(module.read_text())
        names += [
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_hook_")
        ]
    return names


def test_hookspecs_are_the_hooks_the_plugin_manager_knows():
    assert HOOKS, "no hooks found in chaos/hookspecs.py"
    pm = build_plugin_manager(load_entry_points=False).pm
    known = {name for name in dir(pm.hook) if name.startswith(f"{hookspecs.PROJECT}_")}
    assert known == set(HOOKS)
    for name in HOOKS:
        caller = getattr(pm.hook, name)
        assert caller.spec is not None
        # the module docstring promises: no firstresult, no historic hooks
        assert not caller.spec.opts.get("firstresult"), name
        assert not caller.spec.opts.get("historic"), name


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook):
    func = getattr(hookspecs, hook)
    doc = inspect.getdoc(func) or ""
    assert len(doc.split()) >= 25, f"{hook}: document when it is called and what it gets"
    arguments = list(inspect.signature(func).parameters)
    assert arguments, f"{hook}: a hook without arguments gives a plugin nothing to work with"
    for argument in arguments:
        assert re.search(rf"``{argument}\b", doc), f"{hook}: docstring does not name ``{argument}``"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook):
    tests = hook_tests()
    assert any(name.startswith(f"test_hook_{hook}") for name in tests), (
        f"hook {hook} has no test: add test_hook_{hook}... to tests/test_plugins.py"
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_called_by_chaosdrill(hook):
    """A hook nothing calls is a promise to plugin authors that is not kept."""
    if hook in REGISTRATION_HOOKS:
        return  # called by chaos.plugins for every plugin, by name
    callers = [
        path
        for path in SOURCES.rglob("*.py")
        if path.name != "hookspecs.py" and re.search(rf"\b{hook}\b", path.read_text())
    ]
    assert callers, f"nothing in chaos/ calls {hook}"
