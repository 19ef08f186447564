"""Library errors name the library's arguments; the CLI words them as its options."""

from __future__ import annotations

import pytest

from chaos import api
from chaos.errors import InvalidArgument, UsageError
from chaos.exitcodes import ExitCode
from chaos.lab import lab
from tests.conftest import cli


def test_an_invalid_argument_is_a_usage_error_naming_the_keyword():
    exc = InvalidArgument("fail_under", "must be between 0 and 100, not 101")
    assert isinstance(exc, UsageError) and exc.exit_code == ExitCode.INVALID
    assert str(exc) == "fail_under must be between 0 and 100, not 101"


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: api.suite(["experiments"], jobs=0), "jobs"),
        (lambda: api.suite(["experiments"], fail_under=101), "fail_under"),
        (lambda: lab.up("x", managers=0), "managers"),
        (lambda: lab.up("x", workers=-1), "workers"),
    ],
)
def test_library_calls_name_their_arguments_not_command_line_options(call, argument):
    with pytest.raises(InvalidArgument) as raised:
        call()
    assert raised.value.argument == argument
    assert str(raised.value).startswith(f"{argument} must be ")
    assert "--" not in str(raised.value)


def test_the_cli_names_its_own_option():
    """(``lab up --managers 0`` is checked the same way in tests/lab/test_lab.py.)"""
    done = cli("suite", "experiments", "--fail-under", "101")
    assert (done.returncode, done.stderr.strip()) == (
        ExitCode.INVALID,
        "chaosdrill: --fail-under must be between 0 and 100, not 101",
    )


def test_a_missing_lab_is_named_and_the_cli_says_how_to_start_it(tmp_path, monkeypatch):
    from chaos.errors import NoLab

    monkeypatch.setenv("CHAOSDRILL_LAB_DIR", str(tmp_path))
    with pytest.raises(NoLab) as raised:
        api.inventory(lab="nosuchlab")
    assert raised.value.name == "nosuchlab" and "--" not in str(raised.value)
    done = cli(
        "run", "--dry-run", "experiments/web-survives-crash.yaml", "--lab", "nosuchlab",
        env={"CHAOSDRILL_LAB_DIR": str(tmp_path)},
    )  # fmt: skip
    assert (done.returncode, done.stderr.strip()) == (
        ExitCode.INVALID,
        "chaosdrill: no lab named nosuchlab; start one with `chaosdrill lab up --name nosuchlab`",
    )
