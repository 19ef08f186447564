"""The example plugin, installed, against the real engine: each promise observed.

The fault's effect is looked at from outside (``docker exec`` in the target),
not through the plugin: the file is there, with the injection's token, while
the fault is active, and gone after it; a file that is not the fault's is
never touched; a SIGKILLed runner's fault is undone by its watchdog at the
deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from chaos import api
from chaos.errors import InjectionFailed, InvalidExperiment

FLAG = "/tmp/maintenance"


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)
    return value


def flag_absent(box) -> bool:
    return box.sh(f"test -e {FLAG}")[0] == 1


# -- without an engine ------------------------------------------------------------------


def test_the_package_registers_through_its_entry_point():
    from chaos.plugins import build_plugin_manager

    plugins = build_plugin_manager(only={"example"})
    registry = plugins.registry
    assert registry.failures == []
    fault, probe = registry.faults["example.flag"], registry.probes["example.file"]
    assert fault.origin == probe.origin == "chaosdrill-example 0.1.0"
    assert fault.cls.reversible and probe.cls.accepts_target
    assert plugins.sources["example"].entry_point == "example = chaosdrill_example.plugin"


def test_parameters_are_checked_where_they_are_written(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        textwrap.dedent("""\
            version: 1
            title: a relative flag path
            targets:
              web: {select: {labels: {app: web}}}
            method:
              - {name: flag, fault: example.flag, target: web, duration: 5s, path: maintenance}
        """)
    )
    with pytest.raises(InvalidExperiment) as caught:
        api.load(path)
    (problem,) = caught.value.problems
    assert problem.line == 6
    assert "must be an absolute path" in problem.message


# -- against the engine -----------------------------------------------------------------

docker = pytest.mark.docker


@docker
def test_the_flag_exists_only_while_the_fault_is_active(chaos, box, boxes):
    bystander = boxes()  # not selected: must never see the file
    assert flag_absent(box)
    with chaos.fault("example.flag", target=box.target, duration="30s", path=FLAG) as injected:
        code, text = box.sh(f"cat {FLAG}")
        assert code == 0, text
        assert flag_absent(bystander)
        (record,) = injected.records
        assert text == f"chaosdrill {record.injection_id}"
        assert injected.state == {"path": FLAG}
        # the plugin's probe sees what docker exec sees
        seen = chaos.wait_until("example.file", within="5s", target=box.target, path=FLAG)
        assert seen.ok and FLAG in seen.detail
    assert flag_absent(box), "reverted when the block ended"
    gone = chaos.wait_until(
        "example.file", within="5s", target=box.target, path=FLAG, present=False
    )
    assert gone.ok


@docker
def test_the_flag_is_removed_when_the_block_raises(chaos, box):
    with (
        pytest.raises(RuntimeError, match="the test body fails"),
        chaos.fault("example.flag", target=box.target, duration="30s", path=FLAG),
    ):
        assert not flag_absent(box)
        raise RuntimeError("the test body fails")
    assert flag_absent(box)


@docker
def test_an_existing_file_is_never_overwritten(chaos, box):
    assert box.sh(f"echo mine > {FLAG}")[0] == 0
    with (
        pytest.raises(InjectionFailed, match="exists already"),
        chaos.fault("example.flag", target=box.target, duration="10s", path=FLAG),
    ):
        pass  # pragma: no cover - never entered
    assert box.sh(f"cat {FLAG}") == (0, "mine")


@docker
def test_the_revert_leaves_a_file_that_someone_else_replaced(chaos, box):
    with chaos.fault("example.flag", target=box.target, duration="30s", path=FLAG):
        assert box.sh(f"echo operator > {FLAG}.new && mv {FLAG}.new {FLAG}")[0] == 0
    assert box.sh(f"cat {FLAG}") == (0, "operator"), "not the fault's file: left alone"


@docker
def test_the_probe_fails_with_what_it_found(chaos, box):
    from chaos.engine.session import ProbeTimeout

    assert box.sh(f"echo status=degraded > {FLAG}")[0] == 0
    ok = chaos.wait_until(
        "example.file", within="5s", target=box.target, path=FLAG, contains="^status="
    )
    assert ok.ok
    with pytest.raises(ProbeTimeout, match=r"does not match the pattern"):
        chaos.wait_until(
            "example.file", within="1s", target=box.target, path=FLAG, contains="status=ok"
        )
    with pytest.raises(ProbeTimeout, match=rf"{FLAG} exists"):
        chaos.wait_until("example.file", within="1s", target=box.target, path=FLAG, present=False)


EXPERIMENT = """\
version: 1
title: the flag is seen while it is set, and nothing is left after
targets:
  box: {{select: {{labels: {{grp: {group}}}}}}}
steady_state:
  - {{name: no-flag, probe: example.file, target: box, path: {flag}, present: false}}
method:
  - {{name: set-flag, fault: example.flag, target: box, duration: 2s, path: {flag}}}
probes:
  - name: flag-seen
    probe: example.file
    target: box
    path: {flag}
    interval: 200ms
    tolerance: {{min_availability: 30%}}
recovery: {{within: 10s}}
"""


@docker
def test_an_experiment_uses_the_fault_and_the_probe(chaos, box, tmp_path):
    group = box.target["select"]["labels"]["grp"]
    path = tmp_path / "flag.yaml"
    path.write_text(EXPERIMENT.format(group=group, flag=FLAG))
    result = chaos.run(path)
    assert result.passed, result.describe()
    journal = json.loads(Path(result.journal_path).read_text())
    (fault,) = journal["faults"]
    assert fault["fault"] == "example.flag" and fault["outcome"] == "reverted"
    assert fault["container"]["id"] == box.container.id
    assert result.probe("flag-seen").availability < 1.0, "absent before and after the fault"
    assert flag_absent(box)


HOLD = """\
import sys
from pathlib import Path

from chaos import api

target = {{"select": {{"labels": {{"grp": "{group}"}}}}}}
injected = api.fault("example.flag", target=target, duration="{duration}s", path="{flag}").start()
Path(sys.argv[1]).write_text(injected.records[0].injection_id)
while True:
    input()
"""


@docker
def test_the_watchdog_removes_the_flag_after_the_runner_is_sigkilled(box, state_dir, tmp_path):
    duration = 3
    group = box.target["select"]["labels"]["grp"]
    script = tmp_path / "hold.py"
    script.write_text(HOLD.format(group=group, duration=duration, flag=FLAG))
    mark = tmp_path / "injected"
    runner = subprocess.Popen(
        [sys.executable, str(script), str(mark)],
        env={**os.environ, "CHAOSDRILL_WATCHDOG_GRACE": "1"},
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: mark.exists() or runner.poll() is not None, 60, "the fault injected")
        assert runner.poll() is None, runner.stderr.read().decode() if runner.stderr else ""
        killed_at = time.monotonic()
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(10)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait(10)
    injection_id = wait_for(mark.read_text, 1, "the injection id")
    assert box.sh(f"cat {FLAG}") == (0, f"chaosdrill {injection_id}"), "nobody reverted it yet"

    wait_for(lambda: flag_absent(box), duration + 20, "the watchdog to remove the flag")
    assert time.monotonic() - killed_at >= duration - 1, "removed at the deadline, not before"
    client = box.container.client
    wait_for(
        lambda: (
            not client.containers.list(
                all=True, filters={"label": f"chaosdrill.watchdog={injection_id}"}
            )
        ),
        15,
        "the watchdog to remove itself",
    )

    # the dead runner's ledger entry: recover reverts it again (nothing left to do) and closes it
    report = api.recover(state_dir=state_dir)
    assert [(o.entry.id, o.ok) for o in report.outcomes] == [(injection_id, True)]
    assert api.recover(state_dir=state_dir).outcomes == []
