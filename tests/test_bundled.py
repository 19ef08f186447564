"""What ships inside the package for a user without a checkout: the examples, the
registry Dockerfiles, and messages that name no file of the repository."""

from __future__ import annotations

import ast
import re

import pytest

from chaos import bundled
from chaos.errors import UsageError
from tests.conftest import ROOT, cli

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pip ships tomli
    from pip._vendor import tomli as tomllib  # type: ignore[no-redef]

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def test_the_packaged_files_are_the_repository_files():
    """chaos/data links to experiments/ and images/: nothing is kept twice."""
    assert (ROOT / "chaos/data/experiments").resolve() == (ROOT / "experiments").resolve()
    assert (ROOT / "chaos/data/images").resolve() == (ROOT / "images").resolve()
    names = {p.stem for p in (ROOT / "experiments").glob("*.yaml")}
    assert set(bundled.example_names()) == names
    for name in bundled.DOCKERFILES:
        assert bundled.dockerfile(name) == (ROOT / f"images/{name}.Dockerfile").read_text()


def test_the_wheel_lists_what_the_commands_offer():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = config["tool"]["setuptools"]["package-data"]["chaos"]
    assert "data/experiments/*.yaml" in shipped and "data/experiments/swarm/*.yaml" in shipped
    dockerfiles = sorted(p for p in shipped if p.startswith("data/images/"))
    assert dockerfiles == sorted(f"data/images/{n}.Dockerfile" for n in bundled.DOCKERFILES)


def test_every_example_states_its_verdict():
    found = {e.name: e for e in bundled.examples()}
    assert found[bundled.DEFAULT_EXAMPLE].expected == "passed"
    assert found["api-crash-no-restart"].expected == "failed"
    assert found["alert-aborts-drill"].expected == "aborted"
    assert found["alert-aborts-drill"].needs_prometheus
    assert not found[bundled.DEFAULT_EXAMPLE].needs_prometheus
    for example in found.values():
        assert example.expected in ("passed", "failed", "aborted"), example


def test_an_unknown_example_or_dockerfile_is_a_usage_error():
    with pytest.raises(UsageError, match="no example named 'nope'; the examples are: "):
        bundled.describe("nope")
    with pytest.raises(UsageError, match="there are: netns-helper, fault-helper, swarm-node"):
        bundled.dockerfile("chaosdrill")


def test_copy_examples_never_overwrites_without_force(tmp_path):
    written = bundled.copy_examples(tmp_path / "ex")
    relative = sorted(str(p.relative_to(tmp_path / "ex")) for p in written)
    expected = sorted(
        str(p.relative_to(ROOT / "experiments")) for p in (ROOT / "experiments").rglob("*.yaml")
    )
    assert relative == expected
    edited = tmp_path / "ex" / "web-survives-crash.yaml"
    edited.write_text("mine")
    with pytest.raises(UsageError, match="already exist; --force overwrites them"):
        bundled.copy_examples(tmp_path / "ex")
    assert edited.read_text() == "mine"
    bundled.copy_examples(tmp_path / "ex", force=True)
    assert edited.read_text() == (ROOT / "experiments/web-survives-crash.yaml").read_text()


def test_demo_run_list_shows_the_expected_verdicts(tmp_path):
    proc = cli("demo", "run", "--list", cwd=tmp_path, env=NO_ENGINE)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines()[1:]}
    assert rows["web-survives-crash"] == "passed"
    assert rows["api-crash-no-restart"] == "failed"


def test_demo_run_refuses_an_unknown_name_and_a_missing_engine(tmp_path):
    proc = cli("demo", "run", "nope", cwd=tmp_path, env=NO_ENGINE)
    assert proc.returncode == 2 and "no example named 'nope'" in proc.stderr
    proc = cli("demo", "run", cwd=tmp_path, env=NO_ENGINE)
    assert proc.returncode == 4 and "cannot reach the Docker engine" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_examples_copies_and_then_refuses(tmp_path):
    proc = cli("demo", "examples", "mine", cwd=tmp_path, env=NO_ENGINE)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "mine/swarm/drain-worker.yaml").is_file()
    assert "chaosdrill run mine/web-survives-crash.yaml" in proc.stdout
    again = cli("demo", "examples", "mine", cwd=tmp_path, env=NO_ENGINE)
    assert again.returncode == 2 and "--force overwrites them" in again.stderr


def test_images_dockerfile_prints_one(tmp_path):
    proc = cli("images", "dockerfile", "netns-helper", cwd=tmp_path, env=NO_ENGINE)
    assert proc.returncode == 0
    assert proc.stdout == (ROOT / "images/netns-helper.Dockerfile").read_text()
    proc = cli("images", "dockerfile", "nope", cwd=tmp_path, env=NO_ENGINE)
    assert proc.returncode == 2 and "no Dockerfile named 'nope'" in proc.stderr


REPOSITORY_ONLY = re.compile(r"(?<![\w./])(images|scripts|experiments|docs|benchmarks|tests)/\w")


def _messages(tree: ast.AST) -> list[ast.Constant]:
    """String constants that are not documentation: a string on its own as a
    statement (a docstring, an attribute's docstring) is never shown to a user."""
    documentation = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in documentation
    ]


def _repository_paths_in_messages(root):
    found = []
    for path in sorted([*(root / "chaos").rglob("*.py"), *(root / "probes").rglob("*.py")]):
        tree = ast.parse(path.read_text(), str(path))
        for node in _messages(tree):
            if REPOSITORY_ONLY.search(node.value):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value[:80]!r}")
    return found


def test_no_message_names_a_file_only_the_repository_has():
    found = _repository_paths_in_messages(ROOT)
    assert not found, "\n".join(found)
