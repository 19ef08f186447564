"""Network faults inside real containers' namespaces: each effect observed, then reverted."""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from typing import Any

import pytest

from chaos.fault import FaultContext
from chaos.faults.network import (
    NetworkBandwidth,
    NetworkBlackhole,
    NetworkDns,
    NetworkLatency,
    NetworkLoss,
    NetworkPartition,
    in_target_netns,
)
from chaos.netns import chain_name, qdisc_handle
from chaos.runtime import Runtime
from chaos.targets import TargetRef
from tests.conftest import labels_for_test

pytestmark = pytest.mark.docker


def on(containers: Any, net: Any, name: str, **kw: Any) -> Any:
    return containers.run(name=f"{net.name}-{name}", network=net.name, hostname=name, **kw)


def ref(container: Any) -> TargetRef:
    return TargetRef("container", container.id, container.name)


def ctx(runtime: Runtime, container: Any, **selections: list[Any]) -> FaultContext:
    return FaultContext(
        runtime,
        ref(container),
        f"t{uuid.uuid4().hex[:12]}",
        selections={name: tuple(ref(c) for c in cs) for name, cs in selections.items()},
    )


FETCH = """
host="$1"; path="$2"; wait="$3"
case "$host" in
  *[a-z]*)
    host=$(timeout "$wait" nslookup "$host" 2>/dev/null \\
      | awk '/^Address/ && !/#53/ && !/:53$/ {a=$NF} END {print a}') ;;
esac
[ -n "$host" ] || { echo "does not resolve"; exit 2; }
printf 'GET %s HTTP/1.0\\r\\n\\r\\n' "$path" | timeout "$wait" nc "$host" 80 > /tmp/fetched
head -n 1 /tmp/fetched | grep -q ' 200 ' || { echo "no answer"; exit 3; }
"""
"""GET a path from a peer with busybox's own resolver and nc: the static busybox
wget cannot resolve names through glibc's NSS."""


def fetch(client: Any, url: str, timeout: int = 1) -> bool:
    """Whether ``client`` gets ``url`` (a peer on the test network) within ``timeout``."""
    host, _, path = url.removeprefix("http://").partition("/")
    code, _ = client.exec_run(["sh", "-c", FETCH, "fetch", host, "/" + path, str(timeout)])
    return code == 0


def in_netns(runtime: Runtime, container: Any, argv: list[str]) -> tuple[int, str]:
    """Run ``argv`` with NET_ADMIN in ``container``'s namespace, the way the faults do."""
    return in_target_netns(ctx(runtime, container), argv, "test helper")


def chains(runtime: Runtime, container: Any) -> str:
    """The iptables rules inside ``container``'s namespace, as iptables -S prints them."""
    return in_netns(runtime, container, ["iptables", "-S"])[1]


CHAOS_QDISC = re.compile(r"qdisc \w+ cd[0-9a-f]{2}: ")
"""A qdisc an injection of chaosdrill added (its handle is ``cdXX:``)."""


def qdiscs(runtime: Runtime, container: Any) -> str:
    return in_netns(runtime, container, ["tc", "qdisc", "show"])[1]


def test_partition_cuts_both_ways_and_spares_the_rest(containers, net, runtime):
    web, db, other = (on(containers, net, n) for n in ("web", "db", "other"))
    assert fetch(web, f"http://{db.name}/") and fetch(db, f"http://{web.name}/")

    fault = NetworkPartition()
    params = fault.Params.model_validate({"from": ["db"]})
    context = ctx(runtime, web, db=[db])
    state = fault.inject(context, params)

    assert state["chain"] == chain_name(context.injection_id)
    assert not fetch(web, f"http://{db.name}/"), "web cannot reach db"
    assert not fetch(db, f"http://{web.name}/"), "db cannot reach web (symmetric)"
    assert fetch(web, f"http://{other.name}/") and fetch(other, f"http://{web.name}/"), (
        "others untouched"
    )
    assert fetch(db, f"http://{other.name}/"), "db still reaches others"
    assert state["chain"] in chains(runtime, web)
    assert "CD-" not in chains(runtime, db), "rules live only in the target's namespace"

    fault.revert(context, params, state)
    assert fetch(web, f"http://{db.name}/") and fetch(db, f"http://{web.name}/")
    assert "CD-" not in chains(runtime, web)


def test_partition_egress_only(containers, net, runtime):
    web, db = on(containers, net, "web"), on(containers, net, "db")
    fault = NetworkPartition()
    params = fault.Params.model_validate({"from": ["db"], "direction": "egress"})
    context = ctx(runtime, web, db=[db])
    state = fault.inject(context, params)
    try:
        assert not fetch(web, f"http://{db.name}/")
    finally:
        fault.revert(context, params, state)
    assert fetch(web, f"http://{db.name}/")


def test_partition_cuts_every_address_of_a_peer_on_several_networks(
    containers, net, runtime, docker_client, request
):
    second = docker_client.networks.create(
        f"cdtest-{uuid.uuid4().hex[:8]}", labels=labels_for_test(request.node.name[:60])
    )
    try:
        web, db = on(containers, net, "web"), on(containers, net, "db")
        second.connect(web)
        second.connect(db)
        db.reload()
        addresses = [n["IPAddress"] for n in db.attrs["NetworkSettings"]["Networks"].values()]
        assert len(addresses) == 2
        fault = NetworkPartition()
        params = fault.Params.model_validate({"from": ["db"]})
        context = ctx(runtime, web, db=[db])
        state = fault.inject(context, params)
        try:
            for ip in addresses:
                assert not fetch(web, f"http://{ip}/"), f"{ip} is cut too"
        finally:
            fault.revert(context, params, state)
        assert all(fetch(web, f"http://{ip}/") for ip in addresses)
    finally:
        second.reload()
        for container in second.containers:
            with contextlib.suppress(Exception):
                second.disconnect(container, force=True)
        second.remove()


def test_dns_fault_breaks_names_but_not_addresses(containers, net, runtime):
    web, db = on(containers, net, "web"), on(containers, net, "db")
    db.reload()
    db_ip = db.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
    assert fetch(web, f"http://{db.name}/")
    for mode in ("drop", "reject"):
        fault = NetworkDns()
        params = fault.Params(mode=mode)
        context = ctx(runtime, web)
        state = fault.inject(context, params)
        try:
            started = time.monotonic()
            assert not fetch(web, f"http://{db.name}/", timeout=2), (
                f"{mode}: the name does not resolve"
            )
            if mode == "reject":
                assert time.monotonic() - started < 2, "reject fails fast"
            assert fetch(web, f"http://{db_ip}/"), "addresses still work"
        finally:
            fault.revert(context, params, state)
        assert fetch(web, f"http://{db.name}/")


def test_blackhole_port_and_loss(containers, net, runtime):
    web, db = on(containers, net, "web"), on(containers, net, "db")
    hole = NetworkBlackhole()
    params = hole.Params(port=80)
    context = ctx(runtime, web)
    state = hole.inject(context, params)
    try:
        assert not fetch(web, f"http://{db.name}/")
        assert fetch(web, "http://127.0.0.1/"), "loopback is never blackholed"
    finally:
        hole.revert(context, params, state)
    assert fetch(web, f"http://{db.name}/")

    loss = NetworkLoss()
    params = loss.Params(percent=100)
    context = ctx(runtime, db)
    state = loss.inject(context, params)
    try:
        assert not fetch(web, f"http://{db.name}/")
    finally:
        loss.revert(context, params, state)
    assert fetch(web, f"http://{db.name}/")


def test_bandwidth_limits_transfer_rate(containers, net, runtime):
    web, db = on(containers, net, "web"), on(containers, net, "db")
    code, _ = db.exec_run(["sh", "-c", "head -c 400000 /dev/zero > /www/blob"])
    assert code == 0

    def transfer_seconds() -> float:
        started = time.monotonic()
        assert fetch(web, f"http://{db.name}/blob", timeout=30)
        return time.monotonic() - started

    baseline = transfer_seconds()
    fault = NetworkBandwidth()
    params = fault.Params(rate="800kbit")
    context = ctx(runtime, db)
    state = fault.inject(context, params)
    try:
        assert f" {state['handle']} " in qdiscs(runtime, db)  # the injection's own handle
        limited = transfer_seconds()  # 400 kB at 800 kbit/s is about 4 s
    finally:
        fault.revert(context, params, state)
    assert limited > 2.5 and limited > baseline + 2, (baseline, limited)
    assert f" {state['handle']} " not in qdiscs(runtime, db)
    assert not CHAOS_QDISC.search(qdiscs(runtime, db))


def _netem_available(runtime: Runtime, container: Any) -> bool:
    probe = "tc qdisc add dev lo root netem delay 1ms && tc qdisc del dev lo root"
    return in_netns(runtime, container, ["sh", "-c", probe])[0] == 0


def test_latency_with_netem_or_a_clear_refusal_without(containers, net, runtime):
    web, db = on(containers, net, "web"), on(containers, net, "db")
    fault = NetworkLatency()
    params = fault.Params(delay="300ms")
    context = ctx(runtime, db)
    if not _netem_available(runtime, db):
        from chaos.errors import InjectionFailed

        with pytest.raises(InjectionFailed, match=r"sch_netem.*use proxy\.latency instead"):
            fault.inject(context, params)
        assert not CHAOS_QDISC.search(qdiscs(runtime, db)), "nothing left half-applied"
        pytest.skip("kernel lacks sch_netem: the refusal was checked, the delay cannot be")
    state = fault.inject(context, params)
    try:
        started = time.monotonic()
        assert fetch(web, f"http://{db.name}/", timeout=5)
        assert time.monotonic() - started >= 0.3
    finally:
        fault.revert(context, params, state)


def test_disconnect_and_reconnect_with_the_same_aliases(containers, net, runtime, docker_client):
    from chaos.faults.network import NetworkDisconnect

    web = on(containers, net, "web")
    db = containers.run(name=f"{net.name}-db", wait_healthy=True)
    docker_client.api.disconnect_container_from_network(db.id, "bridge")
    net.connect(db, aliases=["database"])
    assert fetch(web, "http://database/"), "reachable by its alias"

    fault = NetworkDisconnect()
    params = fault.Params(network=net.name)
    context = ctx(runtime, db)
    state = fault.inject(context, params)
    assert state["aliases"] == ["database"] and state["address_before"]
    db.reload()
    assert net.name not in db.attrs["NetworkSettings"]["Networks"]
    assert not fetch(web, "http://database/")

    observed = fault.revert(context, params, state)
    assert fetch(web, "http://database/"), "reconnected with its alias"
    assert observed is not None and observed["address_after"]
    assert observed["address_changed"] == (observed["address_after"] != state["address_before"])


def test_disconnect_from_a_network_it_is_not_on_is_refused(containers, net, runtime):
    from chaos.errors import InjectionFailed
    from chaos.faults.network import NetworkDisconnect

    web = containers.run()
    with pytest.raises(InjectionFailed, match=f"not connected to network '{net.name}'"):
        NetworkDisconnect().inject(ctx(runtime, web), NetworkDisconnect.Params(network=net.name))


def test_overlapping_bandwidth_faults_never_undo_each_other(chaos, containers, net, runtime):
    """Through the ``chaos`` fixture: the second bandwidth fault on a container is
    refused with the reason (a device has one root qdisc), and failing does not
    take the first one's qdisc with it; each revert deletes only its own."""
    from chaos.errors import InjectionFailed

    db = on(containers, net, "db")
    target = {"select": {"name": db.name}}
    with chaos.fault("network.bandwidth", target=target, duration="60s", rate="1mbit") as first:
        handle = first.state["handle"]
        assert f"tbf {handle} " in qdiscs(runtime, db)
        with pytest.raises(InjectionFailed) as refused:
            chaos.fault("network.bandwidth", target=target, duration="30s", rate="64kbit").start()
        message = str(refused.value)
        assert f"already carries a root qdisc (tbf {handle})" in message
        assert "cannot overlap" in message
        assert f"tbf {handle} " in qdiscs(runtime, db), "the refused fault removed the first"
        assert "rate 1Mbit" in qdiscs(runtime, db)
    assert not CHAOS_QDISC.search(qdiscs(runtime, db))


def test_a_revert_deletes_only_its_own_qdisc(containers, net, runtime):
    db = on(containers, net, "db")
    fault = NetworkBandwidth()
    params = fault.Params(rate="1mbit")
    applied = ctx(runtime, db)
    state = fault.inject(applied, params)
    try:
        other = ctx(runtime, db)  # another injection's revert (its watchdog, say)
        while qdisc_handle(other.injection_id) == state["handle"]:
            other = ctx(runtime, db)
        fault.revert(other, params, {})
        assert f" {state['handle']} " in qdiscs(runtime, db)
    finally:
        fault.revert(applied, params, state)
    assert not CHAOS_QDISC.search(qdiscs(runtime, db))
