"""Faults and probes from code (``api.fault``, ``api.session``, ``api.wait_until``).

Each fault is observed from outside, on real containers: in effect inside the
block, reverted after it however the block ends, with its ledger entry
closed and its watchdog gone.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest

from chaos import api
from chaos.engine.session import FaultExpired, ProbeTimeout
from chaos.errors import InjectionFailed, InvalidExperiment, TargetError, UsageError
from chaos.experiment.loader import load_text
from chaos.ledger import Ledger
from tests.conftest import free_port, host_port, wait_for
from tests.faults.test_network import fetch, on


def paused(container: Any) -> bool:
    container.reload()
    return bool(container.attrs["State"]["Paused"])


def watchdogs(docker_client: Any, container: Any) -> list[Any]:
    return docker_client.containers.list(
        all=True, filters={"label": f"chaosdrill.target={container.id}"}
    )


@pytest.fixture
def group() -> str:
    return f"g{uuid.uuid4().hex[:10]}"


def target(group: str, **extra: Any) -> dict[str, Any]:
    return {"select": {"labels": {"grp": group}}, **extra}


# -- validation: no engine needed ------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: api.fault("container.paus", target={"select": {"name": "w"}}, duration="1s"),
            "unknown fault 'container.paus' (did you mean 'container.pause'?)",
        ),
        (
            lambda: api.fault("container.pause", target={"select": {"name": "w"}}),
            "fault container.pause is reversible and needs a duration",
        ),
        (
            lambda: api.fault("container.pause", {"select": {"name": "w"}}, "1s", force=True),
            "'force' is not a parameter of fault container.pause; it takes: no parameters",
        ),
        (
            lambda: api.fault("container.stop", {"select": {"name": "w"}}, "1s", timeout="soon"),
            "fault container.stop: parameter timeout: invalid duration 'soon'",
        ),
        (
            lambda: api.fault("container.kill", {"select": {"name": "w"}}, signal="SIGNOPE"),
            "fault container.kill: parameter signal: unknown signal 'SIGNOPE'",
        ),
        (
            lambda: api.fault("container.pause", {"select": {"nmae": "w"}}, "1s"),
            "unknown key 'nmae' of a container selector (did you mean 'name'?)",
        ),
        (
            lambda: api.fault("container.pause", {"select": {}}, "1s"),
            "target 'container.pause' needs a select: an empty selector would match everything",
        ),
        (
            lambda: api.fault("container.pause", {"select": {"name": "w"}, "mode": "two"}, "1s"),
            "fault container.pause: target.mode: mode must be all, one",
        ),
        (
            lambda: api.fault("container.pause", "web", "1s"),
            "fault container.pause: target must be a mapping like {'select': {'name': 'web'}}",
        ),
        (
            lambda: api.fault("node.drain", {"select": {"name": "w"}}, "1s"),
            "fault node.drain acts on node, but target 'node.drain' is a container",
        ),
        (
            lambda: api.fault("network.partition", {"select": {"name": "w"}}, "1s", from_=["db"]),
            "target 'db' is not defined; defined: network.partition",
        ),
        (
            lambda: api.wait_until("htp", url="http://127.0.0.1:1/"),
            "unknown probe 'htp' (did you mean 'http'?)",
        ),
        (
            lambda: api.wait_until("tcp", host="127.0.0.1"),
            "probe tcp: missing required key 'port'",
        ),
        (
            lambda: api.wait_until("tcp", target={"select": {"name": "w"}}, host="h", port=1),
            "probe tcp does not take a target",
        ),
        (
            lambda: api.wait_until("tcp", interval=1e-300, host="h", port=1),
            "probe tcp: interval: must be at least 10ms, got 1e-300s",
        ),
        (
            lambda: api.wait_until("tcp", interval="5ms", host="h", port=1),
            "probe tcp: interval: must be at least 10ms, got 0.005s",
        ),
        (
            lambda: api.wait_until("http", url="http://127.0.0.1:1/", timeout=0),
            "probe http: parameter timeout: must be greater than 0, got 0s",
        ),
    ],
)
def test_invalid_use_is_a_usage_error_naming_the_fault_and_parameter(call, message):
    with pytest.raises(UsageError) as raised:
        call()
    assert message in str(raised.value)


W = {"select": {"name": "w"}}


@pytest.mark.parametrize(
    ("call", "targets", "step"),
    [
        (
            lambda: api.fault("container.pasue", W, "1s", name="web"),
            "web: {select: {name: w}}",
            "{name: web, fault: container.pasue, target: web, duration: 1s}",
        ),
        (
            lambda: api.fault("container.kill", W, name="web", sigal="SIGTERM"),
            "web: {select: {name: w}}",
            "{name: web, fault: container.kill, target: web, sigal: SIGTERM}",
        ),
        (
            lambda: api.fault("container.stop", W, name="web", duraton="5s"),
            "web: {select: {name: w}}",
            "{name: web, fault: container.stop, target: web, duraton: 5s}",
        ),
        (
            lambda: api.fault("node.drain", W, "1s", name="web"),
            "web: {select: {name: w}}",
            "{name: web, fault: node.drain, target: web, duration: 1s}",
        ),
        (
            lambda: api.fault("container.pause", {"select": {"nmae": "w"}}, "1s", name="web"),
            "web: {select: {nmae: w}}",
            "{name: web, fault: container.pause, target: web, duration: 1s}",
        ),
        (
            lambda: api.fault("container.pause", {"select": {"name": ""}}, "1s", name="web"),
            "web: {select: {name: ''}}",
            "{name: web, fault: container.pause, target: web, duration: 1s}",
        ),
        (
            lambda: api.fault("network.partition", W, "1s", name="web", from_=["db"]),
            "web: {select: {name: w}}",
            "{name: web, fault: network.partition, target: web, from: [db], duration: 1s}",
        ),
    ],
    ids=[
        "unknown-fault",
        "not-a-parameter",
        "misspelt-step-key",
        "target-kind",
        "selector-key",
        "empty-criterion",
        "undefined-peer",
    ],
)
def test_a_bad_fault_step_reads_the_same_in_code_and_in_a_file(call, targets, step):
    """One validation of a fault step: a call says what the file says, without
    ``FILE:LINE:COL``."""
    with pytest.raises(InvalidExperiment) as in_file:
        load_text(f"version: 1\ntitle: t\ntargets:\n  {targets}\nmethod:\n  - {step}\n", "x.yaml")
    with pytest.raises(UsageError) as in_code:
        call()
    assert str(in_code.value) == "; ".join(p.message for p in in_file.value.problems)


def test_a_bad_value_reads_the_same_in_code_and_in_a_file_but_for_where_it_is():
    with pytest.raises(InvalidExperiment) as in_file:
        load_text(
            "version: 1\ntitle: t\ntargets:\n  web: {select: {name: w}}\nmethod:\n"
            "  - {fault: container.stop, target: web, duration: 1s, timeout: soon}\n",
            "x.yaml",
        )
    with pytest.raises(UsageError) as in_code:
        api.fault("container.stop", W, "1s", timeout="soon")
    (problem,) = in_file.value.problems
    said = problem.message.removeprefix("method[0].timeout: ")
    assert said != problem.message and said.startswith("invalid duration 'soon'")
    assert str(in_code.value) == f"fault container.stop: parameter timeout: {said}"


def test_wait_until_timeout_says_which_probe_and_what_it_last_saw():
    port = free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(ProbeTimeout) as raised:
        api.wait_until("tcp", within="400ms", interval="80ms", host="127.0.0.1", port=port)
    assert 0.4 <= time.monotonic() - started < 2.4
    message = str(raised.value)
    assert message.startswith(f"probe tcp (host=127.0.0.1, port={port}) did not pass within 400ms")
    assert message.endswith("last: connection refused")
    assert isinstance(raised.value, TimeoutError)
    assert raised.value.last.ok is False and raised.value.samples >= 5


# -- against the engine -------------------------------------------------------------------


@pytest.mark.docker
def test_pause_is_in_effect_in_the_block_and_reverted_after(
    containers, docker_client, state_dir, group
):
    web = containers.run("busybox", command=["sleep", "300"], labels={"grp": group})
    with api.fault("container.pause", target=target(group), duration="20s") as injected:
        assert paused(web)
        assert [t.id for t in injected.targets] == [web.id]
        assert injected.outcomes == ("injected",) and injected.active
        assert injected.state == {}
        (entry,) = Ledger(state_dir).open_entries()
        assert entry.fault == "container.pause" and entry.target["id"] == web.id
        assert entry.revert_at is not None and entry.watchdog == injected.records[0].watchdog
        assert [w.id for w in watchdogs(docker_client, web)] == [entry.watchdog]
    assert not paused(web)
    assert injected.outcomes == ("reverted",) and not injected.active and not injected.expired
    assert Ledger(state_dir).open_entries() == []
    assert watchdogs(docker_client, web) == []


@pytest.mark.docker
@pytest.mark.parametrize("exc", [RuntimeError("the block failed"), KeyboardInterrupt()])
def test_the_fault_is_reverted_when_the_block_raises(containers, state_dir, group, exc):
    web = containers.run("busybox", command=["sleep", "300"], labels={"grp": group})
    with pytest.raises(type(exc)), api.fault("container.pause", target(group), "20s") as injected:
        assert paused(web)
        raise exc
    assert not paused(web)
    assert injected.outcomes == ("reverted",)
    assert Ledger(state_dir).open_entries() == []


@pytest.mark.docker
def test_a_block_that_outlives_the_duration_finds_the_fault_reverted(containers, group):
    web = containers.run("busybox", command=["sleep", "300"], labels={"grp": group})
    with (
        warnings.catch_warnings(record=True) as caught,
        api.fault("container.pause", target(group), "1s") as injected,
    ):
        warnings.simplefilter("always")
        assert paused(web)
        time.sleep(1.8)
        assert not paused(web), "reverted at the end of its duration"
    assert injected.expired
    assert any(issubclass(w.category, FaultExpired) for w in caught)


@pytest.mark.docker
def test_one_shot_fault_needs_no_duration_and_has_nothing_to_revert(containers, state_dir, group):
    victim = containers.run("busybox", command=["sleep", "300"], labels={"grp": group})
    with api.fault("container.kill", target(group), signal="SIGKILL") as injected:
        victim.reload()
        assert victim.status == "exited"
        assert injected.state == {"signal": "SIGKILL"}
    assert injected.outcomes == ("injected",)
    assert Ledger(state_dir).open_entries() == []


@pytest.mark.docker
def test_targets_resolve_as_in_experiments(containers, group):
    for _ in range(3):
        containers.run("busybox", command=["sleep", "300"], labels={"grp": group})
    with pytest.raises(TargetError, match="over its limit max_targets: 2; nothing was touched"):
        api.fault("container.pause", target(group, mode="all", max_targets=2), "5s").start()
    with pytest.raises(TargetError, match="matched no running container"):
        api.fault("container.pause", target("nobody-" + group), "5s").start()
    with api.fault("container.pause", target("nobody-" + group, allow_empty=True), "5s") as none:
        assert none.targets == () and none.outcomes == ()
    session = api.session(seed=1)
    picks = []
    for _ in range(2):
        with session.fault("container.pause", target(group, mode="one", seed=7), "5s") as one:
            picks.append(one.targets)
    session.close()
    assert len(picks[0]) == 1 and picks[0] == picks[1], "the same seed picks the same one"


@pytest.mark.docker
def test_a_failed_injection_leaves_nothing_and_says_why(containers, state_dir, group):
    web = containers.run("busybox", command=["sleep", "300"], labels={"grp": group})
    with api.session() as session, session.fault("container.pause", target(group), "20s"):
        with pytest.raises(InjectionFailed) as raised:
            session.fault("container.pause", target(group), "20s").start()
        assert "already paused; refusing to stack on another pause" in str(raised.value)
        assert "(nothing was left injected)" in str(raised.value)
        assert paused(web), "the first pause holds"
    assert not paused(web)
    assert Ledger(state_dir).open_entries() == []


@pytest.mark.docker
def test_closing_a_session_reverts_what_was_started_and_never_reverted(
    containers, state_dir, group
):
    web = containers.run("busybox", command=["sleep", "300"], labels={"grp": group})
    session = api.session()
    forgotten = session.fault("container.pause", target(group), "20s").start()
    assert paused(web) and session.active == [forgotten]
    session.close()
    assert not paused(web) and forgotten.outcomes == ("reverted",)
    assert Ledger(state_dir).open_entries() == []


@pytest.mark.docker
def test_partition_from_code_names_its_peers_in_targets(containers, net):
    web, db = on(containers, net, "web"), on(containers, net, "db")
    with api.fault(
        "network.partition",
        target={"select": {"name": web.name}},
        duration="20s",
        targets={"db": {"select": {"name": db.name}}},
        **{"from": ["db"]},
    ):
        assert not fetch(web, f"http://{db.name}/"), "web cannot reach db"
    assert fetch(web, f"http://{db.name}/")


@pytest.mark.docker
def test_wait_until_returns_the_passing_check(containers, group):
    web = containers.run(publish=True, labels={"grp": group})
    url = f"http://127.0.0.1:{host_port(web)}/"
    with api.session() as session:
        with (
            session.fault("container.pause", target(group), "20s"),
            pytest.raises(ProbeTimeout, match=r"^probe http \(url=http://127.0.0.1:"),
        ):
            session.wait_until("http", within="600ms", interval="200ms", url=url, timeout=0.2)
        check = session.wait_until("http", within="10s", url=url)
        assert check.ok
        health = session.wait_until("container.health", within="10s", target=target(group))
        assert health.ok


SIGTERM_SCRIPT = """\
import sys, time
from pathlib import Path
from chaos import api

with api.fault("container.pause", target={"select": {"name": sys.argv[1]}}, duration="60s"):
    Path(sys.argv[2]).write_text("in")
    time.sleep(60)
"""


def sigterm_once_paused(script: str, container: Any, mark: Path, *args: str) -> tuple[int, str]:
    """Run ``script`` (arguments: the container's name, ``mark``, ``args``) and
    SIGTERM it once it wrote ``mark`` with ``container`` paused; return its
    exit code and output."""
    inner = subprocess.Popen(
        [sys.executable, "-c", script, container.name, str(mark), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: mark.exists() or inner.poll() is not None, 60, "the fault injected")
        assert paused(container)
        inner.send_signal(signal.SIGTERM)
        output, _ = inner.communicate(timeout=20)
    finally:
        if inner.poll() is None:
            inner.kill()
    return inner.returncode, output


@pytest.mark.docker
def test_sigterm_in_a_block_reverts_at_once(containers, state_dir, tmp_path):
    web = containers.run("busybox", command=["sleep", "300"])
    returncode, output = sigterm_once_paused(SIGTERM_SCRIPT, web, tmp_path / "injected")
    assert returncode != 0, "the process still ends"
    assert not paused(web), "reverted by the process itself, long before the 60s deadline"
    assert "KeyboardInterrupt: SIGTERM: every active fault is reverted" in output
    assert Ledger(state_dir).open_entries() == []
