"""The experiment loader: every problem is reported as ``FILE:LINE:COL: message``.

Positions are checked exactly: a column that is off by one sends an editor
to the wrong place. Documents are written flush left so that line and column
numbers can be read off the source of each test.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from chaos.errors import InvalidExperiment, Problem, UsageError
from chaos.exitcodes import ExitCode
from chaos.experiment.loader import LoadedExperiment, load_experiment, load_text
from chaos.redaction import Redactor
from tests.conftest import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "experiments").glob("*.yaml"))

HEADER = "version: 1\ntitle: t\n"
"""Two lines every document below starts with, so line numbers start at 3."""

TARGET = "targets:\n  web: {select: {name: web}}\n"
"""Lines 3 and 4 when it follows HEADER."""


def problems(text: str, **kwargs) -> list[str]:
    with pytest.raises(InvalidExperiment) as info:
        load_text(text, "exp.yaml", **kwargs)
    rendered = [str(p) for p in info.value.problems]
    assert str(info.value) == "\n".join(rendered)
    return rendered


def load(text: str, **kwargs) -> LoadedExperiment:
    return load_text(text, "exp.yaml", **kwargs)


# --- valid files ----------------------------------------------------------------------


def test_the_shipped_examples_exist():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_shipped_examples_load(path):
    loaded = load_experiment(path)
    assert loaded.path == str(path)
    assert loaded.experiment.method, "a valid experiment has at least one fault"
    for index, _step in enumerate(loaded.experiment.method):
        assert loaded.params_for("method", index) is not None
    for section in ("steady_state", "probes", "guards"):
        for index, _step in enumerate(getattr(loaded.experiment, section)):
            assert loaded.params_for(section, index) is not None


def test_example_values_are_parsed_once():
    loaded = load_experiment(ROOT / "experiments" / "web-survives-crash.yaml")
    exp = loaded.experiment
    assert exp.method[0].duration == 5.0
    assert exp.probes[0].interval == pytest.approx(0.1)
    assert exp.probes[0].tolerance.min_availability == pytest.approx(0.6)
    assert exp.probes[0].tolerance.max_outage == 3.0
    assert exp.targets["web"].mode.count == 1
    assert exp.recovery.within == 20.0
    # ${base_url} is substituted in the experiment but kept in the document
    assert loaded.params_for("probes", 0).url == "http://127.0.0.1:18080/"
    assert loaded.document["probes"][0]["url"] == "${base_url}/"


def test_minimal_experiment_gets_defaults():
    loaded = load(HEADER + TARGET + "method:\n  - {fault: container.kill, target: web}\n")
    exp = loaded.experiment
    assert exp.targets["web"].mode.count == 1  # one unless written: never every match
    assert not exp.targets["web"].mode_written
    assert exp.targets["web"].kind == "container"
    assert exp.method[0].at == 0.0
    assert exp.method[0].duration is None
    assert loaded.params_for("method", 0).signal == "SIGKILL"
    assert loaded.secrets == frozenset()


def test_step_names_default_to_the_plugin_and_position():
    loaded = load(
        HEADER
        + TARGET
        + "steady_state:\n"
        + "  - {probe: tcp, host: 127.0.0.1, port: 80}\n"
        + "  - {name: mine, probe: tcp, host: 127.0.0.1, port: 81}\n"
        + "  - {probe: tcp, host: 127.0.0.1, port: 82}\n"
        + "method:\n"
        + "  - {fault: container.kill, target: web}\n"
        + "  - {fault: container.kill, target: web, at: 1s}\n"
    )
    exp = loaded.experiment
    assert [s.name for s in exp.steady_state] == ["tcp#1", "mine", "tcp#3"]
    assert [s.name for s in exp.method] == ["container.kill#1", "container.kill#2"]
    # the document stays as written
    assert "name" not in loaded.document["method"][0]


def test_load_experiment_reads_files_and_reports_their_name(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(HEADER + "method: []\n")
    with pytest.raises(InvalidExperiment) as info:
        load_experiment(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:3:9: method: List should have at least 1 item after validation, not 0"
    ]


def test_load_experiment_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        load_experiment(tmp_path / "missing.yaml")
    with pytest.raises(UsageError, match="is a directory"):
        load_experiment(tmp_path)


def test_load_experiment_refuses_huge_files_without_reading_them_whole(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"#" * (2 * 1024 * 1024 + 1))
    with pytest.raises(UsageError, match="file is larger than 2048 KiB"):
        load_experiment(path)
    if Path("/dev/zero").exists():  # reports a size of 0 and never ends
        with pytest.raises(UsageError, match="file is larger than"):
            load_experiment("/dev/zero")


def test_validate_command_prints_one_line_per_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        HEADER + "titel: x\n" + TARGET + "method:\n  - {fault: container.kil, target: web}\n"
    )
    good = ROOT / "experiments" / "web-survives-crash.yaml"
    done = cli("validate", str(bad), str(good))
    assert done.returncode == ExitCode.INVALID
    assert done.stdout.splitlines() == [
        f"{bad}:3:1: unknown key 'titel' (did you mean 'title'?)",
        f"{bad}:7:13: unknown fault 'container.kil' (did you mean 'container.kill'?)",
        f"{good}: ok",
    ]


def test_load_experiment_rejects_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"version: 1\ntitle: caf\xe9\n")
    with pytest.raises(InvalidExperiment) as info:
        load_experiment(path)
    assert info.value.problems == [Problem(str(path), 2, 11, "file is not valid UTF-8")]


# --- configuration: ${name}, $${ and secrets ----------------------------------------------


def test_whole_string_reference_keeps_the_native_type():
    loaded = load(
        HEADER
        + "configuration:\n  port: 8080\n  host: 127.0.0.1\n  slow: 2.5\n  strict: false\n"
        + TARGET.replace("targets", "targets")
        + "probes:\n"
        + "  - {probe: tcp, host: '${host}', port: '${port}', timeout: '${slow}'}\n"
        + "steady_state:\n"
        + "  - {probe: http, url: 'http://${host}:${port}/', verify_tls: '${strict}'}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    tcp = loaded.params_for("probes", 0)
    assert tcp.port == 8080 and isinstance(tcp.port, int)
    assert tcp.timeout == 2.5
    http = loaded.params_for("steady_state", 0)
    # inside a longer string a reference is replaced by its text
    assert http.url == "http://127.0.0.1:8080/"
    assert http.verify_tls is False


def test_reference_whitespace_is_ignored():
    loaded = load(
        HEADER
        + "configuration: {u: 'http://x'}\n"
        + TARGET
        + "steady_state:\n  - {probe: http, url: '${ u }/a'}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert loaded.params_for("steady_state", 0).url == "http://x/a"


def test_double_dollar_escapes_a_reference():
    loaded = load(
        HEADER
        + "description: 'costs $${price} and ${price}'\n"
        + "configuration: {price: 5}\n"
        + TARGET
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert loaded.experiment.description == "costs ${price} and 5"


def test_env_and_file_secrets_are_resolved_listed_and_masked(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAOSDRILL_TEST_TOKEN", "s3cr3t-env")
    (tmp_path / "password.txt").write_text("  s3cr3t-file\n")
    loaded = load(
        HEADER
        + "configuration:\n"
        + "  token: {env: CHAOSDRILL_TEST_TOKEN}\n"
        + "  password: {file: password.txt}\n"
        + TARGET
        + "steady_state:\n"
        + "  - probe: http\n"
        + "    url: 'http://127.0.0.1/?t=${token}'\n"
        + "    headers: {Authorization: 'Basic ${password}'}\n"
        + "method:\n  - {fault: container.kill, target: web}\n",
        base_dir=tmp_path,
    )
    assert loaded.secrets == frozenset({"s3cr3t-env", "s3cr3t-file"})
    params = loaded.params_for("steady_state", 0)
    assert params.url == "http://127.0.0.1/?t=s3cr3t-env"
    assert params.headers == {"Authorization": "Basic s3cr3t-file"}
    # the document keeps the sources, never the values
    assert loaded.document["configuration"]["token"] == {"env": "CHAOSDRILL_TEST_TOKEN"}
    redactor = Redactor(loaded.secrets)
    assert redactor.text(params.url) == "http://127.0.0.1/?t=***"
    assert redactor.data({"h": ["Basic s3cr3t-file"], "s3cr3t-env": 1}) == {
        "h": ["Basic ***"],
        "***": 1,
    }
    assert not Redactor() and redactor


def test_redactor_masks_longer_secrets_first():
    redactor = Redactor({"abc", "abcdef"})
    assert redactor.text("xabcdefx abc") == "x***x ***"


def test_secret_files_are_read_relative_to_the_experiment(tmp_path):
    (tmp_path / "token").write_text("from-file\n")
    path = tmp_path / "exp.yaml"
    path.write_text(
        HEADER
        + "configuration: {t: {file: token}}\n"
        + TARGET
        + "steady_state:\n  - {probe: http, url: 'http://x/${t}'}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    loaded = load_experiment(path)
    assert loaded.params_for("steady_state", 0).url == "http://x/from-file"


def _secret_experiment(folder: Path, ref: str) -> Path:
    """An experiment in ``folder`` whose configuration reads ``ref`` (line 3, column 27)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "exp.yaml"
    path.write_text(
        HEADER
        + f"configuration: {{t: {{file: '{ref}'}}}}\n"
        + TARGET
        + "steady_state:\n  - {probe: http, url: 'http://x/${t}'}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    return path


def _refused(path: Path) -> str:
    with pytest.raises(InvalidExperiment) as raised:
        load_experiment(path)
    (problem,) = raised.value.problems
    assert (problem.file, problem.line, problem.column) == (str(path), 3, 27)
    assert "is outside the experiment's directory" in problem.message
    assert "list its directory in CHAOSDRILL_SECRET_DIRS" in problem.message
    return problem.message


@pytest.fixture
def no_secret_dirs(monkeypatch):
    monkeypatch.delenv("CHAOSDRILL_SECRET_DIRS", raising=False)


def test_secret_files_below_the_experiment_are_read(tmp_path, no_secret_dirs):
    (tmp_path / "exp" / "secrets").mkdir(parents=True)
    (tmp_path / "exp" / "secrets" / "token").write_text("below\n")
    (tmp_path / "exp" / "same").write_text("same\n")
    loaded = load_experiment(_secret_experiment(tmp_path / "exp", "secrets/../secrets/token"))
    assert loaded.params_for("steady_state", 0).url == "http://x/below"
    inside = tmp_path / "exp" / "same"
    loaded = load_experiment(_secret_experiment(tmp_path / "exp", str(inside)))
    assert loaded.params_for("steady_state", 0).url == "http://x/same"


def test_secret_file_above_the_experiment_is_refused(tmp_path, no_secret_dirs):
    (tmp_path / "x").write_text("outside\n")
    message = _refused(_secret_experiment(tmp_path / "exp", "../x"))
    assert message.startswith(
        f"cannot read secret file '../x': '{tmp_path / 'x'}' is outside the experiment's "
        f"directory ({tmp_path / 'exp'})"
    )


def test_absolute_secret_file_elsewhere_is_refused(tmp_path, no_secret_dirs):
    message = _refused(_secret_experiment(tmp_path / "exp", "/etc/passwd"))
    assert "root:" not in message


def test_symlink_to_a_file_outside_is_refused(tmp_path, no_secret_dirs):
    (tmp_path / "x").write_text("outside\n")
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "link").symlink_to(tmp_path / "x")
    (tmp_path / "exp" / "dirlink").symlink_to(tmp_path)
    _refused(_secret_experiment(tmp_path / "exp", "link"))
    _refused(_secret_experiment(tmp_path / "exp", "dirlink/x"))


def test_secret_dirs_allow_files_elsewhere(tmp_path, monkeypatch):
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "token").write_text("from-vault\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "token").write_text("other\n")
    experiment = _secret_experiment(tmp_path / "exp", "../vault/token")
    monkeypatch.setenv("CHAOSDRILL_SECRET_DIRS", f"/nonexistent{os.pathsep}{os.pathsep}{vault}")
    loaded = load_experiment(experiment)
    assert loaded.params_for("steady_state", 0).url == "http://x/from-vault"
    assert loaded.secrets == frozenset({"from-vault"})
    # a listed directory allows its own files only
    _refused(_secret_experiment(tmp_path / "exp", "../other/token"))


def test_validate_refuses_a_secret_file_outside_with_exit_code_2(tmp_path, monkeypatch):
    path = _secret_experiment(tmp_path / "exp", "/etc/passwd")
    monkeypatch.delenv("CHAOSDRILL_SECRET_DIRS", raising=False)
    done = cli("validate", str(path))
    assert done.returncode == ExitCode.INVALID
    assert done.stdout.startswith(
        f"{path}:3:27: cannot read secret file '/etc/passwd': '/etc/passwd' is outside"
    )
    assert done.stdout.rstrip().endswith(
        "list its directory in CHAOSDRILL_SECRET_DIRS (:-separated) to allow it"
    )
    assert "Traceback" not in done.stderr


def test_secrets_never_appear_in_problems(monkeypatch):
    monkeypatch.setenv("CHAOSDRILL_TEST_TOKEN", "hunter2")
    found = problems(
        HEADER
        + "configuration: {token: {env: CHAOSDRILL_TEST_TOKEN}}\n"
        + TARGET
        + "method:\n  - {fault: container.kill, target: web, at: '${token}'}\n"
    )
    assert found == [
        "exp.yaml:7:46: method[0].at: invalid duration '***': "
        "use a number with a unit, e.g. 500ms, 10s, 1m30s, 2h"
    ]


def test_unknown_configuration_reference():
    found = problems(
        HEADER
        + "configuration: {base: 'http://x'}\n"
        + TARGET
        + "steady_state:\n  - {probe: http, url: '${bsae}/health'}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    # the URL is then invalid too, but that is the same problem
    assert found == ["exp.yaml:7:24: unknown configuration value ${bsae} (defined: base)"]


def test_the_same_unknown_reference_is_reported_where_each_is_written():
    found = problems(
        HEADER
        + "configuration: {base: 'http://x'}\n"
        + TARGET
        + "steady_state:\n  - {probe: http, url: '${bsae}/health'}\n"
        + "  - {probe: http, url: '${bsae}/health'}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == [
        "exp.yaml:7:24: unknown configuration value ${bsae} (defined: base)",
        "exp.yaml:8:24: unknown configuration value ${bsae} (defined: base)",
    ]


def test_missing_env_secret_is_reported_once(monkeypatch):
    monkeypatch.delenv("CHAOSDRILL_TEST_UNSET", raising=False)
    found = problems(
        HEADER
        + "configuration:\n  token: {env: CHAOSDRILL_TEST_UNSET}\n"
        + TARGET
        + "steady_state:\n  - {probe: tcp, host: '${token}', port: 1}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    # the reference to the unresolved value is not reported as unknown too
    assert found == ["exp.yaml:4:16: environment variable CHAOSDRILL_TEST_UNSET is not set"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{file: missing.txt}", "4:17: cannot read secret file 'missing.txt': no such file"),
        ("{file: .}", "4:17: cannot read secret file '.': not a regular file"),
        ("{file: ''}", "4:17: file: expects a non-empty string"),
        ("{vault: x}", "4:10: a configuration mapping must be {env: NAME} or {file: PATH}"),
        ("{env: A, file: B}", "4:10: a configuration mapping must be {env: NAME} or {file: PATH}"),
        ("[1, 2]", "4:10: configuration values must be scalars"),
    ],
)
def test_bad_configuration_values(tmp_path, entry, message):
    found = problems(
        HEADER
        + f"configuration:\n  token: {entry}\n"
        + TARGET
        + "method:\n  - {fault: container.kill, target: web}\n",
        base_dir=tmp_path,
    )
    assert found == [f"exp.yaml:{message}"]


def test_secret_file_that_is_not_text(tmp_path):
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    found = problems(
        HEADER + "configuration: {k: {file: bin}}\n" + TARGET + "method:\n"
        "  - {fault: container.kill, target: web}\n",
        base_dir=tmp_path,
    )
    assert found == ["exp.yaml:3:27: cannot read secret file 'bin': not UTF-8 text"]


def test_invalid_configuration_name():
    found = problems(
        HEADER + "configuration: {'bad name': 1}\n" + TARGET + "method:\n"
        "  - {fault: container.kill, target: web}\n"
    )
    assert found == ["exp.yaml:3:29: invalid configuration name 'bad name'"]


# --- YAML ---------------------------------------------------------------------------------


def test_yaml_syntax_error_stops_with_its_position():
    found = problems("version: 1\ntitle: [unclosed\nmethod: []\n")
    assert len(found) == 1
    assert found[0].startswith("exp.yaml:3:7: YAML syntax: while parsing a flow sequence")


def test_tab_indentation_is_a_syntax_error():
    found = problems("version: 1\ntargets:\n\tweb: {}\n")
    assert found == [
        "exp.yaml:3:1: YAML syntax: while scanning for the next token "
        "found character that cannot start any token (a tab: YAML is indented with spaces)"
    ]


def test_control_character_is_reported_where_it_is():
    found = problems("version: 1\ntitle: ab\x07c\n")
    assert found == [
        "exp.yaml:2:10: YAML syntax: unacceptable character #x0007: "
        "control characters are not allowed"
    ]


def test_control_character_after_multibyte_text_is_located_by_character():
    # the C reader counts UTF-8 bytes; the column must count characters
    found = problems("title: ééé\x07\n")
    assert found[0].startswith("exp.yaml:1:11: YAML syntax: unacceptable character #x0007")


def test_lone_surrogate_in_text():
    found = problems("version: 1\ntitle: a\ud800\n")
    assert found == ["exp.yaml:2:9: invalid character U+D800 (a lone surrogate)"]


def test_duplicate_keys_are_reported_at_the_second_one():
    found = problems(
        HEADER + TARGET + "method:\n  - {fault: container.kill, target: web}\ntitle: again\n"
    )
    assert found == ["exp.yaml:7:1: duplicate key 'title'"]


def test_nested_duplicate_key():
    found = problems(
        HEADER
        + "targets:\n  web:\n    select: {name: a}\n    mode: one\n    mode: all\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == ["exp.yaml:7:5: duplicate key 'mode'"]


def test_merge_keys_are_not_duplicates_and_explicit_keys_win():
    loaded = load(
        HEADER
        + "targets:\n"
        + "  web: &base {select: {name: a}, mode: one, max_targets: 1}\n"
        + "  api:\n"
        + "    <<: *base\n"
        + "    mode: all\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
        + "  - {fault: container.kill, target: api}\n"
    )
    api = loaded.experiment.targets["api"]
    assert api.mode.all is True
    assert api.max_targets == 1
    assert api.select == {"name": "a"}


def test_merged_values_are_resolved_in_order():
    text = (
        HEADER
        + "targets:\n"
        + "  a: &a {select: {name: a}, mode: one, seed: 1}\n"
        + "  b: {<<: [*a, {seed: 2, allow_empty: true}], max_targets: 3}\n"
        + "method:\n  - {fault: container.kill, target: a}\n"
    )
    b = load(text).experiment.targets["b"]
    assert (b.seed, b.allow_empty, b.max_targets, b.mode.count) == (1, True, 3, 1)


def test_bad_merge_value():
    found = problems(HEADER + "targets:\n  web: {<<: 5, select: {name: a}}\n" + "method: []\n")
    assert "exp.yaml:4:13: a merge key (<<) takes a mapping or a list of mappings" in found


def test_recursive_alias():
    found = problems(HEADER + TARGET + "method: &m\n  - *m\n")
    # reported where the anchored list starts: aliases keep no position of their own
    assert "exp.yaml:5:9: recursive YAML alias" in found


def test_recursive_merge():
    found = problems("version: 1\nx: &x {<<: *x}\n")
    assert "exp.yaml:2:4: recursive YAML alias" in found


def test_keys_must_be_scalars():
    found = problems(
        HEADER + "? [a, b]\n: 1\n" + TARGET + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == ["exp.yaml:3:3: keys must be plain scalars"]


@pytest.mark.parametrize(
    ("key", "shown"), [("1", "1"), ("null", "null"), ("true", "true"), ("2020-01-01", "2020-01-01")]
)
def test_keys_must_be_strings(key, shown):
    found = problems(
        HEADER + TARGET + f"method:\n  - {{fault: container.kill, target: web, {key}: x}}\n"
    )
    assert found == [f"exp.yaml:6:42: method[0]: key {shown!r} must be a string: put it in quotes"]


def test_top_level_key_must_be_a_string():
    found = problems(HEADER + TARGET + "method:\n  - {fault: container.kill, target: web}\n1: x\n")
    assert found == ["exp.yaml:7:1: the experiment: key '1' must be a string: put it in quotes"]


def test_deep_nesting_is_refused_before_it_hurts():
    found = problems("version: 1\ntitle: " + "[" * 5000 + "]" * 5000 + "\n")
    assert found == ["exp.yaml:2:71: nested deeper than 64 levels"]


def test_alias_bombs_are_refused():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    found = problems("\n".join(lines) + "\n")
    assert len(found) == 1
    assert "expands to more than 100000 values" in found[0]


def _laughs(leaf: str, levels: int = 3) -> list[str]:
    """A billion-laughs chain: ``l0`` holds ``leaf``, each level ten aliases of the last."""
    lines = [f"l0: &l0 {leaf}"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, levels + 1)]
    return lines


def _refused_quickly(text: str) -> list[str]:
    started = time.monotonic()
    found = problems(text)
    assert time.monotonic() - started < 10
    return found


def test_aliases_of_long_strings_are_refused_by_size():
    # 1,000 uses of a 100,000-character string: few values, 100 million characters
    found = _refused_quickly("\n".join(_laughs("x" * 100_000)) + "\n")
    assert len(found) == 1
    assert found[0].startswith("exp.yaml:")
    assert "expands to more than 16 MiB (16777216 characters) after aliases" in found[0]


def test_references_multiplied_by_aliases_are_refused_before_they_are_built():
    # each use of l0 is 40 characters as written and a million once ${x} is substituted
    lines = [
        "version: 1",
        "title: t",
        "configuration: {x: '" + "y" * 100_000 + "'}",
        "bomb:",
        *("  " + line for line in _laughs("'" + "${x}" * 10 + "'")),
    ]
    found = _refused_quickly("\n".join(lines) + "\n")
    assert len(found) == 1
    # where the string whose expansion crosses the limit is written: the anchored l0
    assert found[0] == (
        "exp.yaml:5:7: the document expands to more than 16 MiB (16777216 characters) "
        "after ${} substitution: look for aliases or ${} references that repeat large parts"
    )


def test_validate_reports_an_alias_bomb_with_exit_code_2(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        "version: 1\ntitle: t\nconfiguration: {x: '"
        + "y" * 100_000
        + "'}\nbomb:\n"
        + "".join("  " + line + "\n" for line in _laughs("'" + "${x}" * 10 + "'"))
    )
    started = time.monotonic()
    done = cli("validate", str(bomb))
    assert time.monotonic() - started < 10
    assert done.returncode == ExitCode.INVALID
    assert done.stderr == ""
    assert done.stdout.startswith(f"{bomb}:5:7: the document expands to more than 16 MiB")


def test_huge_integer():
    found = problems(
        HEADER
        + TARGET
        + "method:\n  - {fault: container.kill, target: web, at: "
        + "9" * 2000
        + "}\n"
    )
    assert "exp.yaml:6:46: integer with more than 1000 digits" in found


def test_several_documents_are_refused():
    found = problems("version: 1\n---\nversion: 1\n")
    assert found == [
        "exp.yaml:2:1: YAML syntax: expected a single document in the stream "
        "but found another document"
    ]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "empty"),
        ("# just a comment\n", "empty"),
        ("\n\n", "empty"),
        ("- version: 1\n", "a list"),
        ("hello\n", "a string"),
        ("42\n", "a number"),
        ("true\n", "a boolean"),
    ],
)
def test_documents_that_are_not_mappings(text, kind):
    found = problems(text)
    assert found == [f"exp.yaml:1:1: an experiment must be a mapping of keys, this file is {kind}"]


def test_non_mapping_after_leading_lines_is_reported_where_it_starts():
    assert problems("# comment\n\n- a\n") == [
        "exp.yaml:3:1: an experiment must be a mapping of keys, this file is a list"
    ]


# --- the format ---------------------------------------------------------------------------

ACCEPTED = (
    "version, title, description, tags, weight, configuration, targets, steady_state, method, "
    "probes, guards, recovery"
)


def test_unknown_top_level_key_with_did_you_mean():
    found = problems(
        HEADER + "desciption: x\n" + TARGET + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == ["exp.yaml:3:1: unknown key 'desciption' (did you mean 'description'?)"]


def test_unknown_key_without_a_close_match_lists_the_accepted_ones():
    found = problems(
        HEADER + "zzz: x\n" + TARGET + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == ["exp.yaml:3:1: unknown key 'zzz'; accepted: " + ACCEPTED]


def test_unknown_nested_keys():
    found = problems(
        HEADER
        + "targets:\n  web: {select: {name: a}, mdoe: one}\n"
        + "recovery: {withn: 5s}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == [
        "exp.yaml:4:28: unknown key 'mdoe' (did you mean 'mode'?)",
        "exp.yaml:5:12: unknown key 'withn' (did you mean 'within'?)",
    ]


def test_unknown_selector_key_names_the_selector():
    found = problems(
        HEADER + "targets:\n  web: {select: {lables: {a: b}}}\n"
        "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == [
        "exp.yaml:4:18: unknown key 'lables' of a container selector (did you mean 'labels'?)"
    ]


def test_missing_required_keys():
    # same position: the order is the model's field order
    assert problems("title: t\n") == [
        "exp.yaml:1:1: the experiment: missing required key 'version'",
        "exp.yaml:1:1: the experiment: missing required key 'method'",
    ]


def test_missing_step_keys():
    found = problems(HEADER + TARGET + "method:\n  - {fault: container.kill}\n")
    assert found == ["exp.yaml:6:5: method[0]: missing required key 'target'"]


METHOD = "method:\n  - {fault: container.kill, target: web}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2\ntitle: t\n" + TARGET + METHOD, "1:10: version: Input should be 1"),
        (
            "version: 1\ntitle: ''\n" + TARGET + METHOD,
            "2:8: title: String should have at least 1 character",
        ),
        (HEADER + "tags: web\n" + TARGET + METHOD, "3:7: tags: Input should be a valid list"),
        (
            HEADER + "targets: {web: 5}\n" + METHOD,
            "3:16: targets.web: Input should be a valid dictionary or instance of TargetSpec",
        ),
        (HEADER + TARGET + "method: {fault: x}\n", "5:9: method: Input should be a valid list"),
        (
            HEADER + TARGET + "method: [5]\n",
            "5:10: method[0]: Input should be a valid dictionary or instance of FaultStep",
        ),
        (
            HEADER + TARGET + "recovery: {within: [1]}\n" + METHOD,
            "5:20: recovery.within: expected a duration such as 10s or 500ms, got list",
        ),
    ],
)
def test_wrong_types(text, message):
    assert problems(text) == [f"exp.yaml:{message}"]


def test_wrong_type_in_target():
    found = problems(
        HEADER
        + "targets:\n  web: {select: {name: a}, max_targets: many, mode: sometimes}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == [
        "exp.yaml:4:41: targets.web.max_targets: Input should be a valid integer, "
        "unable to parse string as an integer",
        "exp.yaml:4:53: targets.web.mode: mode must be all, one, {count: N} or {percent: P}",
    ]


def test_wrong_type_in_a_union_is_one_problem():
    found = problems(
        HEADER
        + TARGET
        + "steady_state:\n  - {probe: http, url: 'http://x', expect: {status: ok}}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == [
        "exp.yaml:6:53: steady_state[0].expect.status: Input should be a valid integer, "
        "unable to parse string as an integer; or input should be a valid list"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "invalid duration 'soon': use a number with a unit, e.g. 500ms, 10s, 1m30s, 2h"),
        ("'10'", "invalid duration '10': use a number with a unit, e.g. 500ms, 10s, 1m30s, 2h"),
        ("-1", "duration must not be negative, got -1"),
        ("true", "expected a duration such as 10s or 500ms, got True"),
        (".nan", "invalid duration nan: use a number with a unit, e.g. 500ms, 10s, 1m30s, 2h"),
        ("9999h", "duration '9999h' is too long: at most 366 days"),
    ],
)
def test_bad_durations(value, message):
    found = problems(
        HEADER + TARGET + f"method:\n  - {{fault: container.kill, target: web, at: {value}}}\n"
    )
    assert found == [f"exp.yaml:6:46: method[0].at: {message}"]


def test_bad_duration_in_plugin_parameters():
    found = problems(
        HEADER + TARGET + "method:\n  - {fault: container.stop, target: web, duration: 1s, "
        "timeout: 1x}\n"
    )
    assert found == [
        "exp.yaml:6:65: method[0].timeout: invalid duration '1x': "
        "use a number with a unit, e.g. 500ms, 10s, 1m30s, 2h"
    ]


@pytest.mark.parametrize("section", ["probes", "guards"])
def test_zero_interval_is_refused_at_the_interval(section):
    found = problems(
        HEADER
        + TARGET
        + f"{section}:\n  - {{probe: tcp, host: h, port: 1, interval: 0s}}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == [
        f"exp.yaml:6:46: {section}[0].interval: must be at least 10ms, got 0s: "
        "a shorter interval polls in a busy loop"
    ]


@pytest.mark.parametrize("section", ["probes", "guards"])
@pytest.mark.parametrize("interval", ["1.0e-300", "9ms", "0.0099"])
def test_an_interval_below_10ms_is_refused(section, interval):
    found = problems(
        HEADER
        + TARGET
        + f"{section}:\n  - {{probe: tcp, host: h, port: 1, interval: {interval}}}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert len(found) == 1
    assert found[0].startswith(f"exp.yaml:6:46: {section}[0].interval: must be at least 10ms, got ")


def test_an_interval_of_10ms_is_accepted():
    loaded = load(
        HEADER
        + TARGET
        + "probes:\n  - {probe: tcp, host: h, port: 1, interval: 10ms}\n"
        + "guards:\n  - {probe: tcp, host: h, port: 1, interval: 0.01}\n"
        + "recovery: {interval: 10ms}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert loaded.experiment.probes[0].interval == pytest.approx(0.01)
    assert loaded.experiment.guards[0].interval == pytest.approx(0.01)
    assert loaded.experiment.recovery.interval == pytest.approx(0.01)


@pytest.mark.parametrize(
    "probe",
    [
        "{probe: http, url: 'http://127.0.0.1/', timeout: 0s}",
        "{probe: tcp, host: h, port: 1, timeout: 0s}",
        "{probe: dns, host: h, container: c, timeout: 0s}",
        "{probe: exec, command: [sh], container: c, timeout: 0s}",
    ],
)
@pytest.mark.parametrize("section", ["steady_state", "probes", "guards"])
def test_a_zero_probe_timeout_is_refused(section, probe):
    found = problems(
        HEADER
        + TARGET
        + f"{section}:\n  - {probe}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    column = len("  - ") + probe.index("0s}") + 1
    assert found == [
        f"exp.yaml:6:{column}: {section}[0].timeout: must be greater than 0, got 0s: "
        "a zero timeout fails every sample (e.g. 500ms, 2s)"
    ]


def test_zero_recovery_interval_is_refused():
    found = problems(
        HEADER
        + TARGET
        + "recovery: {interval: 0}\nmethod:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == [
        "exp.yaml:5:22: recovery.interval: must be at least 10ms, got 0s: "
        "a shorter interval polls in a busy loop"
    ]
    found = problems(
        HEADER
        + TARGET
        + "recovery: {interval: 1.0e-300}\nmethod:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == [
        "exp.yaml:5:22: recovery.interval: must be at least 10ms, got 1e-300s: "
        "a shorter interval polls in a busy loop"
    ]


def test_percentages_in_tolerances():
    loaded = load(
        HEADER
        + TARGET
        + "probes:\n  - {probe: tcp, host: h, port: 1, tolerance: {min_availability: 95%}}\n"
        + "  - {probe: tcp, host: h, port: 1, tolerance: {min_availability: 0.5}}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert loaded.experiment.probes[0].tolerance.min_availability == pytest.approx(0.95)
    assert loaded.experiment.probes[1].tolerance.min_availability == 0.5
    found = problems(
        HEADER
        + TARGET
        + "probes:\n  - {probe: tcp, host: h, port: 1, tolerance: {min_availability: lots%}}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == [
        "exp.yaml:6:66: probes[0].tolerance.min_availability: invalid percentage 'lots%'"
    ]


# --- the plugin pass ----------------------------------------------------------------------


def test_unknown_fault_with_did_you_mean():
    found = problems(HEADER + TARGET + "method:\n  - {fault: container.kil, target: web}\n")
    assert found == [
        "exp.yaml:6:13: unknown fault 'container.kil' (did you mean 'container.kill'?)"
    ]


def test_unknown_fault_without_a_close_match():
    found = problems(HEADER + TARGET + "method:\n  - {fault: zzz, target: web}\n")
    assert found == ["exp.yaml:6:13: unknown fault 'zzz'"]


def test_unknown_probe_with_did_you_mean():
    found = problems(
        HEADER
        + TARGET
        + "guards:\n  - {probe: tpc, host: h, port: 1}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == ["exp.yaml:6:13: unknown probe 'tpc' (did you mean 'tcp'?)"]


def test_parameter_a_fault_does_not_take():
    found = problems(
        HEADER + TARGET + "method:\n  - {fault: container.kill, target: web, sigal: SIGTERM}\n"
    )
    assert found == [
        "exp.yaml:6:42: 'sigal' is not a parameter of fault container.kill "
        "(did you mean 'signal'?); it takes: signal"
    ]


def test_misspelt_step_key_suggests_the_step_key():
    found = problems(
        HEADER + TARGET + "method:\n  - {fault: container.stop, target: web, duraton: 5s}\n"
    )
    assert found == [
        "exp.yaml:6:5: fault container.stop is reversible and needs a duration",
        "exp.yaml:6:42: 'duraton' is not a parameter of fault container.stop "
        "(did you mean 'duration'?); it takes: timeout",
    ]


def test_fault_without_parameters():
    found = problems(
        HEADER + TARGET + "method:\n  - {fault: container.pause, target: web, duration: 1s, x: 1}\n"
    )
    assert found == [
        "exp.yaml:6:57: 'x' is not a parameter of fault container.pause; it takes: no parameters"
    ]


def test_parameter_a_probe_does_not_take_and_missing_parameter():
    found = problems(
        HEADER
        + TARGET
        + "steady_state:\n  - {probe: http, urll: 'http://x'}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found[0] == "exp.yaml:6:5: steady_state[0]: missing required key 'url'"
    assert found[1].startswith(
        "exp.yaml:6:19: 'urll' is not a parameter of probe http (did you mean 'url'?); "
        "it takes: url, method,"
    )
    assert len(found) == 2


def test_bad_parameter_value():
    found = problems(
        HEADER
        + TARGET
        + "steady_state:\n  - {probe: tcp, host: h, port: 70000}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == [
        "exp.yaml:6:33: steady_state[0].port: Input should be less than or equal to 65535"
    ]


def test_undefined_target_with_did_you_mean():
    found = problems(HEADER + TARGET + "method:\n  - {fault: container.kill, target: wbe}\n")
    assert found == [
        "exp.yaml:6:37: target 'wbe' is not defined (did you mean 'web'?); defined: web"
    ]


def test_undefined_target_without_targets():
    found = problems(HEADER + "method:\n  - {fault: container.kill, target: web}\n")
    assert found == ["exp.yaml:4:37: target 'web' is not defined; defined: none"]


def test_undefined_target_of_a_probe():
    found = problems(
        HEADER
        + TARGET
        + "steady_state:\n  - {probe: container.health, target: api}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == ["exp.yaml:6:39: target 'api' is not defined; defined: web"]


def test_probe_that_takes_no_target():
    found = problems(
        HEADER
        + TARGET
        + "steady_state:\n  - {probe: tcp, host: h, port: 1, target: web}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == ["exp.yaml:6:36: probe tcp does not take a target"]


def test_reversible_fault_needs_a_duration():
    found = problems(HEADER + TARGET + "method:\n  - {fault: container.pause, target: web}\n")
    assert found == ["exp.yaml:6:5: fault container.pause is reversible and needs a duration"]


def test_unknown_target_kind():
    found = problems(
        HEADER
        + "targets:\n  web: {kind: contianer, select: {name: a}}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == [
        "exp.yaml:4:15: unknown target kind 'contianer' (did you mean 'container'?); known: container, node, service, swarm"
    ]


def test_empty_selector_is_refused():
    found = problems(
        HEADER
        + "targets:\n  web: {mode: one}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == [
        "exp.yaml:4:8: target 'web' needs a select: an empty selector would match everything"
    ]


def test_bad_selector_value():
    found = problems(
        HEADER
        + "targets:\n  web: {select: {name_regex: '(('}}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert len(found) == 1
    assert found[0].startswith(
        "exp.yaml:4:30: targets.web.select.name_regex: invalid regular expression (RE2 syntax): "
        "missing ): (("
    )


def test_duplicate_step_names():
    found = problems(
        HEADER
        + TARGET
        + "method:\n  - {name: a, fault: container.kill, target: web}\n"
        + "  - {name: a, fault: container.kill, target: web, at: 1s}\n"
    )
    assert found == ["exp.yaml:7:12: duplicate method step name 'a'"]


# --- every problem in one run -------------------------------------------------------------


def test_model_and_plugin_problems_are_reported_together():
    found = problems(
        HEADER
        + "titel: x\n"  # 3: model
        + "targets:\n"  # 4
        + "  web: {select: {labels: {a: b}}, mode: sometimes}\n"  # 5: model (web stays defined)
        + "method:\n"  # 6
        + "  - {fault: container.kil, target: web}\n"  # 7: plugin
        + "  - {fault: container.stop, target: wbe, signal: 9}\n"  # 8: plugin x3
        + "  - {fault: container.paus, target: web, at: soon}\n"  # 9: model + fault name
        + "steady_state:\n"  # 10
        + "  - {probe: htp, url: x}\n"  # 11: plugin
        + "  - {probe: http, urll: 'http://x'}\n"  # 12: plugin x2
    )
    assert found == [
        "exp.yaml:3:1: unknown key 'titel' (did you mean 'title'?)",
        "exp.yaml:5:41: targets.web.mode: mode must be all, one, {count: N} or {percent: P}",
        "exp.yaml:7:13: unknown fault 'container.kil' (did you mean 'container.kill'?)",
        "exp.yaml:8:5: fault container.stop is reversible and needs a duration",
        "exp.yaml:8:37: target 'wbe' is not defined (did you mean 'web'?); defined: web",
        "exp.yaml:8:42: 'signal' is not a parameter of fault container.stop; it takes: timeout",
        "exp.yaml:9:13: unknown fault 'container.paus' (did you mean 'container.pause'?)",
        "exp.yaml:9:46: method[2].at: invalid duration 'soon': "
        "use a number with a unit, e.g. 500ms, 10s, 1m30s, 2h",
        "exp.yaml:11:13: unknown probe 'htp' (did you mean 'http'?)",
        "exp.yaml:12:5: steady_state[1]: missing required key 'url'",
        "exp.yaml:12:19: 'urll' is not a parameter of probe http (did you mean 'url'?); "
        "it takes: url, method, headers, body, expect, timeout, verify_tls, max_latency, from",
    ]


def test_plugin_checks_run_when_a_whole_section_is_missing():
    assert problems("version: 1\nsteady_state:\n  - {probe: htp}\n") == [
        "exp.yaml:1:1: the experiment: missing required key 'title'",
        "exp.yaml:1:1: the experiment: missing required key 'method'",
        "exp.yaml:3:13: unknown probe 'htp' (did you mean 'http'?)",
    ]


def test_steps_naming_a_broken_target_are_not_told_it_is_undefined():
    found = problems(
        HEADER
        + "targets:\n  web: {select: {name: a}, mode: sometimes}\n"
        + "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert found == [
        "exp.yaml:4:34: targets.web.mode: mode must be all, one, {count: N} or {percent: P}"
    ]


def test_reference_checks_are_off_when_targets_itself_is_broken():
    found = problems(HEADER + "targets: [web]\nmethod:\n  - {fault: container.kill, target: web}\n")
    assert found == ["exp.yaml:3:10: targets: Input should be a valid dictionary"]


def test_problems_are_sorted_and_unique():
    found = problems(
        HEADER
        + TARGET
        + "method:\n"
        + "  - {fault: container.kill, target: nope}\n"
        + "  - {fault: container.kill, target: nope, at: 1s}\n"
        + "title: again\n"
        + "version: 1\n"
    )
    positions = [tuple(int(n) for n in p.split(":")[1:3]) for p in found]
    assert positions == sorted(positions)
    assert len(found) == len(set(found)) == 4


def test_an_availability_written_as_a_percentage_number_says_what_to_write():
    found = problems(
        HEADER
        + TARGET
        + "method:\n  - {fault: container.kill, target: web}\n"
        + "probes:\n  - {name: p, probe: tcp, host: 127.0.0.1, port: 1,"
        + " tolerance: {min_availability: 98}}\n"
    )
    assert found == [
        "exp.yaml:8:83: probes[0].tolerance.min_availability: 98 is more than 1: "
        "write a fraction (0.98) or a percentage (98%)"
    ]
    loaded = load(
        HEADER
        + TARGET
        + "method:\n  - {fault: container.kill, target: web}\n"
        + "probes:\n  - {name: p, probe: tcp, host: 127.0.0.1, port: 1,"
        + " tolerance: {min_availability: 98%}}\n"
    )
    assert loaded.experiment.probes[0].tolerance.min_availability == pytest.approx(0.98)
