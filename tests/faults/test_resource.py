"""Resource faults on real containers: each effect observed, then reverted and gone.

CPU stress is kept short (seconds) and to one worker: the machine is shared.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

import pytest

from chaos.fault import FaultContext
from chaos.faults.disk_fill import DiskFill, fill_file
from chaos.faults.fault_helpers import LABEL_INJECTION
from chaos.faults.process import ProcessKill, ProcessPause
from chaos.faults.resource_limit import LIMIT_FIELDS, ResourceLimit
from chaos.faults.stress import StressCpu, StressIo, StressMemory
from chaos.runtime import Runtime
from chaos.targets import TargetRef
from tests.conftest import wait_for

pytestmark = pytest.mark.docker

MiB = 2**20


def ref(container: Any) -> TargetRef:
    return TargetRef("container", container.id, container.name)


def ctx(runtime: Runtime, container: Any, seconds: float = 60) -> FaultContext:
    return FaultContext(
        runtime, ref(container), f"t{uuid.uuid4().hex[:12]}", revert_at=time.time() + seconds
    )


def helpers(client: Any, context: FaultContext) -> list[Any]:
    return client.containers.list(
        all=True, filters={"label": f"{LABEL_INJECTION}={context.injection_id}"}
    )


def in_cgroup(client: Any, container: Any, word: str) -> list[str]:
    """Processes in the container's cgroup (``docker top``) whose command has ``word``."""
    top = client.api.top(container.id)
    return [" ".join(p) for p in top["Processes"] if word in " ".join(p)]


def cpu_used(client: Any, container: Any, seconds: float = 3.0) -> float:
    """CPUs the container used over ``seconds``, from the Docker stats API."""

    def total() -> tuple[float, float]:
        stats = client.api.stats(container.id, stream=False)
        return stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9, time.monotonic()

    used, start = total()
    time.sleep(seconds)
    used_after, end = total()
    return (used_after - used) / (end - start)


def memory_used(client: Any, container: Any) -> int:
    """Memory in use as ``docker stats`` shows it (usage less the page cache)."""
    stats = client.api.stats(container.id, stream=False)["memory_stats"]
    inner = stats.get("stats") or {}
    cache = inner.get("total_inactive_file", inner.get("inactive_file", 0))
    return int(stats["usage"]) - int(cache)


@contextlib.contextmanager
def injected(fault: Any, context: FaultContext, params: Any):
    """Inject, hand over the state, and revert whatever the test does."""
    state = fault.inject(context, params)
    reverted = False
    try:
        yield state
        fault.revert(context, params, state)
        reverted = True
    finally:
        if not reverted:
            with contextlib.suppress(Exception):
                fault.revert(context, params, state)


def sleeper(containers: Any, command: str = "exec sleep 300", **options: Any) -> Any:
    return containers.run("busybox", command=["sh", "-c", command], **options)


def test_stress_cpu_raises_the_containers_cpu_to_the_load_asked(containers, runtime, docker_client):
    target = sleeper(containers)
    fault = StressCpu()
    params = fault.Params.model_validate({"workers": 1, "load": 50})
    context = ctx(runtime, target)
    idle = cpu_used(docker_client, target, 1.5)
    with injected(fault, context, params) as state:
        assert state["placements"][0]["cgroup_version"] in ("1", "2")
        time.sleep(1)  # stress-ng settles on its duty cycle
        windows = [cpu_used(docker_client, target, 2) for _ in range(3)]
        assert in_cgroup(docker_client, target, "stress-ng"), "the load runs in its cgroup"
    used = max(windows)
    shown = ", ".join(f"{w:.2f}" for w in windows)
    print(f"stress.cpu 1 worker at 50%: the container used {shown} CPUs (idle {idle:.2f})")
    assert idle < 0.1
    # 0.5 asked; the best of three 2 s windows, as other work on 2 shared cores (a
    # load average of 8 was seen here) takes its share from a worker that is busy
    assert 0.2 <= used <= 0.8, f"{shown} CPUs for 1 worker at 50%"
    assert helpers(docker_client, context) == []
    assert not in_cgroup(docker_client, target, "stress-ng")
    assert cpu_used(docker_client, target, 1.5) < 0.1, "the load stopped with the revert"


def test_stress_cpu_counts_against_the_containers_own_cpu_limit(containers, runtime, docker_client):
    target = sleeper(containers, nano_cpus=250_000_000)  # a quarter of a CPU
    fault = StressCpu()
    params = fault.Params.model_validate({"workers": 2, "load": 100})
    context = ctx(runtime, target)
    with injected(fault, context, params):
        time.sleep(1)
        used = cpu_used(docker_client, target)
    print(f"stress.cpu 2 workers at 100% under a 0.25 CPU limit: {used:.2f} CPUs")
    assert 0.15 <= used <= 0.35, f"{used:.2f} CPUs under a 0.25 CPU quota"


def test_stress_memory_raises_the_containers_memory_use(containers, runtime, docker_client):
    target = sleeper(containers, mem_limit="256m")
    fault = StressMemory()
    params = fault.Params.model_validate({"bytes": "96m"})
    context = ctx(runtime, target)
    before = memory_used(docker_client, target)
    with injected(fault, context, params):
        grown = wait_for(
            lambda: (
                (memory_used(docker_client, target) - before >= 88 * MiB)
                and memory_used(docker_client, target)
            ),
            20,
            "the container's memory use to grow by 96 MiB",
        )
        assert docker_client.containers.get(target.id).status == "running"
    after = memory_used(docker_client, target)
    print(f"stress.memory 96m: {before / MiB:.0f} -> {grown / MiB:.0f} -> {after / MiB:.0f} MiB")
    assert after - before < 16 * MiB, "the memory is given back at the revert"


def test_stress_memory_by_percent_needs_a_limit_and_stays_below_it(containers, runtime):
    target = sleeper(containers)
    fault = StressMemory()
    for data, words in (
        ({"percent": 50}, "has none; give bytes"),
        ({"oom": True}, "no memory limit, so oom: true"),
    ):
        with pytest.raises(Exception, match=words):
            fault.inject(ctx(runtime, target), fault.Params.model_validate(data))
    limited = sleeper(containers, mem_limit="64m")
    with pytest.raises(Exception, match="not below the container's memory limit"):
        fault.inject(ctx(runtime, limited), fault.Params.model_validate({"bytes": "64m"}))


def test_stress_io_runs_in_the_containers_cgroup(containers, runtime, docker_client):
    target = sleeper(containers)
    fault = StressIo()
    params = fault.Params.model_validate({"workers": 1, "bytes": "16m"})
    context = ctx(runtime, target)
    with injected(fault, context, params):
        wait_for(lambda: in_cgroup(docker_client, target, "stress-ng-hdd"), 10, "hdd workers")
    assert not in_cgroup(docker_client, target, "stress-ng")
    assert helpers(docker_client, context) == []


def test_tasks_and_node_are_refused_on_a_container(containers, runtime, docker_client):
    target = sleeper(containers)
    fault = StressCpu()
    context = ctx(runtime, target)
    with pytest.raises(Exception, match="tasks and node choose among a service's tasks"):
        fault.inject(context, fault.Params.model_validate({"node": "m1"}))
    assert helpers(docker_client, context) == []


def test_a_stress_on_a_container_that_is_not_running_is_refused(containers, runtime):
    target = sleeper(containers, command="exit 0")
    wait_for(lambda: target.reload() or target.status == "exited", 10, "the container to exit")
    fault = StressCpu()
    with pytest.raises(Exception, match="is not running"):
        fault.inject(ctx(runtime, target), fault.Params.model_validate({}))


def limits(client: Any, container: Any) -> dict[str, Any]:
    config = client.api.inspect_container(container.id)["HostConfig"]
    return {key: config.get(key) for key in LIMIT_FIELDS}


def cgroup_value(container: Any, path: str) -> str:
    if container.client.info().get("CgroupVersion") == "2":
        pytest.skip(f"the engine uses cgroup v2: {path} is a cgroup v1 file (platform)")
    code, output = container.exec_run(["cat", f"/sys/fs/cgroup/{path}"])
    assert code == 0, f"cannot read {path} in the container: {output.decode().strip()}"
    return output.decode().strip()


def test_resource_limit_lowers_the_limits_and_restores_them_exactly(
    containers, runtime, docker_client
):
    target = sleeper(
        containers, nano_cpus=1_500_000_000, mem_limit="256m", memswap_limit="512m", pids_limit=100
    )
    before = limits(docker_client, target)
    fault = ResourceLimit()
    params = fault.Params.model_validate({"cpus": 0.5, "memory": "64m", "pids_limit": 12})
    context = ctx(runtime, target)
    recorded = fault.before(context, params)
    with injected(fault, context, params):
        during = limits(docker_client, target)
        assert during["NanoCpus"] == 500_000_000
        assert during["Memory"] == 64 * MiB and during["MemorySwap"] == 320 * MiB
        assert during["PidsLimit"] == 12
        assert cgroup_value(target, "pids/pids.max") == "12"
        assert cgroup_value(target, "memory/memory.limit_in_bytes") == str(64 * MiB)
        assert cgroup_value(target, "cpu/cpu.cfs_quota_us") == "50000"
    assert limits(docker_client, target) == before
    assert recorded["placements"][0]["before"]["PidsLimit"] == 100
    assert cgroup_value(target, "pids/pids.max") == "100"


def test_resource_limit_on_a_container_without_limits(containers, runtime, docker_client):
    target = sleeper(containers)
    fault = ResourceLimit()
    with pytest.raises(Exception, match="has no memory limit"):
        fault.inject(ctx(runtime, target), fault.Params.model_validate({"memory": "64m"}))
    assert limits(docker_client, target)["Memory"] == 0, "nothing was changed"
    params = fault.Params.model_validate({"cpus": 0.25, "pids_limit": 8})
    with injected(fault, ctx(runtime, target), params):
        assert cgroup_value(target, "cpu/cpu.cfs_quota_us") == "25000"
        assert cgroup_value(target, "pids/pids.max") == "8"
    after = limits(docker_client, target)
    # the API cannot put 0 back: -1 is "no limit", which the kernel reads the same
    assert after["CpuQuota"] == -1 and after["PidsLimit"] in (0, None, -1)
    assert cgroup_value(target, "cpu/cpu.cfs_quota_us") == "-1"
    assert cgroup_value(target, "pids/pids.max") == "max"


WRITE = "dd if=/dev/zero of=/data/app bs=64k count=4 2>&1; rc=$?; rm -f /data/app; exit $rc"


def test_disk_fill_makes_the_applications_writes_fail_then_work_again(
    containers, runtime, docker_client
):
    target = sleeper(containers, tmpfs={"/data": "size=8m"})
    assert target.exec_run(["sh", "-c", WRITE]).exit_code == 0
    fault = DiskFill()
    params = fault.Params.model_validate({"path": "/data", "percent": 100})
    context = ctx(runtime, target)
    fill = f"/data/{fill_file(context.injection_id)}"
    with injected(fault, context, params) as state:
        code, output = target.exec_run(["sh", "-c", WRITE])
        assert code != 0 and b"No space left on device" in output, output
        assert state["placements"][0]["file"] == fill
        assert target.exec_run(["test", "-e", fill]).exit_code == 0
    assert target.exec_run(["test", "-e", fill]).exit_code == 1, "the fill file is removed"
    assert target.exec_run(["sh", "-c", WRITE]).exit_code == 0
    assert helpers(docker_client, context) == []


def test_disk_fill_to_a_size_on_a_named_volume(containers, runtime, docker_client, request):
    from tests.conftest import labels_for_test

    volume = docker_client.volumes.create(
        f"cdtest-{uuid.uuid4().hex[:8]}",
        driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=16m"},
        labels=labels_for_test(request.node.name[:60]),
    )
    try:
        target = sleeper(containers, volumes={volume.name: {"bind": "/data", "mode": "rw"}})
        fault = DiskFill()
        params = fault.Params.model_validate({"path": "/data", "size": "10m"})
        context = ctx(runtime, target)
        with injected(fault, context, params) as state:
            placed = state["placements"][0]
            assert placed["bytes"] == 10 * MiB and placed["free_after"] <= 6 * MiB
            assert target.exec_run(["sh", "-c", WRITE]).exit_code == 0, "6 MiB are left"
        output = target.exec_run(["ls", "-A", "/data"]).output
        assert output.strip() == b"", output
    finally:
        with contextlib.suppress(Exception):
            docker_client.api.remove_container(target.id, force=True)
        volume.remove(force=True)


SIDECARS = "sleep 300 & sleep 301 & exec sleep 302"


def processes(container: Any) -> dict[str, tuple[int, str]]:
    """The container's processes: command line -> (pid, state)."""
    output = container.exec_run(["ps", "-o", "pid,stat,args"]).output
    found = {}
    for line in output.decode().splitlines()[1:]:
        pid, state, command = line.split(None, 2)
        if command.startswith("sleep"):
            found[command] = (int(pid), state[0])
    return found


def test_process_kill_kills_a_sidecar_and_leaves_pid_1(containers, runtime, docker_client):
    target = sleeper(containers, SIDECARS)
    wait_for(lambda: len(processes(target)) == 3, 10, "three sleeps")
    started = docker_client.api.inspect_container(target.id)["State"]["StartedAt"]
    fault = ProcessKill()
    params = fault.Params.model_validate({"pattern": "sleep 300", "match": "command"})
    context = ctx(runtime, target)
    state = fault.inject(context, params)
    assert [p["name"] for p in state["placements"][0]["processes"]] == ["sleep"]
    wait_for(lambda: "sleep 300" not in processes(target), 10, "the sidecar to die")
    assert processes(target)["sleep 302"][0] == 1
    assert "sleep 301" in processes(target)
    info = docker_client.api.inspect_container(target.id)["State"]
    assert info["Running"] and info["StartedAt"] == started, "PID 1 was not touched"
    assert helpers(docker_client, context) == []
    with pytest.raises(Exception, match="no process matches 'nginx'"):
        fault.inject(ctx(runtime, target), fault.Params.model_validate({"pattern": "nginx"}))


def test_process_pause_stops_sidecars_and_continues_them(containers, runtime, docker_client):
    target = sleeper(containers, SIDECARS)
    wait_for(lambda: len(processes(target)) == 3, 10, "three sleeps")
    fault = ProcessPause()
    params = fault.Params.model_validate({"pattern": "sleep 30[01]", "match": "command"})
    context = ctx(runtime, target)
    with injected(fault, context, params):
        seen = processes(target)
        assert seen["sleep 300"][1] == "T" and seen["sleep 301"][1] == "T", seen
        assert seen["sleep 302"] == (1, "S"), "PID 1 untouched"
    seen = processes(target)
    assert {seen["sleep 300"][1], seen["sleep 301"][1]} <= {"S", "R"}, seen
    assert helpers(docker_client, context) == []


def test_process_pause_of_pid_1_goes_through_the_engine(containers, runtime, docker_client):
    target = sleeper(containers, SIDECARS)
    wait_for(lambda: len(processes(target)) == 3, 10, "three sleeps")
    fault = ProcessPause()
    params = fault.Params.model_validate({"pattern": "sleep 302", "match": "command"})
    with injected(fault, ctx(runtime, target), params):
        assert processes(target)["sleep 302"] == (1, "T")
        assert processes(target)["sleep 300"][1] == "S"
    assert processes(target)["sleep 302"] == (1, "S")


@pytest.mark.parametrize("fault_name", ["disk.fill", "process.pause"])
def test_the_watchdog_undoes_the_fault_even_when_its_helper_was_killed(
    containers, runtime, docker_client, fault_name
):
    """A helper removed by force (SIGKILL: no chance to undo) leaves the fault in
    place; the watchdog undoes it directly, in a fresh helper, at its deadline."""
    import dataclasses

    from chaos import watchdog

    target = sleeper(containers, SIDECARS, tmpfs={"/data": "size=8m"})
    wait_for(lambda: len(processes(target)) == 3, 10, "three sleeps")
    if fault_name == "disk.fill":
        fault: Any = DiskFill()
        params = fault.Params.model_validate({"path": "/data", "percent": 100})
    else:
        fault = ProcessPause()
        params = fault.Params.model_validate({"pattern": "sleep 30[01]", "match": "command"})
    # far enough for the injection and the forced removal to come first on a loaded machine
    context = ctx(runtime, target, seconds=8)
    armed = watchdog.arm(
        runtime,
        context.injection_id,
        target.id,
        fault.watchdog(context, params),
        fire_at=time.time() + 8,
    )
    context = dataclasses.replace(context, watchdog=armed)
    fill = f"/data/{fill_file(context.injection_id)}"

    def faulted() -> bool:
        if fault_name == "disk.fill":
            return target.exec_run(["test", "-e", fill]).exit_code == 0
        return processes(target)["sleep 300"][1] == "T"

    try:
        fault.inject(context, params)
        for helper in helpers(docker_client, context):
            helper.remove(force=True)
        time.sleep(0.5)
        assert faulted(), "a helper killed by force leaves its fault"
        wait_for(lambda: not faulted(), 30, f"the watchdog to undo {fault_name}")
        wait_for(lambda: not helpers(docker_client, context), 15, "the undo helper removed")
        if fault_name == "process.pause":
            assert processes(target)["sleep 302"] == (1, "S")
    finally:
        watchdog.disarm(runtime, armed)
        with contextlib.suppress(Exception):
            fault.revert(context, params, {})


def test_a_stress_helper_stops_by_itself_after_the_faults_end(containers, runtime, docker_client):
    """The last line of defence: with no revert and no watchdog, stress-ng's own
    --timeout ends the load 30 s after the planned end (here already 28 s past)."""
    target = sleeper(containers)
    fault = StressCpu()
    params = fault.Params.model_validate({"workers": 1, "load": 10})
    context = FaultContext(
        runtime, ref(target), f"t{uuid.uuid4().hex[:12]}", revert_at=time.time() - 27
    )
    try:
        fault.inject(context, params)
        assert in_cgroup(docker_client, target, "stress-ng")
        wait_for(
            lambda: all(h.status == "exited" for h in helpers(docker_client, context)),
            15,
            "the helper to stop by itself",
        )
        assert not in_cgroup(docker_client, target, "stress-ng")
    finally:
        fault.revert(context, params, {})
    assert helpers(docker_client, context) == []


def test_disk_fill_of_a_directory_that_does_not_exist_says_so(containers, runtime, docker_client):
    target = sleeper(containers)
    fault = DiskFill()
    params = fault.Params.model_validate({"path": "/nowhere", "size": "1m"})
    context = ctx(runtime, target)
    with pytest.raises(Exception, match="cannot fill /nowhere in the container: No such file") as e:
        fault.inject(context, params)
    assert "Traceback" not in str(e.value)
    assert helpers(docker_client, context) == []


def test_process_pause_revert_continues_even_when_its_helper_was_killed(
    containers, runtime, docker_client
):
    target = sleeper(containers, SIDECARS)
    wait_for(lambda: len(processes(target)) == 3, 10, "three sleeps")
    fault = ProcessPause()
    params = fault.Params.model_validate({"pattern": "sleep 300", "match": "command"})
    context = ctx(runtime, target)
    state = fault.inject(context, params)
    for helper in helpers(docker_client, context):
        helper.remove(force=True)  # as a sweep of an older version would
    assert processes(target)["sleep 300"][1] == "T"
    observed = fault.revert(context, params, state)
    assert observed["continued_by"] == "a fresh helper"
    assert processes(target)["sleep 300"][1] in ("S", "R")
    assert helpers(docker_client, context) == []


def test_disk_fill_revert_removes_the_file_even_when_its_helper_was_killed(
    containers, runtime, docker_client
):
    target = sleeper(containers, tmpfs={"/data": "size=8m"})
    fault = DiskFill()
    params = fault.Params.model_validate({"path": "/data", "size": "2m"})
    context = ctx(runtime, target)
    fill = f"/data/{fill_file(context.injection_id)}"
    state = fault.inject(context, params)
    for helper in helpers(docker_client, context):
        helper.remove(force=True)
    assert target.exec_run(["test", "-e", fill]).exit_code == 0
    observed = fault.revert(context, params, state)
    assert observed["removed_by"] == "a fresh helper"
    assert target.exec_run(["test", "-e", fill]).exit_code == 1
    assert helpers(docker_client, context) == []
