"""Finding the containers a probe looks at (a ``target`` or a ``container`` name),
and running a probe's command inside one's network namespace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chaos.helper_containers import HELPER_TIMEOUT
from chaos.plugin_api import ChaosError, describe_engine_error, run_in_netns

if TYPE_CHECKING:
    from chaos.plugin_api import Runtime, TargetRef


@dataclass(frozen=True)
class Inspected:
    label: str
    info: dict[str, Any] | None
    problem: str = ""


def inspect_all(
    runtime: Runtime, container: str | None, targets: tuple[TargetRef, ...]
) -> list[Inspected]:
    """Inspect the named container, or every container of the target.

    A container that no longer exists, or an engine that does not answer, is
    an ``Inspected`` with a ``problem``, so the probe fails instead of erroring.
    """
    wanted = [(container, container)] if container else [(t.name, t.id) for t in targets]
    out = []
    for label, ref in wanted:
        try:
            out.append(Inspected(label, runtime.docker.api.inspect_container(ref)))
        except Exception as exc:
            out.append(Inspected(label, None, describe_engine_error(exc)))
    return out


def run_from(
    runtime: Runtime, container: str, argv: list[str], purpose: str, stdin: bytes | None = None
) -> tuple[int, str]:
    """Run ``argv`` in the network namespace of the container named ``container``.

    Raises :class:`HelperUnavailable`, naming the container, when it is not
    running or the helper cannot run: the probes turn that into a failed check.
    Values that may be secret go in ``stdin``, not in ``argv``.
    """
    container_id, problem = usable(inspect_all(runtime, container, ())[0])
    if container_id is None:
        raise HelperUnavailable(problem)
    return run_in_netns_of(runtime, container_id, argv, purpose, stdin)


def usable(item: Inspected) -> tuple[str | None, str]:
    """(id, "") when the inspected container runs (paused is fine: its network
    namespace still answers), or (None, why not) naming it."""
    if item.info is None:
        return None, f"{item.label}: {item.problem}"
    state = item.info.get("State") or {}
    if not state.get("Running"):
        return None, f"{item.label}: not running ({state.get('Status', 'unknown')})"
    return item.info["Id"], ""


class HelperUnavailable(ChaosError):
    """The probe's helper container could not be started or waited for."""


def run_in_netns_of(
    runtime: Runtime, container_id: str, argv: list[str], purpose: str, stdin: bytes | None = None
) -> tuple[int, str]:
    """Run ``argv`` in ``container_id``'s network namespace, with no extra capabilities
    (see :func:`chaos.netns.run_in_netns`): Docker's embedded DNS (127.0.0.11)
    answers it as it answers the container. Starting the helper costs about
    0.3 s. Raises :class:`HelperUnavailable` when it cannot run.
    """
    return run_in_netns(
        runtime, container_id, argv, purpose=purpose, error=HelperUnavailable, stdin=stdin
    )


def seconds(value: float) -> str:
    """A timeout for ``timeout``/``curl --max-time``: never 0, which means "no limit" to both."""
    return f"{max(value, 0.001):.3f}"


MAX_HELPER_TIMEOUT = HELPER_TIMEOUT - 5.0
"""The longest ``timeout`` of a probe that runs in a helper: the helper itself
is waited for at most ``chaos.helper_containers.HELPER_TIMEOUT``, start-up included."""


def within_helper_timeout(value: float, what: str) -> float:
    if value > MAX_HELPER_TIMEOUT:
        raise ValueError(
            f"{what} runs in a helper container: timeout must be at most "
            f"{MAX_HELPER_TIMEOUT:g}s, got {value:g}s"
        )
    return value
