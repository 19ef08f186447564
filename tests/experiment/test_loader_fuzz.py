"""Fuzzing the loader: whatever the text, it loads or says where it is wrong.

Inputs are random text and, more usefully, the shipped experiments mutated
line by line and character by character, with YAML's sharper edges mixed in
(tabs, anchors and recursive aliases, merge keys, tags, deep nesting, huge
numbers, control characters). The loader must then either return an
experiment or raise :class:`InvalidExperiment` whose every problem is one
``FILE:LINE:COL: message`` line pointing into the file; any other exception
is a bug.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.errors import InvalidExperiment
from chaos.experiment.loader import LoadedExperiment, load_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [p.read_text() for p in sorted((ROOT / "experiments").glob("*.yaml"))]
BASE_DIR = Path(tempfile.gettempdir())
FILENAME = "fuzz.yaml"
RENDERED = re.compile(r"fuzz\.yaml:(\d+):(\d+): (.+)")

ALIAS_BOMB = "\n".join(
    ["b0: &b0 [x, x, x, x, x, x, x, x, x, x]"]
    + [f"b{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * 10) + "]" for i in range(1, 9)]
)

FRAGMENTS = [
    # structure
    "\t",
    "  ",
    "- ",
    ": ",
    "{",
    "}",
    "[",
    "]",
    "? ",
    "---",
    "...",
    "'",
    '"',
    "#",
    "|",
    ">-",
    "%YAML 1.1",
    "!!binary",
    "!!python/object/apply:os.system ['true']",
    "!!int x",
    "!!map x",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!custom {a: 1}",
    "=: 1",
    # values YAML resolves into something other than a string
    "~",
    "null",
    "yes",
    "2020-01-01",
    "2020-13-45 25:61:61",
    "0x1F",
    "0o17",
    "1_000",
    ".nan",
    "-.inf",
    "1e400",
    "9" * 60,
    "9" * 5000,
    "-" + "9" * 400 + "h",
    # anchors, aliases and merges
    "&a",
    "*a",
    "*undefined",
    "<<: *a",
    "a: &a [*a]",
    "r: &r {<<: *r}",
    "s: &s {x: &t {<<: *s}}",
    "m: &m {k: 1}\nn: {<<: [*m, *m], k: 2}",
    ALIAS_BOMB,
    # nesting
    "[" * 200 + "]" * 200,
    "{a: " * 70 + "1" + "}" * 70,
    "- " * 100 + "x",
    # references and secrets
    "${",
    "${}",
    "$${x}",
    "${base_url}",
    "${api_url}",
    "${nope}",
    "configuration: {s: {env: HOME}}",
    "configuration: {s: {file: /dev/zero}}",
    "configuration: {s: {file: '/'}}",
    'configuration: {s: {file: "a\\0b"}}',
    "configuration: {s: {file: '~nosuchuser/x'}}",
    "configuration: [1]",
    "configuration: {1: 2, 'a b': 3, c: [1], d: {env: 1}}",
    # plugin-level edge cases
    "fault: container.pause",
    "fault: container.kil",
    "probe: exec",
    "probe: htp",
    "command: []",
    "expect: {status: [200, x]}",
    "url: 'http://[::1'",
    "url: 'http://%zz'",
    "name_regex: '(((((('",
    "name_regex: 'a{99999999999}'",
    "name_regex: '" + "(" * 1200 + ")" * 1200 + "'",
    "stdout_regex: '[z-a]'",
    "mode: {percent: 1e308}",
    "mode: {count: 99999999999999999999999}",
    "mode: {all: true}",
    "max_percent: .nan",
    "interval: 0",
    "duration: 1e400",
    "at: -1s",
    "tolerance: {min_availability: 'nan%'}",
    "kind: swarm",
    "target: nowhere",
    # characters
    "\x00",
    "\x07",
    "\x85",
    "\u2028",
    "\ufeff",
    "\r",
    "\r\n",
    "é€😀",
    "\U0010ffff",
]

_fragment = st.sampled_from(FRAGMENTS) | st.text(max_size=20)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A shipped example with one to four mutations applied."""
    text = draw(st.sampled_from(EXAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        lines = text.split("\n")
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(lines) - 1))
        how = draw(
            st.sampled_from(
                ["delete", "duplicate", "swap", "char", "insert-line", "insert-inline", "indent"]
            )
        )
        if how == "delete":
            del lines[i]
        elif how == "duplicate":
            lines.insert(j, lines[i])
        elif how == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif how == "char" and lines[i]:
            col = draw(st.integers(0, len(lines[i]) - 1))
            char = draw(st.characters(codec="utf-8") | st.sampled_from(":-{}[]&*!|>'\"#\t "))
            lines[i] = lines[i][:col] + char + lines[i][col + 1 :]
        elif how == "insert-line":
            indent = " " * draw(st.integers(0, 6))
            lines.insert(i, indent + draw(_fragment))
        elif how == "insert-inline":
            col = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:col] + draw(_fragment) + lines[i][col:]
        else:
            lines[i] = draw(st.sampled_from(["\t", " ", "  ", "    "])) + lines[i]
        text = "\n".join(lines)
    return text


@st.composite
def assembled(draw: st.DrawFn) -> str:
    """Lines made only of fragments: YAML-shaped noise."""
    parts = draw(st.lists(_fragment, min_size=1, max_size=8))
    joiners = draw(st.lists(st.sampled_from(["\n", " ", "\n  ", ": ", ""]), min_size=len(parts)))
    return "".join(p + j for p, j in zip(parts, joiners[: len(parts)], strict=True))


def assert_loads_or_locates(text: str) -> None:
    try:
        loaded = load_text(text, FILENAME, base_dir=BASE_DIR)
    except InvalidExperiment as exc:
        assert exc.problems, "an InvalidExperiment must name at least one problem"
        last_line = len(text.splitlines()) + 1
        for problem in exc.problems:
            rendered = str(problem)
            assert len(rendered.splitlines()) == 1, rendered
            match = RENDERED.fullmatch(rendered)
            assert match, rendered
            assert 1 <= problem.line <= last_line, (rendered, last_line)
            assert problem.column >= 1, rendered
            assert problem.message.strip(), rendered
        positions = [(p.line, p.column) for p in exc.problems]
        assert positions == sorted(positions)
        assert len(set(exc.problems)) == len(exc.problems), "problems must not repeat"
    else:
        assert isinstance(loaded, LoadedExperiment)
        assert loaded.experiment.method


FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(FUZZ, max_examples=150)
@given(mutated())
def test_mutated_examples(text):
    assert_loads_or_locates(text)


@FUZZ
@given(assembled())
def test_assembled_fragments(text):
    assert_loads_or_locates(text)


@settings(FUZZ, max_examples=50)
@given(st.text(max_size=300))
def test_random_text(text):
    assert_loads_or_locates(text)


def test_every_fragment_in_every_position_of_an_example():
    """Deterministic sweep: each fragment inserted on its own line and inline."""
    base = EXAMPLES[0].split("\n")
    for n, fragment in enumerate(FRAGMENTS):
        at = n % len(base)
        as_line = [*base[:at], fragment, *base[at:]]
        inline = [*base[:at], base[at] + fragment, *base[at + 1 :]]
        assert_loads_or_locates("\n".join(as_line))
        assert_loads_or_locates("\n".join(inline))
        assert_loads_or_locates(fragment)
