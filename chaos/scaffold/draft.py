"""The text of a first experiment, with a comment on every part, built from the
services :mod:`chaos.scaffold.model` describes. Nothing here touches an engine:
the same facts always give the same file.

Every value that came from the engine (a project, a label, a name) is written
as a JSON string, which YAML reads back unchanged whatever it contains, and is
stripped of control characters before it goes into a comment.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from chaos.scaffold.model import Port, Selection, Service, pick_victim

FILENAME = "first-experiment.yaml"
CRASH_WATCH = 5
"""Seconds the method goes on after the crash, watching the system under it."""
MIN_AVAILABILITY = 0.5
MAX_OUTAGE = 10
"""Seconds of errors a crash is allowed at a stretch (plus a HEALTHCHECK interval
when only the health is watched: a restarted container reports ``starting`` until
its first check passes)."""
RECOVERY_WITHIN = 30
STABLE_FOR = 3


@dataclass(frozen=True)
class Draft:
    """An experiment's text and what the terminal should say about it."""

    text: str
    victim: Service | None
    """The service it crashes; None for the template."""
    facts: tuple[str, ...] = ()
    """One line per service found (:func:`describe`)."""
    warning: str | None = None
    """What the user should expect that they may not (a crash nothing restarts)."""
    why: str | None = None
    """Why it is the template: what was not found."""


def _q(value: object) -> str:
    """A scalar as YAML that reads back as the same string."""
    return json.dumps(str(value))


def _plain(text: object) -> str:
    """Text safe inside a one-line comment."""
    return "".join(c if c.isprintable() else "?" for c in str(text))


def _flow(mapping: dict[str, object]) -> str:
    parts = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{_q(k)}: {_q(v)}" for k, v in value.items())
            parts.append(f"{key}: {{{inner}}}")
        else:
            parts.append(f"{key}: {_q(value)}")
    return "{" + ", ".join(parts) + "}"


def _seconds(value: float) -> str:
    return f"{value:g}s"


def describe(service: Service) -> str:
    """One line of facts about a service, for the file's header and the terminal."""
    count = len(service.replicas)
    restart = f"restart: {service.restart_policy}" if service.restarts else "no restart policy"
    interval = service.health_interval
    health = f"HEALTHCHECK every {_seconds(interval)}" if interval is not None else "no HEALTHCHECK"
    port = service.http
    http = (
        f"{port.url} answered {port.http_status}"
        if port is not None
        else "no port answered HTTP on 127.0.0.1"
    )
    replicas = f"{count} replica{'' if count == 1 else 's'}"
    return _plain(f"{service.target}: {replicas}, {restart}, {health}, {http}")


def draft(selection: Selection, services: list[Service]) -> Draft:
    """The experiment: crash one replica of the service :func:`pick_victim`
    chooses, watch it, and check that everything is back."""
    victim = pick_victim(services)
    others = [s for s in services if s is not victim]
    port = victim.http
    interval = victim.health_interval
    within = (
        RECOVERY_WITHIN if interval is None else max(RECOVERY_WITHIN, math.ceil(2 * interval + 10))
    )
    lines = _header(selection, services, victim)
    lines += [
        "version: 1",
        f"title: {_q(f'{victim.target} survives a crashed replica')}",
        "description: >",
        f"  Crash one replica of {_plain(victim.target)} and check that it comes back",
        "  and that the rest keeps working. Written by chaosdrill init; edit freely.",
        "tags: [init]",
        "",
    ]
    if port is not None:
        lines += [
            "# Values used below as ${name}.",
            "configuration:",
            f"  {victim.target}_url: {_q(port.url)}",
            "",
        ]
    lines += _targets(selection, victim, others)
    lines += _steady_state(victim, others)
    lines += _method(victim)
    lines += _probes(victim, port, interval)
    lines += [
        f"# Recovery: once the method is over, the steady state must be back within {within}s",
        f"# and then hold for {STABLE_FOR}s without one failed check; otherwise the verdict",
        "# is failed.",
    ]
    if interval is not None and within > RECOVERY_WITHIN:
        lines.append(
            f"# ({within}s: the HEALTHCHECK runs every {_seconds(interval)}, and a restarted"
            " container is healthy only after its first check.)"
        )
    lines.append(f"recovery: {{within: {within}s, stable_for: {STABLE_FOR}s}}")
    warning = None
    if not victim.restarts:
        warning = (
            f"{_plain(victim.target)} has no restart policy: after the crash nothing starts it "
            "again, so expect the verdict failed (that is the weakness this experiment finds)"
        )
    facts = tuple(describe(s) for s in services)
    return Draft("\n".join(lines) + "\n", victim, facts, warning)


def _header(selection: Selection, services: list[Service], victim: Service) -> list[str]:
    lines = [
        "# A first chaos experiment, written by `chaosdrill init` from",
        f"# {_plain(selection.describe())} as they were running:",
        *(f"#   {describe(s)}" for s in services),
        "#",
        f"# It asks: when one replica of {_plain(victim.target)} crashes (as a segfault or the",
        "# OOM killer would end it), does it come back, and how much do its users notice?",
    ]
    if not victim.restarts:
        lines += [
            f"# {_plain(victim.target)} has no restart policy, and nothing else here has one:",
            "# nothing starts it again, so the verdict will be failed until it gets one",
            "# (Compose: `restart: unless-stopped`). That is what this experiment finds.",
        ]
    return [*lines, *_usage_lines(), ""]


def _usage_lines() -> list[str]:
    return [
        "#",
        f"# Check it:  chaosdrill validate {FILENAME}",
        f"# Preview:   chaosdrill run --dry-run {FILENAME}   (what it selects; touches nothing)",
        f"# Run it:    chaosdrill run {FILENAME}   (exit 0 passed, 1 failed; journal in reports/)",
        '# The format is described in the README, under "The experiment format".',
    ]


def _targets(selection: Selection, victim: Service, others: list[Service]) -> list[str]:
    compose = victim.project is not None and victim.service is not None
    how = (
        "Compose project and service (labels Compose puts on every container),\n"
        "# not by container name, so a recreated container is found again"
        if compose
        else "container name: it is not part of a Compose project (labels are sturdier)"
    )
    lines = [
        "# Targets: the containers each step acts on or looks at, selected by",
        f"# {how}.",
        "targets:",
        "  # the service the experiment crashes: one replica (mode: one), never more",
        f"  # (max_targets: 1); {len(victim.replicas)} running now",
        f"  {victim.target}:",
        f"    select: {_flow(victim.selector(selection))}",
        "    mode: one",
        "    max_targets: 1",
    ]
    if others:
        lines.append("  # the others are only looked at, every replica (mode: all)")
    for service in others:
        lines += [
            f"  {service.target}:",
            f"    select: {_flow(service.selector(selection))}",
            "    mode: all",
        ]
    return [*lines, ""]


def _steady_state(victim: Service, others: list[Service]) -> list[str]:
    lines = [
        "# The steady state: what working means. It must hold before the crash (or nothing",
        "# is touched: the verdict is failed) and be back after it, within recovery.within.",
        "# container.health passes while every selected container runs and, when it has a",
        "# HEALTHCHECK, reports healthy.",
        "steady_state:",
    ]
    for service in [victim, *others]:
        http = service.http
        if http is not None:
            url = f"${{{victim.target}_url}}" if service is victim else http.url
            lines.append(
                f"  # {_plain(service.target)} publishes port {http.container_port} on "
                f"{_plain(http.host)}:{http.host_port}; GET / answered {http.http_status}"
            )
            if http.http_status is not None and http.http_status >= 400:
                lines.append(
                    "  # (an error status: point the url at a page that answers 200, such as"
                    " a health endpoint)"
                )
            lines.append(
                f"  - {{name: {service.target}-answers, probe: http, url: {_q(url)}, "
                f"expect: {{status: {http.http_status}}}}}"
            )
        if service.health_interval is not None:
            lines.append(
                f"  # {_plain(service.target)} has a HEALTHCHECK (every "
                f"{_seconds(service.health_interval)}): it must report healthy"
            )
            lines.append(
                f"  - {{name: {service.target}-healthy, probe: container.health, "
                f"target: {service.target}}}"
            )
        elif http is None:
            lines.append(
                f"  # {_plain(service.target)} has no HEALTHCHECK and no HTTP port: it must run"
            )
            lines.append(
                f"  - {{name: {service.target}-running, probe: container.health, "
                f"target: {service.target}}}"
            )
    return [*lines, ""]


def _method(victim: Service) -> list[str]:
    return [
        "# The method: the faults, in time. container.crash kills the main process from",
        "# outside Docker, as a crash would, so the restart policy applies (container.kill",
        "# would not: Docker counts that as a manual stop). The method goes on",
        f"# {CRASH_WATCH}s after the crash, to watch the system under the fault.",
        "method:",
        f"  - {{name: crash-{victim.target}, fault: container.crash, target: {victim.target}, "
        f"at: 0s, duration: {CRASH_WATCH}s}}",
        "",
    ]


def _probes(victim: Service, port: Port | None, interval: float | None) -> list[str]:
    lines = [
        "# Continuous probes: sampled from the crash to the end of recovery. A crash may",
        "# cost some errors; the tolerance says how many are fine. Tighten it to what you",
        "# promise your users (min_availability: 0.99, max_outage: 2s...).",
        "probes:",
    ]
    if port is not None:
        lines += [
            f"  - name: {victim.target}-availability",
            "    probe: http",
            f"    url: {_q(f'${{{victim.target}_url}}')}",
            "    interval: 200ms",
            "    timeout: 1s",
            "    tolerance:",
            f"      min_availability: {MIN_AVAILABILITY:g}   # up at least half the probed time",
            f"      max_outage: {MAX_OUTAGE}s   # and never down longer than this at a stretch",
            "",
        ]
        return lines
    outage = MAX_OUTAGE + math.ceil(interval or 0)
    lines += [
        f"  # {_plain(victim.target)} publishes no HTTP port here: its health is watched instead",
        f"  - name: {victim.target}-health",
        "    probe: container.health",
        f"    target: {victim.target}",
        "    interval: 1s",
        "    tolerance:",
        f"      min_availability: {MIN_AVAILABILITY:g}   # up at least half the probed time",
        f"      max_outage: {outage}s   # and never down longer than this at a stretch",
        "",
    ]
    return lines


def template(selection: Selection, why: str) -> Draft:
    """A commented experiment to fill in, for when nothing was found to inspect.
    It validates as it is; its selectors match nothing until they are edited."""
    project = selection.compose_project or "my-project"
    if selection.label:
        select = _flow({"labels": {selection.label[0]: selection.label[1]}})
        watched = select
    else:
        select = _flow({"compose_project": project, "compose_service": "web"})
        watched = _flow({"compose_project": project, "compose_service": "db"})
    lines = [
        "# A first chaos experiment to fill in, written by `chaosdrill init`.",
        f"# It found nothing to build one from: {_plain(why)}.",
        "# Start the containers and run `chaosdrill init --force` again, or edit the",
        "# values marked EDIT below by hand.",
        *_usage_lines(),
        "",
        "version: 1",
        'title: "web survives a crashed replica"',
        "tags: [init]",
        "",
        "# Values used below as ${name}.",
        "configuration:",
        '  web_url: "http://127.0.0.1:8080/"   # EDIT: where the service answers HTTP',
        "",
        "# Targets: the containers each step acts on or looks at. Select by Compose",
        "# project and service (or labels), not by name, so a recreated container is found.",
        "targets:",
        "  # the service to crash: one replica (mode: one), never more (max_targets: 1)",
        "  web:",
        f"    select: {select}   # EDIT",
        "    mode: one",
        "    max_targets: 1",
        "  # a service that is only looked at, every replica (mode: all)",
        "  db:",
        f"    select: {watched}   # EDIT",
        "    mode: all",
        "",
        "# The steady state: what working means. It must hold before the crash (or nothing",
        "# is touched) and be back after it, within recovery.within.",
        "steady_state:",
        '  - {name: web-answers, probe: http, url: "${web_url}", expect: {status: 200}}',
        "  # running and, when it has a HEALTHCHECK, healthy",
        "  - {name: web-healthy, probe: container.health, target: web}",
        "  - {name: db-healthy, probe: container.health, target: db}",
        "",
        "# The method: container.crash kills the main process from outside Docker, as a",
        "# crash would, so the restart policy applies. The method goes on 5s after it.",
        "method:",
        "  - {name: crash-web, fault: container.crash, target: web, at: 0s, duration: 5s}",
        "",
        "# Continuous probes, from the crash to the end of recovery, with a tolerance:",
        "# how many errors a crash may cost.",
        "probes:",
        "  - name: web-availability",
        "    probe: http",
        '    url: "${web_url}"',
        "    interval: 200ms",
        "    timeout: 1s",
        "    tolerance:",
        f"      min_availability: {MIN_AVAILABILITY:g}   # up at least half the probed time",
        f"      max_outage: {MAX_OUTAGE}s   # and never down longer than this at a stretch",
        "",
        "# Recovery: the steady state back within 30s, then holding for 3s.",
        f"recovery: {{within: {RECOVERY_WITHIN}s, stable_for: {STABLE_FOR}s}}",
    ]
    return Draft("\n".join(lines) + "\n", None, why=_plain(why))
