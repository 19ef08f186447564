"""``chaosdrill recover`` works from the ledger alone: through damage, never by
guesswork, and never removing another ledger's dead man's switch."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import pytest

from chaos import liveness, watchdog
from chaos.engine.safeguards import Safeguards
from chaos.errors import InjectionFailed, RevertFailed
from chaos.faults.container import ContainerPause
from chaos.faults.network import DisconnectParams, NetworkDisconnect
from chaos.faults.swarm_node import DrainParams, NodeDrain, SwarmLoseManagers
from chaos.faults.swarm_service import ScaleParams, ServiceScale
from chaos.ledger import Entry, Ledger
from chaos.plugin_api import Fault, FaultContext, Params
from chaos.runtime import Runtime
from chaos.targets import TargetRef
from tests.conftest import chaosdrill

pytestmark = pytest.mark.docker


def dead_runner() -> dict[str, Any]:
    """The identity of a process that is gone: this one, started at another time."""
    me = liveness.this_process()
    return {"pid": me.pid, "host": me.host, "boot_id": me.boot_id, "started": (me.started or 0) + 7}


def pause_entry(container: Any, entry_id: str, **fields: Any) -> Entry:
    return Entry(
        id=entry_id,
        run_id="deadrun",
        fault="container.pause",
        step="freeze",
        target={"kind": "container", "id": container.id, "name": container.name},
        params={},
        opened_at=time.time() - 10,
        revert_at=time.time() + 600,
        **{**dead_runner(), **fields},
    )


def paused(container: Any) -> bool:
    container.reload()
    return bool(container.attrs["State"]["Paused"])


def test_recover_reverts_every_good_entry_through_a_damaged_ledger(containers, state_dir):
    first = containers.run("busybox", command=["sleep", "600"])
    second = containers.run("busybox", command=["sleep", "600"])
    first.pause()
    second.pause()
    ledger = Ledger(state_dir)
    ledger.open(pause_entry(first, "e1"))
    with ledger.path.open("a") as fh:
        fh.write('[]\n{"op": "open", "entry": {}}\n{"op":"open","entry":{"id":"torn"')
    ledger.open(pause_entry(second, "e2"))
    proc = chaosdrill("recover")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not paused(first) and not paused(second)
    assert f"{ledger.path}:2: skipped a damaged ledger line" in proc.stdout
    assert f"{ledger.path}:3: skipped a damaged ledger line" in proc.stdout
    assert f"{ledger.path}:4: skipped a damaged ledger line" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert ledger.open_entries() == []
    # the next run starts cleanly, the bad lines are kept aside for a human
    assert "[]" in (state_dir / "ledger.rejected").read_text()
    assert chaosdrill("recover").stdout.strip() == "nothing to recover"


def test_an_entry_without_its_state_before_is_left_for_a_human(containers, state_dir):
    ledger = Ledger(state_dir)
    ledger.open(
        Entry(
            id="scale1",
            run_id="deadrun",
            fault="service.scale",
            step="to-zero",
            target={"kind": "service", "id": "svc123", "name": "web"},
            params={"replicas": 0},
            opened_at=time.time() - 10,
            revert_at=time.time() + 600,
            needs_before=True,
            **dead_runner(),
        )
    )
    proc = chaosdrill("recover", "--json")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["recovered"] == [] and report["failed"] == []
    (human,) = report["needs_human"]
    assert "NEEDS A HUMAN: service.scale (to-zero) on web" in human
    assert "chaosdrill recover --forget scale1" in human
    assert [e.id for e in ledger.open_entries()] == ["scale1"]  # never guessed, never closed
    forgot = chaosdrill("recover", "--forget", "scale1")
    assert forgot.returncode == 0 and "forgot service.scale" in forgot.stdout
    assert ledger.open_entries() == []
    assert chaosdrill("recover", "--forget", "scale1").returncode == 2


@pytest.mark.parametrize(
    ("fault", "params", "kind"),
    [
        (NodeDrain(), DrainParams(), "node"),
        (ServiceScale(), ScaleParams(replicas=0), "service"),
        (NetworkDisconnect(), DisconnectParams(network="net"), "container"),
        (SwarmLoseManagers(), SwarmLoseManagers.Params(), "swarm"),
    ],
)
def test_a_revert_with_no_recorded_state_refuses_instead_of_guessing(fault, params, kind):
    runtime = Runtime(docker_url="unix:///nonexistent/engine.sock")  # never asked
    ctx = FaultContext(runtime, TargetRef(kind, "x1", "x"), "inj1")
    with pytest.raises(RevertFailed, match="recorded"):
        fault.revert(ctx, params, {})


class _NoSwitch(Fault):
    name = "test.no_switch"
    reversible = True

    def watchdog(self, ctx: FaultContext, params: Any):
        raise InjectionFailed("cannot work out the revert")

    def inject(self, ctx: FaultContext, params: Any) -> dict[str, Any]:
        raise AssertionError("must not be injected")


class _Remembers(Fault):
    name = "test.remembers"
    reversible = True

    def before(self, ctx: FaultContext, params: Any) -> dict[str, Any]:
        return {"replicas_before": 3}

    def inject(self, ctx: FaultContext, params: Any) -> dict[str, Any]:
        return {}


def test_no_entry_is_opened_when_the_watchdog_cannot_be_worked_out(tmp_path):
    ledger = Ledger(tmp_path)
    ctx = FaultContext(Runtime(), TargetRef("container", "c1", "web"), "inj1", time.time() + 5)
    with pytest.raises(InjectionFailed, match="cannot work out the revert"):
        Safeguards(ledger).arm(ctx, _NoSwitch(), "s", Params(), ctx.revert_at)
    assert ledger.open_entries() == []


def test_the_state_before_is_in_the_ledger_before_the_injection(tmp_path):
    ledger = Ledger(tmp_path)
    ctx = FaultContext(Runtime(), TargetRef("service", "s1", "web"), "inj2", None)
    armed = Safeguards(ledger).arm(ctx, _Remembers(), "s", Params(), ctx.revert_at)
    assert armed.before == {"replicas_before": 3}
    (entry,) = ledger.open_entries()
    assert entry.before == {"replicas_before": 3} and entry.needs_before


def test_recover_never_removes_a_watchdog_of_another_ledger(
    containers, docker_client, state_dir, tmp_path
):
    """A run with another state directory is not this ledger's to judge: its
    watchdog outlives its dead runner on purpose."""
    web = containers.run("busybox", command=["sleep", "600"])
    other_state = tmp_path / "other-state"
    other_state.mkdir(mode=0o700)
    other = Ledger(other_state)
    runtime = Runtime()
    armed = None
    try:
        ctx = FaultContext(
            runtime, TargetRef("container", web.id, web.name), "dw1", time.time() + 120
        )
        armed = Safeguards(other).arm(ctx, ContainerPause(), "freeze", Params(), ctx.revert_at)
        assert armed.watchdog
        # the runner of that ledger "dies": its entry's process is gone
        (entry,) = other.open_entries()
        other.close(entry.id, "test")
        other.open(replace(entry, **dead_runner()))
        proc = chaosdrill("recover")  # this test's own ledger, which knows nothing of it
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert docker_client.api.containers(filters={"id": armed.watchdog}), "it was removed"
    finally:
        if armed is not None and armed.watchdog:
            watchdog.disarm(runtime, armed.watchdog)
        runtime.close()
