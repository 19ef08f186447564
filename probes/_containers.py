"""Finding the containers a probe looks at: a ``target`` or a ``container`` name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chaos.docker_client import describe_engine_error

if TYPE_CHECKING:
    from chaos.runtime import Runtime
    from chaos.targets import TargetRef


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
