"""Resource faults without an engine: parameters, sizes, cgroup paths, limit arithmetic."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chaos.errors import InjectionFailed
from chaos.faults.cgroups import JOIN_PROGRAM, cgroup_info, join_argv, join_options
from chaos.faults.disk_fill import FillParams
from chaos.faults.process import KillParams, ProcessParams
from chaos.faults.resource_limit import LimitParams, lowered, read_limits, restoring
from chaos.faults.sizes import parse_size
from chaos.faults.stress import CpuParams, IoParams, MemoryParams


def procs_files(text: str, version: str, root: str = "/host/sys/fs/cgroup") -> list[str]:
    namespace: dict[str, Any] = {"__name__": "not_main"}
    exec(JOIN_PROGRAM, namespace)  # the helper's own code, as it runs there
    return namespace["procs_files"](text, version, root)


CID = "0123456789ab" * 5 + "cdef"

V1_CGROUPFS = f"""12:pids:/docker/{CID}
11:cpu,cpuacct:/docker/{CID}
10:memory:/docker/{CID}
1:name=systemd:/docker/{CID}
0::/system.slice/containerd.service
"""

V2_SYSTEMD = f"0::/system.slice/docker-{CID}.scope\n"


def test_cgroup_v1_joins_every_controller_hierarchy_of_the_target():
    files = procs_files(V1_CGROUPFS, "1")
    assert f"/host/sys/fs/cgroup/pids/docker/{CID}/cgroup.procs" in files
    assert f"/host/sys/fs/cgroup/memory/docker/{CID}/cgroup.procs" in files
    assert f"/host/sys/fs/cgroup/systemd/docker/{CID}/cgroup.procs" in files
    assert any("cpu" in f for f in files)
    # the unified line of a hybrid host is not where Docker puts its limits
    assert not any("containerd.service" in f for f in files)


def test_cgroup_v2_joins_the_one_unified_cgroup_whatever_the_driver():
    assert procs_files(V2_SYSTEMD, "2") == [
        f"/host/sys/fs/cgroup/system.slice/docker-{CID}.scope/cgroup.procs"
    ]
    assert procs_files(f"0::/docker/{CID}\n", "2") == [
        f"/host/sys/fs/cgroup/docker/{CID}/cgroup.procs"
    ]
    # a namespaced view ("/" only) or garbage gives nothing to join but the root
    assert procs_files("garbage\n", "2") == []


@pytest.mark.parametrize(
    ("info", "version", "driver"),
    [
        ({"CgroupVersion": "1", "CgroupDriver": "cgroupfs"}, "1", "cgroupfs"),
        ({"CgroupVersion": "2", "CgroupDriver": "systemd"}, "2", "systemd"),
        ({}, "1", "cgroupfs"),  # an engine too old to say
    ],
)
def test_the_engines_cgroup_version_and_driver_come_from_docker_info(info, version, driver):
    found = cgroup_info(info)
    assert (found.version, found.driver) == (version, driver)


def test_v2_needs_the_hosts_cgroup_namespace_and_v1_does_not():
    v1, v2 = cgroup_info({"CgroupVersion": "1"}), cgroup_info({"CgroupVersion": "2"})
    assert "cgroupns" not in join_options(v1)
    assert join_options(v2)["cgroupns"] == "host"
    assert join_options(v1)["volumes"]["/sys/fs/cgroup"]["mode"] == "rw"
    argv = join_argv(v2, ["stress-ng", "--cpu", "1"])
    assert argv[0] == "python3" and argv[3:] == [
        "2",
        "/host/sys/fs/cgroup",
        "stress-ng",
        "--cpu",
        "1",
    ]


@pytest.mark.parametrize(
    ("text", "size"),
    [("512m", 512 * 2**20), ("1g", 2**30), ("1GiB", 2**30), ("64k", 65536), (4096, 4096),
     ("1.5m", int(1.5 * 2**20))],
)  # fmt: skip
def test_sizes_read_like_dockers(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["lots", "12 parsecs", -1, 0, True, "m"])
def test_bad_sizes_say_how_to_write_one(bad):
    with pytest.raises(ValueError, match="size"):
        parse_size(bad)


def message(model: Any, data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return str(caught.value)


def test_stress_parameters_are_checked_with_clear_messages():
    assert CpuParams.model_validate({}).workers == 1
    assert "less than or equal to 100" in message(CpuParams, {"load": 150})
    assert "bytes or percent, not both" in message(MemoryParams, {"bytes": "1m", "percent": 5})
    assert "give bytes or percent" in message(MemoryParams, {})
    assert MemoryParams.model_validate({"oom": True}).oom
    assert MemoryParams.model_validate({"bytes": "64m"}).bytes == 64 * 2**20
    assert "invalid size" in message(IoParams, {"bytes": "huge"})
    assert "tasks must be at least 1" in message(CpuParams, {"tasks": 0})
    assert CpuParams.model_validate({"tasks": "all"}).tasks == "all"
    assert "Extra inputs" in message(CpuParams, {"cpus": 1})


def test_disk_fill_needs_an_absolute_path_and_one_amount():
    assert FillParams.model_validate({"path": "/data//x/", "size": "1m"}).path == "/data/x"
    assert "absolute directory" in message(FillParams, {"path": "data", "size": "1m"})
    assert "size or percent" in message(FillParams, {"path": "/data"})
    assert "size or percent" in message(FillParams, {"path": "/data", "size": 1, "percent": 5})


def test_process_patterns_are_re2_checked_at_validation():
    assert ProcessParams.model_validate({"pattern": "worker-[0-9]+"}).match == "name"
    assert "backreferences are not supported" in message(ProcessParams, {"pattern": r"(a)\1"})
    assert KillParams.model_validate({"pattern": "x"}).signal == "SIGKILL"
    assert "match" in message(ProcessParams, {"pattern": "x", "match": "pid"})


NO_LIMITS = read_limits({"NanoCpus": 0, "Memory": 0, "PidsLimit": None})
LIMITED = read_limits(
    {"NanoCpus": 2_000_000_000, "Memory": 256 * 2**20, "MemorySwap": 512 * 2**20, "PidsLimit": 100}
)


def test_limits_are_lowered_and_exactly_restored():
    params = LimitParams.model_validate({"cpus": 0.5, "memory": "128m", "pids_limit": 20})
    body = lowered(LIMITED, params, "resource.limit on web")
    assert body == {
        "NanoCpus": 500_000_000,
        "Memory": 128 * 2**20,
        "MemorySwap": 384 * 2**20,  # the same 256m of swap on top
        "PidsLimit": 20,
    }
    assert restoring(LIMITED, body) == {
        "NanoCpus": 2_000_000_000,
        "Memory": 256 * 2**20,
        "MemorySwap": 512 * 2**20,
        "PidsLimit": 100,
    }


def test_a_container_without_limits_gets_a_quota_and_unlimited_back():
    params = LimitParams.model_validate({"cpus": 0.25, "pids_limit": 10})
    body = lowered(NO_LIMITS, params, "resource.limit on web")
    assert body == {"CpuPeriod": 100_000, "CpuQuota": 25_000, "PidsLimit": 10}
    assert restoring(NO_LIMITS, body) == {"CpuQuota": -1, "CpuPeriod": 100_000, "PidsLimit": 0}


def test_limits_that_would_not_lower_or_could_not_be_restored_are_refused():
    with pytest.raises(InjectionFailed, match="no memory limit"):
        lowered(NO_LIMITS, LimitParams.model_validate({"memory": "64m"}), "resource.limit on web")
    with pytest.raises(InjectionFailed, match="does not lower the limit in force"):
        lowered(LIMITED, LimitParams.model_validate({"cpus": 4}), "resource.limit on web")
    with pytest.raises(InjectionFailed, match="does not lower"):
        lowered(LIMITED, LimitParams.model_validate({"memory": "1g"}), "x")
    assert "at least one of" in message(LimitParams, {})
    assert "at least 6m" in message(LimitParams, {"memory": "1m"})


def test_a_service_targets_watchdog_reaches_every_nodes_engine():
    """Managers and workers alike (helpers run wherever the tasks do), TLS files mounted;
    ssh endpoints cannot be reached from a watchdog and are left out."""
    from chaos.fault import FaultContext
    from chaos.faults.fault_helpers import watchdog
    from chaos.faults.swarm_commands import manager_endpoints
    from chaos.runtime import Runtime
    from chaos.swarm.inventory import Inventory, InventoryNode, TlsFiles
    from chaos.targets import TargetRef

    tls = TlsFiles(ca="/l/ca.pem", cert="/l/cert.pem", key="/l/key.pem")
    inventory = Inventory(
        name="lab",
        nodes=[
            InventoryNode(name="m1", role="manager", endpoint="tcp://127.0.0.1:1", tls=tls),
            InventoryNode(name="w1", role="worker", endpoint="tcp://127.0.0.1:2", tls=tls),
            InventoryNode(name="w2", role="worker", endpoint="ssh://ops@w2"),
        ],
    )
    runtime = Runtime(inventory=inventory)
    context = FaultContext(runtime, TargetRef("service", "svc1", "api"), "tabc")
    command = watchdog(context)
    assert command is not None
    assert command.argv[-2:] == (
        "tcp://127.0.0.1:1|/chaosdrill-tls/0",
        "tcp://127.0.0.1:2|/chaosdrill-tls/0",
    )
    assert "label=chaosdrill.injection=tabc" in command.argv[4]
    assert command.network_mode == "host" and command.image == runtime.swarm_node_image
    assert ("/l/ca.pem", "/chaosdrill-tls/0/ca.pem") in command.files
    # the managers' own list is unchanged: managers only
    assert manager_endpoints(context)[0] == ["tcp://127.0.0.1:1|/chaosdrill-tls/0"]
