"""container.pause survives a wedged engine, and is done only once verified.

The wedge is the real one: an exec that starts while the container is being
paused leaves runc's exec process frozen in the paused cgroup, and every
engine call on the container hangs. Every container these tests freeze is
thawed by a finalizer, whatever happened.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import docker
import pytest

from chaos import cgroup_freezer, pausing
from chaos.faults import container as container_faults
from chaos.faults.container import ContainerPause
from chaos.plugin_api import FaultContext, Params
from chaos.runtime import Runtime
from chaos.targets import TargetRef

pytestmark = pytest.mark.docker


def ref(container: Any) -> TargetRef:
    return TargetRef(kind="container", id=container.id, name=container.name)


def ctx(runtime: Runtime, container: Any) -> FaultContext:
    return FaultContext(runtime, ref(container), injection_id=f"wedge{container.id[:8]}")


def docker_state(container_id: str, timeout: float = 5) -> dict[str, Any]:
    api = docker.APIClient(timeout=timeout)
    try:
        return dict(api.inspect_container(container_id)["State"])
    finally:
        api.close()


@pytest.fixture
def sleeper(containers: Any, frozen_guard: Any) -> Any:
    container = containers.run("busybox", command=["sleep", "600"])
    frozen_guard(container.id)
    return container


def answers_exec(container: Any) -> bool:
    """A command runs in the container (bounded: a wedged one fails, never hangs)."""
    from chaos.container_exec import exec_run

    api = docker.APIClient(timeout=10)
    try:
        return exec_run(api, container.id, ["true"], timeout=10).exit_code == 0
    finally:
        api.close()


UNIFIED = Path("/sys/fs/cgroup/unified")


def v2_frozen(container: Any) -> bool:
    """Frozen through a cgroup v2 hierarchy mounted beside v1 (which nothing may touch)."""
    freeze = UNIFIED / "docker" / container.id / "cgroup.freeze"
    return freeze.exists() and freeze.read_text().strip() == "1"


def freezer_of(container: Any) -> cgroup_freezer.Freezer:
    return cgroup_freezer.find(container.id, docker_state(container.id)["Pid"])


def test_the_freezer_cgroup_of_a_container_is_found_and_matches_dockers_pause(sleeper):
    freezer = freezer_of(sleeper)
    assert sleeper.id in str(freezer.path)
    assert cgroup_freezer.find(sleeper.id).path == freezer.path, "found without the PID too"
    assert not freezer.frozen()
    sleeper.pause()
    try:
        assert freezer.frozen()
    finally:
        sleeper.unpause()
    assert not freezer.frozen()


def test_revert_settles_a_pause_thawed_behind_dockers_back(sleeper, runtime):
    """Docker records a pause that the cgroup no longer has: its own unpause would
    fail ("container not paused"); the revert brings both back in line."""
    fault = ContainerPause()
    fault.inject(ctx(runtime, sleeper), Params())
    freezer = freezer_of(sleeper)
    assert freezer.thaw()
    assert docker_state(sleeper.id)["Paused"] is True
    fault.revert(ctx(runtime, sleeper), Params(), {})
    assert docker_state(sleeper.id)["Paused"] is False
    assert not freezer.frozen()
    assert answers_exec(sleeper)
    assert pausing.held(sleeper.id) == [], "released once verified"


def test_revert_thaws_a_container_frozen_behind_dockers_back(sleeper, runtime):
    """Docker says unpaused, the cgroup is frozen: not done until it is thawed."""
    fault = ContainerPause()
    fault.inject(ctx(runtime, sleeper), Params())
    sleeper.unpause()  # someone else unpaused it through Docker...
    freezer = freezer_of(sleeper)
    assert freezer.freeze()  # ...and then it was frozen directly
    assert docker_state(sleeper.id)["Paused"] is False
    fault.revert(ctx(runtime, sleeper), Params(), {})
    assert not freezer.frozen()
    assert docker_state(sleeper.id)["Paused"] is False


def wedged(container_id: str) -> bool:
    try:
        docker_state(container_id, timeout=1.0)
    except Exception as exc:
        if "timed out" in str(exc).lower():
            return True
        raise
    return False


def wedge(container: Any, max_cycles: int = 400, within: float = 45) -> int | None:
    """Pause and unpause the container (through the Docker API, as nobody's
    run) while execs that bypass chaos.pausing race the pauses, until the
    engine wedges on it; return after how many cycles, or None."""
    stop = threading.Event()

    def raw_execs() -> None:
        api = docker.APIClient(timeout=60)
        while not stop.is_set():
            with contextlib.suppress(Exception):
                api.exec_start(api.exec_create(container.id, ["true"]))

    racer = threading.Thread(target=raw_execs, daemon=True)
    api = docker.APIClient(timeout=2)
    racer.start()
    try:
        deadline = time.monotonic() + within
        for cycle in range(1, max_cycles + 1):
            if time.monotonic() > deadline:
                return None
            with contextlib.suppress(Exception):  # a wedge shows below
                api.pause(container.id)
            time.sleep(0.05)
            if wedged(container.id):
                return cycle
            with contextlib.suppress(Exception):
                api.unpause(container.id)
            if wedged(container.id):
                return cycle
        return None
    finally:
        stop.set()
        api.close()


def test_revert_thaws_a_container_wedged_by_a_real_exec_race(sleeper, monkeypatch):
    """An exec that bypasses chaos.pausing races the fault's pause until the
    engine wedges on the container; the revert thaws the cgroup directly and
    verifies through the API that the container is no longer paused."""
    monkeypatch.setenv("CHAOSDRILL_ENGINE_TIMEOUT", "2")
    runtime = Runtime()
    stop = threading.Event()

    def raw_execs() -> None:  # not through exec_run: nothing keeps it out of the pause
        api = docker.APIClient(timeout=60)
        while not stop.is_set():
            with contextlib.suppress(Exception):
                api.exec_start(api.exec_create(sleeper.id, ["true"]))

    racer = threading.Thread(target=raw_execs, daemon=True)
    fault = ContainerPause()
    cycles, is_wedged = 0, False
    try:
        racer.start()
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and cycles < 200:
            cycles += 1
            fault.inject(ctx(runtime, sleeper), Params())
            time.sleep(0.05)
            if wedged(sleeper.id):
                is_wedged = True
                break
            fault.revert(ctx(runtime, sleeper), Params(), {})
        stop.set()
        if not is_wedged:  # every cycle was reverted: leave it paused for the last revert
            print(f"no wedge in {cycles} pause cycles: the revert of a plain pause is checked")
            fault.inject(ctx(runtime, sleeper), Params())
        else:
            print(f"wedged after {cycles} pause cycles")
        started = time.monotonic()
        observed = fault.revert(ctx(runtime, sleeper), Params(), {})
        took = time.monotonic() - started
    finally:
        stop.set()
        runtime.close()
    if is_wedged:
        assert observed and "thawed" in observed, observed
        assert sleeper.id in observed["thawed"]
        assert "timed out" in observed["engine"]
    asked = time.monotonic()
    assert docker_state(sleeper.id)["Paused"] is False
    assert time.monotonic() - asked < 5, "the engine answers for the container again"
    assert not cgroup_freezer.find(sleeper.id).frozen()
    assert answers_exec(sleeper)
    print(f"revert thawed and verified in {took:.1f}s")
    assert took < 45, f"revert took {took:.1f}s"
    racer.join(10)


def arm_now(runtime: Runtime, container: Any) -> str:
    """Arm the pause's dead man's switch to fire at once, as after a lost runner."""
    from chaos import watchdog

    command = ContainerPause().watchdog(ctx(runtime, container), Params())
    return watchdog.arm(
        runtime, f"wd{container.id[:10]}", container.id, command, fire_at=time.time()
    )


def test_the_pause_watchdog_thaws_a_container_frozen_behind_dockers_back(
    sleeper, runtime, docker_client
):
    freezer = freezer_of(sleeper)
    assert freezer.freeze()
    assert docker_state(sleeper.id)["Paused"] is False  # Docker cannot unpause this
    watchdog_id = arm_now(runtime, sleeper)
    deadline = time.monotonic() + 30
    while freezer.frozen() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not freezer.frozen(), "thawed by the watchdog"
    assert not v2_frozen(sleeper)
    assert docker_state(sleeper.id)["Paused"] is False
    while time.monotonic() < deadline:
        if not docker_client.api.containers(all=True, filters={"id": watchdog_id}):
            break
        time.sleep(0.2)
    else:
        pytest.fail("the watchdog did not remove itself")


def test_the_pause_watchdog_unpauses_a_plain_pause(sleeper, runtime):
    sleeper.pause()
    arm_now(runtime, sleeper)
    deadline = time.monotonic() + 30
    while docker_state(sleeper.id)["Paused"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert docker_state(sleeper.id)["Paused"] is False
    assert not freezer_of(sleeper).frozen()
    assert not v2_frozen(sleeper)
    assert answers_exec(sleeper)


def test_the_pause_watchdog_unwedges_a_real_exec_race(sleeper, runtime):
    """The runner is gone and the engine is wedged on the container: the watchdog
    thaws the cgroup and the engine ends up unpausing it."""
    cycles = wedge(sleeper)
    if cycles is None:  # no wedge this time: the switch must still undo a plain pause
        print("the exec race did not wedge the engine: the watchdog undoes a plain pause")
        sleeper.pause()
    else:
        print(f"wedged after {cycles} pause cycles")
    started = time.monotonic()
    arm_now(runtime, sleeper)
    while time.monotonic() - started < 60:
        with contextlib.suppress(Exception):
            if not docker_state(sleeper.id, timeout=2)["Paused"]:
                break
        time.sleep(0.5)
    took = time.monotonic() - started
    print(f"watchdog unwedged it in {took:.1f}s")
    state = docker_state(sleeper.id)
    assert state["Paused"] is False and state["Running"]
    assert not cgroup_freezer.find(sleeper.id).frozen()
    assert not v2_frozen(sleeper)
    assert answers_exec(sleeper)


class StuckAPI:
    """An engine whose unpause is accepted but never takes (pure logic)."""

    def __init__(self) -> None:
        self.paused = False
        self.unpauses = 0

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        return {"Id": container_id, "State": {"Running": True, "Paused": self.paused, "Pid": 0}}

    def pause(self, container_id: str) -> None:
        self.paused = True

    def unpause(self, container_id: str) -> None:
        self.unpauses += 1

    def remove_container(self, container_id: str, force: bool = False) -> None:
        pass


def fake_runtime(api: StuckAPI) -> Any:
    from chaos.redaction import Redactor

    engine = SimpleNamespace(
        api=api,
        images=SimpleNamespace(get=lambda image: None),
        containers=SimpleNamespace(run=lambda *a, **kw: SimpleNamespace(id="watchdog-1")),
    )
    return SimpleNamespace(
        docker=engine,
        run_id="run-stuck",
        redactor=Redactor(),
        engine_is_local=False,
        netns_image="chaosdrill/netns-helper:1",
        helper_labels=lambda: {"chaosdrill.helper": "1"},
    )


@pytest.mark.parametrize("takes", [False, True])
def test_a_revert_that_cannot_be_verified_leaves_the_ledger_entry_open(
    monkeypatch, state_dir: Path, takes: bool
):
    from chaos.engine.activity import FaultActivity, StepContext
    from chaos.engine.clock import RunClock
    from chaos.engine.plan import PlannedFault
    from chaos.engine.safeguards import Safeguards
    from chaos.experiment.model import FaultStep, TargetSpec
    from chaos.ledger import Ledger
    from chaos.targets.selection import Selection

    monkeypatch.setattr(container_faults, "UNPAUSE_VERIFY_WITHIN", 0.3)
    api = StuckAPI()
    if takes:
        api.unpause = lambda container_id: setattr(api, "paused", False)  # type: ignore[method-assign]
    target = TargetRef(kind="container", id="f" * 64, name="web-1")
    step = FaultStep(name="freeze", fault="container.pause", target="web", duration=0.2)
    selection = Selection("web", TargetSpec(select={"name": "web-1"}), 1, (target,), None)
    planned = PlannedFault(0, step, ContainerPause(), Params(), selection, {"web": (target,)})
    reasons: list[str] = []
    ledger = Ledger(state_dir)
    clock = RunClock()
    activity = FaultActivity(
        planned,
        StepContext(
            fake_runtime(api),
            clock,
            threading.Event(),
            lambda reason, abort: reasons.append(reason.message),
            lambda event: None,
            Safeguards(ledger),
        ),
    )
    activity.start(clock.now())
    activity.join(20)
    record = activity.records[0]
    open_ids = [e.id for e in ledger.open_entries()]
    if takes:
        assert record.outcome == "reverted" and open_ids == [] and reasons == []
        return
    assert record.outcome == "revert-failed"
    assert open_ids == [record.injection_id], "left open for the watchdog and recover"
    assert api.unpauses >= 3
    assert reasons and "could not be reverted on web-1" in reasons[0]
    assert "the unpause could not be verified" in reasons[0]
    assert pausing.held(target.id) == ["run-stuck"], "execs stay out while it may be paused"
    pausing.release(target.id, "run-stuck")
