"""The console's lines for the method's action and probe steps."""

from __future__ import annotations

import io

from chaos.cli.console import PlainConsole
from chaos.engine.events import ActionRan, ProbeSampled


def lines(*events: object) -> list[str]:
    out = io.StringIO()
    console = PlainConsole(out)
    for event in events:
        console(event)  # type: ignore[arg-type]
    return out.getvalue().splitlines()


def test_each_action_and_probe_step_gets_a_line():
    assert lines(
        ActionRan(0.5, "canary", "exec", "redis-1", True, "redis-1: exit 0"),
        ActionRan(1.0, "kick", "http", "POST http://127.0.0.1:1/", False, "status 503\x1b[2J"),
        ProbeSampled(4.0, "method", "kept", True, 0.1, "redis-1: exit 0"),
        ProbeSampled(5.0, "method", "kept-2", False, 0.1, "redis-1: exit 1"),
    ) == [
        "[   0.50s] action canary (exec) -> redis-1: ok (redis-1: exit 0)",
        "[   1.00s] action kick (http) -> POST http://127.0.0.1:1/: FAILED (status 503\\x1b[2J)",
        "[   4.00s] check kept: ok (redis-1: exit 0)",
        "[   5.00s] check kept-2: FAIL (redis-1: exit 1)",
    ]
