"""docs/plugins.md: its reference part is what scripts/plugin_docs.py makes of the code.

A hook or plugin API change without ``python3 scripts/plugin_docs.py``
fails here; so does a name of the API with nothing said about it.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import chaos.plugin_api as plugin_api
from chaos import hookspecs

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "plugins.md"
SCRIPT = ROOT / "scripts" / "plugin_docs.py"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("plugin_docs", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generated_part(text: str, generator: ModuleType) -> str:
    start, end = text.index(generator.BEGIN), text.index(generator.END)
    return text[start : end + len(generator.END)] + "\n"


def test_docs_are_up_to_date_with_the_hookspecs_and_the_plugin_api(generator):
    text = DOC.read_text()
    assert generated_part(text, generator) == generator.render(), (
        "docs/plugins.md is out of date: run python3 scripts/plugin_docs.py"
    )
    assert generator.updated(text) == text


def test_the_check_command_says_so(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


def test_a_changed_hook_docstring_makes_the_docs_stale(generator, monkeypatch):
    hook = hookspecs.chaosdrill_run_finished
    monkeypatch.setattr(hook, "__doc__", hook.__doc__ + "\nA sentence nobody documented.\n")
    assert generated_part(DOC.read_text(), generator) != generator.render()


def test_every_hook_and_every_public_name_is_documented(generator):
    part = generator.render()
    for name, func in vars(hookspecs).items():
        if name.startswith(f"{hookspecs.PROJECT}_") and inspect.isfunction(func):
            assert f"#### `{name}(" in part, name
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `(\w+)` \| [^|]+ \| `[\w.]+` \| (.*) \|$", part, re.M)
    }
    assert set(rows) == set(plugin_api.__all__)
    undocumented = sorted(name for name, about in rows.items() if not about.strip())
    assert not undocumented, f"give these a docstring where they are defined: {undocumented}"
    for name in generator.INTERFACES:
        assert f"#### `{name}`" in part, name
    assert "``" not in part.replace("```", ""), "reStructuredText literals left unconverted"
    assert ":class:" not in part and ":func:" not in part


def test_the_guide_names_only_what_exists():
    """Every ``name`` the hand-written part says comes from the plugin API is
    exported, and its Python examples compile."""
    text = DOC.read_text()
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        tree = ast.parse(block, "docs/plugins.md")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "chaos.plugin_api":
                for alias in node.names:
                    assert alias.name in plugin_api.__all__, alias.name
    for hook in ("chaosdrill_register_faults", "chaosdrill_register_probes"):
        assert hook in text
