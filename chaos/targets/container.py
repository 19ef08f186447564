"""The ``container`` target kind: running containers matched by label, name, compose project or image."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.plugin_api import (
    LABEL_HELPER,
    Regex,
    Selector,
    TargetError,
    TargetKind,
    TargetRef,
    engine_errors,
    fullmatch,
    hookimpl,
)

if TYPE_CHECKING:
    from chaos.plugin_api import Registry, Runtime

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"


class ContainerSelector(Selector):
    labels: dict[str, str] | None = None
    name: str | None = None
    """Exact container name."""
    name_regex: Regex | None = None
    """Regular expression that must match the whole name."""
    compose_project: str | None = None
    compose_service: str | None = None
    image: str | None = None
    """Image reference as the container was created with it, e.g. ``nginx:1.25``."""


class ContainerKind(TargetKind):
    name = "container"
    summary = "running containers on the engine"
    Selector = ContainerSelector

    def candidates(self, runtime: Runtime, selector: Selector) -> list[TargetRef]:
        assert isinstance(selector, ContainerSelector)
        labels = dict(selector.labels or {})
        if selector.compose_project:
            labels[COMPOSE_PROJECT] = selector.compose_project
        if selector.compose_service:
            labels[COMPOSE_SERVICE] = selector.compose_service
        filters: dict[str, object] = {"status": ["running", "paused"]}
        if labels:
            filters["label"] = [f"{k}={v}" for k, v in labels.items()]
        with engine_errors(TargetError, "listing containers"):
            summaries = runtime.docker.api.containers(filters=filters)
        found = []
        for summary in summaries:
            name = (summary.get("Names") or ["/?"])[0].lstrip("/")
            container_labels = summary.get("Labels") or {}
            if LABEL_HELPER in container_labels:
                continue  # never our own helpers
            if selector.name is not None and name != selector.name:
                continue
            if selector.name_regex and not fullmatch(selector.name_regex, name):
                continue
            if selector.image is not None and summary.get("Image") != selector.image:
                continue
            found.append(
                TargetRef(
                    kind="container",
                    id=summary["Id"],
                    name=name,
                    labels=container_labels,
                    meta={"image": summary.get("Image")},
                )
            )
        return sorted(found, key=lambda ref: (ref.name, ref.id))


@hookimpl
def chaosdrill_register_target_kinds(registry: Registry) -> None:
    registry.add_target_kind(ContainerKind)
