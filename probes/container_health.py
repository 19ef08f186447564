"""``container.health``: the container runs and its HEALTHCHECK reports healthy.

Docker's health states are ``starting`` (during the start period and until
the first check passes), ``healthy`` and ``unhealthy`` (after ``retries``
failed checks); a container without a HEALTHCHECK has none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from chaos.plugin_api import Check, Params, Probe, hookimpl
from probes._containers import inspect_all

if TYPE_CHECKING:
    from chaos.plugin_api import Registry, Runtime, TargetRef


class HealthParams(Params):
    container: str | None = None
    """Container name or id; or give the step a ``target``."""
    expect: Literal["auto", "healthy", "running"] = "auto"
    """``auto``: healthy when the container has a HEALTHCHECK, else running."""


class ContainerHealthProbe(Probe):
    name = "container.health"
    summary = "the container is running and its HEALTHCHECK reports healthy"
    Params = HealthParams
    accepts_target = True

    def check(
        self, runtime: Runtime, params: HealthParams, targets: tuple[TargetRef, ...]
    ) -> Check:
        results = inspect_all(runtime, params.container, targets)
        if not results:
            return Check(False, "no container to check (the target selected none)")
        failures, states = [], []
        for item in results:
            if item.info is None:
                failures.append(f"{item.label}: {item.problem}")
                continue
            state = item.info["State"]
            health = (state.get("Health") or {}).get("Status", "none")
            status = state.get("Status", "unknown")
            if state.get("Paused"):
                status = "paused"
            description = f"{item.label}: {status}, health {health}"
            states.append(description)
            needs_health = params.expect == "healthy" or (
                params.expect == "auto" and health != "none"
            )
            if status != "running" or (needs_health and health != "healthy"):
                failures.append(description)
        if failures:
            return Check(False, "; ".join(failures))
        return Check(True, "; ".join(states))


@hookimpl
def chaosdrill_register_probes(registry: Registry) -> None:
    registry.add_probe(ContainerHealthProbe)
