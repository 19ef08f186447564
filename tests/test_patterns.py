"""User regular expressions: RE2 only, linear time, refused early when RE2 cannot run them.

``(a+)+$`` against ``"a" * 40 + "!"`` takes Python's backtracking engine
about 2**40 steps; every matching site must answer it at once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from chaos import patterns
from chaos.engine.clock import RunClock
from chaos.engine.sampling import BoundProbe
from chaos.errors import InvalidExperiment
from chaos.experiment.loader import load_text
from chaos.targets.container import ContainerKind, ContainerSelector
from chaos.targets.swarm import _matches
from probes.exec import ExecParams, ExecProbe
from probes.http import HttpParams, HttpProbe, judge
from tests.http_stub import answering, serving

EVIL = "(a+)+$"
TEXT = "a" * 40 + "!"
QUICK = 2.0
"""Seconds: a linear-time match of 41 characters takes microseconds."""


class Timer:
    def __enter__(self) -> Timer:
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.monotonic() - self.started


def test_catastrophic_pattern_is_linear_in_the_helpers():
    with Timer() as timer:
        assert not patterns.search(EVIL, TEXT)
        assert not patterns.fullmatch("(a+)+", TEXT)
        assert patterns.search(EVIL, "a" * 40)
    assert timer.elapsed < QUICK


def test_dollar_matches_before_a_final_newline_as_in_python():
    assert patterns.search("^ok$", "ok\n")
    assert not patterns.search("^ok$", "ok\n\n")
    assert patterns.search("ok\n", "ok\n")
    assert not patterns.fullmatch("web", "web\n")


def test_swarm_selectors_match_names_in_linear_time():
    with Timer() as timer:
        assert not _matches(TEXT, None, "(a+)+")
        assert _matches("a" * 40, None, "(a+)+")
    assert timer.elapsed < QUICK


def test_container_selector_matches_names_in_linear_time():
    """Through ContainerTargets.candidates; only the engine's container list is faked."""
    listed = [
        {"Id": "1" * 64, "Names": [f"/{TEXT}"], "Labels": {}, "Image": "x"},
        {"Id": "2" * 64, "Names": ["/" + "a" * 40], "Labels": {}, "Image": "x"},
    ]
    api = SimpleNamespace(containers=lambda **_: listed)
    runtime: Any = SimpleNamespace(docker=SimpleNamespace(api=api))
    selector = ContainerSelector.model_validate({"name_regex": "(a+)+"})
    with Timer() as timer:
        found = ContainerKind().candidates(runtime, selector)
    assert timer.elapsed < QUICK
    assert [ref.name for ref in found] == ["a" * 40]


@pytest.mark.docker
def test_container_selector_on_the_engine_matches_in_linear_time(containers, runtime):
    suffix = uuid.uuid4().hex[:12]
    web = containers.run("busybox", name="a" * 36 + "-" + suffix, command=["sleep", "60"])
    kind = ContainerKind()
    with Timer() as timer:
        never = kind.candidates(runtime, ContainerSelector.model_validate({"name_regex": "(a+)+"}))
        found = kind.candidates(
            runtime, ContainerSelector.model_validate({"name_regex": f"(a+)+-{suffix}"})
        )
    assert timer.elapsed < 10
    assert web.name not in [ref.name for ref in never]
    assert [ref.name for ref in found] == [web.name]


@pytest.fixture
def evil_server() -> Iterator[str]:
    with serving(answering(TEXT.encode())) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}/"


def test_http_body_regex_is_matched_in_linear_time(evil_server):
    params = HttpParams.model_validate({"url": evil_server, "expect": {"body_regex": EVIL}})
    bound = BoundProbe("probes", "evil", HttpProbe(), params)
    runtime: Any = SimpleNamespace(redactor=SimpleNamespace(text=lambda t: t))
    with Timer() as timer:
        sample = bound.sample(runtime, RunClock())
    assert timer.elapsed < QUICK
    assert not sample.ok
    assert "body does not match" in sample.detail
    # the same judgement for a body curl brought back from a container (`from:`)
    with Timer() as timer:
        assert not judge(params, 200, TEXT, 0.01).ok
    assert timer.elapsed < QUICK


@pytest.mark.docker
def test_exec_stdout_regex_is_matched_in_linear_time(containers, runtime):
    web = containers.run()
    params = ExecParams.model_validate(
        {"command": ["echo", TEXT], "container": web.name, "expect": {"stdout_regex": EVIL}}
    )
    with Timer() as timer:
        result = ExecProbe().check(runtime, params, ())
    assert timer.elapsed < 10
    assert not result.ok
    assert "output does not match" in result.detail


HEADER = "version: 1\ntitle: t\n"
STEPS = "method:\n  - {fault: container.kill, target: web}\n"


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        (r"(ab)\1", "backreferences are not supported"),
        ("(?P<x>a)(?P=x)", "backreferences are not supported"),
        ("foo(?=bar)", "lookahead and lookbehind are not supported"),
        ("(?<!x)y", "lookahead and lookbehind are not supported"),
        (r"end\Z", r"write \z (or $) for the end of the text"),
        ("a{1001}", "a repetition count is at most 1000"),
    ],
)
def test_patterns_re2_cannot_run_are_refused_with_what_to_write(pattern, says):
    text = HEADER + f"targets:\n  web: {{select: {{name_regex: '{pattern}'}}}}\n" + STEPS
    with pytest.raises(InvalidExperiment) as raised:
        load_text(text, "exp.yaml")
    (problem,) = raised.value.problems
    assert str(problem).startswith(
        "exp.yaml:4:30: targets.web.select.name_regex: invalid regular expression (RE2 syntax): "
    )
    assert says in problem.message


@pytest.mark.parametrize(
    "step",
    [
        "{probe: http, url: 'http://127.0.0.1/', expect: {body_regex: 'a(?=b)'}}",
        "{probe: exec, command: [sh], container: c, expect: {stdout_regex: '(a)\\1'}}",
    ],
)
def test_probe_patterns_are_checked_by_re2_at_validation(step):
    text = HEADER + "targets:\n  web: {select: {name: w}}\n" + f"probes:\n  - {step}\n" + STEPS
    with pytest.raises(InvalidExperiment) as raised:
        load_text(text, "exp.yaml")
    (problem,) = raised.value.problems
    assert problem.line == 6
    assert "invalid regular expression (RE2 syntax)" in problem.message
    assert "not supported (RE2 matches in linear time)" in problem.message
