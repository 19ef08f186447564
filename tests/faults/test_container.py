"""Container faults against real containers: each effect is observed, then reverted."""

from __future__ import annotations

from typing import Any

import pytest

from chaos import cgroup_freezer, pausing
from chaos.errors import InjectionFailed
from chaos.fault import FaultContext
from chaos.faults.container import (
    ContainerCrash,
    ContainerKill,
    ContainerPause,
    ContainerRemove,
    ContainerRestart,
    ContainerStop,
)
from chaos.runtime import Runtime
from chaos.targets import TargetRef
from tests.conftest import host_port, http_status, wait_for

pytestmark = pytest.mark.docker


def ref(container: Any) -> TargetRef:
    return TargetRef(kind="container", id=container.id, name=container.name)


def ctx(runtime: Runtime, target: Any) -> FaultContext:
    """The context the engine hands a fault for one injection."""
    target = target if isinstance(target, TargetRef) else ref(target)
    return FaultContext(runtime, target, injection_id=f"test{target.id[:8]}")


def state(container: Any) -> dict[str, Any]:
    container.reload()
    return {**container.attrs["State"], "RestartCount": container.attrs["RestartCount"]}


def test_kill_is_a_manual_stop_so_restart_always_stays_down(containers, runtime):
    web = containers.run(restart_policy={"Name": "always"})
    fault = ContainerKill()
    fault.inject(ctx(runtime, ref(web)), fault.Params())
    wait_for(lambda: not state(web)["Running"], 10, "killed container to stop")
    # Docker records an API kill as a manual stop: the policy does not restart it.
    import time

    time.sleep(1.5)
    after = state(web)
    assert not after["Running"]
    assert after["RestartCount"] == 0
    assert after["ExitCode"] == 137


def test_kill_sends_the_requested_signal(containers, runtime):
    trapper = containers.run(
        "busybox",
        command=["sh", "-c", 'trap "exit 42" USR1; while true; do sleep 0.1; done'],
    )
    fault = ContainerKill()
    fault.inject(ctx(runtime, ref(trapper)), fault.Params(signal="USR1"))
    wait_for(lambda: not state(trapper)["Running"], 10, "container to exit on SIGUSR1")
    assert state(trapper)["ExitCode"] == 42  # the trap ran: it was SIGUSR1, not SIGKILL


@pytest.mark.parametrize("via", ["host", "helper"])
def test_crash_restarts_a_container_with_restart_always(containers, runtime, via):
    web = containers.run(restart_policy={"Name": "always"}, publish=True)
    before = state(web)
    url = f"http://127.0.0.1:{host_port(web)}/"
    assert http_status(url) == 200

    fault = ContainerCrash()
    result = fault.inject(ctx(runtime, ref(web)), fault.Params(via=via))

    assert result["via"] == via
    assert result["pid"] == before["Pid"]
    wait_for(lambda: state(web)["RestartCount"] == before["RestartCount"] + 1, 15, "a restart")
    wait_for(lambda: state(web)["Running"] and state(web)["Pid"] != before["Pid"], 15, "new pid")
    wait_for(lambda: http_status(url) == 200, 15, "HTTP back")


def test_crash_without_restart_policy_leaves_the_container_exited(containers, runtime):
    web = containers.run()
    fault = ContainerCrash()
    fault.inject(ctx(runtime, ref(web)), fault.Params())
    wait_for(lambda: not state(web)["Running"], 10, "crashed container to stop")
    assert state(web)["ExitCode"] == 137  # killed by SIGKILL, as a crash looks
    assert state(web)["RestartCount"] == 0


def test_crash_touches_only_its_target(containers, runtime):
    victim = containers.run(restart_policy={"Name": "always"})
    bystander = containers.run(restart_policy={"Name": "always"})
    bystander_pid = state(bystander)["Pid"]
    ContainerCrash().inject(ctx(runtime, ref(victim)), ContainerCrash.Params())
    wait_for(lambda: state(victim)["RestartCount"] == 1, 15, "victim restart")
    assert state(bystander)["Pid"] == bystander_pid
    assert state(bystander)["RestartCount"] == 0


def test_stop_is_reverted_by_starting_the_container_again(containers, runtime):
    web = containers.run(publish=True)
    url = f"http://127.0.0.1:{host_port(web)}/"
    fault = ContainerStop()
    params = fault.Params(timeout=1)
    saved = fault.inject(ctx(runtime, ref(web)), params)
    assert not state(web)["Running"]
    fault.revert(ctx(runtime, ref(web)), params, saved)
    wait_for(lambda: state(web)["Running"], 10, "restart after revert")
    wait_for(lambda: http_status(url) == 200, 15, "HTTP back")


def test_restart_gives_a_new_process(containers, runtime):
    web = containers.run()
    before = state(web)
    ContainerRestart().inject(ctx(runtime, ref(web)), ContainerRestart.Params(timeout=1))
    after = state(web)
    assert after["Running"]
    assert after["Pid"] != before["Pid"]
    assert after["StartedAt"] != before["StartedAt"]


def test_pause_freezes_http_and_revert_unfreezes_it(containers, runtime):
    web = containers.run(publish=True)
    url = f"http://127.0.0.1:{host_port(web)}/"
    fault = ContainerPause()
    saved = fault.inject(ctx(runtime, ref(web)), fault.Params())
    assert state(web)["Paused"]
    assert http_status(url, timeout=0.5) is None  # frozen: the request times out
    fault.revert(ctx(runtime, ref(web)), fault.Params(), saved)
    assert not state(web)["Paused"]
    assert http_status(url) == 200


def test_pause_refuses_to_stack_on_an_existing_pause(containers, runtime):
    web = containers.run()
    web.pause()
    with pytest.raises(InjectionFailed, match="already paused"):
        ContainerPause().inject(ctx(runtime, ref(web)), ContainerPause.Params())
    web.unpause()


def test_pause_revert_of_a_removed_container_is_a_no_op(containers, runtime):
    web = containers.run()
    fault = ContainerPause()
    saved = fault.inject(ctx(runtime, ref(web)), fault.Params())
    web.remove(force=True)
    observed = fault.revert(ctx(runtime, ref(web)), fault.Params(), saved)  # must not raise
    assert observed == {"container": "gone"}
    assert pausing.held(web.id) == [], "the pause no longer keeps execs out"


def test_pause_is_announced_before_it_is_applied_and_withdrawn_after_the_unpause(
    containers, runtime
):
    web = containers.run()
    fault = ContainerPause()
    saved = fault.inject(ctx(runtime, ref(web)), fault.Params())
    assert pausing.held(web.id) == [runtime.run_id]
    fault.revert(ctx(runtime, ref(web)), fault.Params(), saved)
    assert pausing.held(web.id) == []


def test_stop_revert_of_a_removed_container_is_done(containers, runtime):
    web = containers.run()
    fault = ContainerStop()
    params = fault.Params(timeout=1)
    saved = fault.inject(ctx(runtime, ref(web)), params)
    web.remove(force=True)
    fault.revert(ctx(runtime, ref(web)), params, saved)  # gone counts as reverted


def test_remove_deletes_the_container(containers, runtime, docker_client):
    import docker.errors

    web = containers.run()
    ContainerRemove().inject(ctx(runtime, ref(web)), ContainerRemove.Params())
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(web.id)


def test_faults_refuse_a_container_that_is_not_running(containers, runtime):
    web = containers.run()
    web.stop(timeout=1)
    for fault in (ContainerKill(), ContainerCrash(), ContainerPause(), ContainerStop()):
        with pytest.raises(InjectionFailed, match=web.name):
            fault.inject(ctx(runtime, ref(web)), fault.Params())


def test_missing_container_is_a_clear_injection_error(runtime):
    ghost = TargetRef(kind="container", id="0" * 64, name="ghost")
    with pytest.raises(InjectionFailed, match="ghost"):
        ContainerKill().inject(ctx(runtime, ghost), ContainerKill.Params())


def test_pause_of_a_stopped_container_says_it_is_not_running_and_holds_nothing(containers, runtime):
    web = containers.run()
    web.stop(timeout=1)
    with pytest.raises(InjectionFailed, match=rf"{web.name} is not running \(exited\)"):
        ContainerPause().inject(ctx(runtime, ref(web)), ContainerPause.Params())
    assert pausing.held(web.id) == [], "a refused pause keeps no exec out"


def test_pause_of_a_missing_container_names_it(runtime):
    ghost = TargetRef(kind="container", id="0" * 64, name="ghost")
    with pytest.raises(InjectionFailed, match="ghost"):
        ContainerPause().inject(ctx(runtime, ghost), ContainerPause.Params())
    assert pausing.held(ghost.id) == []


def test_pause_revert_after_someone_else_unpaused_is_done_and_verified(containers, runtime):
    web = containers.run()
    fault = ContainerPause()
    saved = fault.inject(ctx(runtime, ref(web)), fault.Params())
    web.unpause()  # the engine now refuses our unpause: "not paused"
    assert fault.revert(ctx(runtime, ref(web)), fault.Params(), saved) == {}
    assert not state(web)["Paused"]
    assert not cgroup_freezer.find(web.id).frozen(), "the kernel agrees"
