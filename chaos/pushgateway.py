"""Pushing a finished run's figures to a Prometheus Pushgateway.

``chaosdrill run --pushgateway URL`` (and ``suite``, and ``api.run(...,
pushgateway=URL)``) push, once each experiment has finished, its verdict,
exit code, duration, start and end times, number of faults, each continuous
probe's and guard's figures and each fault's injection and revert times, as
gauges in one group: job ``chaosdrill``, grouping key ``experiment=<name>``.
A push replaces its group, so the next run of the same experiment replaces
the last one's figures, and a suite's experiments, having names of their
own, do not replace each other.

The push is a listener on the run's end (:class:`PushOnFinish`, a plugin
object registered for one run). It never changes the verdict: a gateway that
refuses, does not answer within :data:`PUSH_TIMEOUT` or answers with an
error becomes one of the result's notices. The URL may carry credentials
(``https://user:pass@host``, sent as HTTP basic auth); every message shows it
with the password masked.

``prometheus_client`` is imported only when a push happens.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.errors import ChaosError, InvalidArgument
from chaos.redaction import mask_credentials

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from chaos.engine.result import RunResult

__all__ = [
    "ENV",
    "JOB",
    "PUSH_TIMEOUT",
    "PushFailed",
    "PushOnFinish",
    "Pushgateway",
    "group_name",
    "push_result",
    "registry_for",
]

ENV = "CHAOSDRILL_PUSHGATEWAY"
"""The environment variable ``chaosdrill run`` and ``suite`` read when
``--pushgateway`` is not given."""
JOB = "chaosdrill"
PUSH_TIMEOUT = 5.0
"""Seconds a push may take, all included; then it is given up."""
LABEL_LIMIT = 120
"""Characters a label value keeps (longer ones are cut, ending in ``...``)."""
GROUP_LIMIT = 120
VERDICTS = ("passed", "failed", "aborted", "error")
NAME_SUFFIXES = (".chaos.yaml", ".chaos.yml", ".yaml", ".yml", ".json")
"""As :data:`chaos.suite.discover.NAME_SUFFIXES` (a layer above; a test keeps them equal)."""


class PushFailed(ChaosError):
    """A push did not go through; the message names the gateway, credentials masked."""


@dataclass(frozen=True)
class Pushgateway:
    """A checked Pushgateway URL: where to push, and the basic-auth credentials
    it carried (kept out of :attr:`base` and of :attr:`shown`)."""

    base: str
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> Pushgateway:
        """Raise InvalidArgument (``pushgateway``) unless ``url`` is an
        ``http://`` or ``https://`` URL with a host."""
        text = (url or "").strip()
        try:
            parts = urllib.parse.urlsplit(text)
            port = parts.port  # raises ValueError for a port that is not a number
        except ValueError:
            parts, port = None, None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
            or any(c.isspace() for c in text)
        ):
            raise InvalidArgument(
                "pushgateway",
                f"must be an http:// or https:// URL with a host, like "
                f"http://127.0.0.1:9091 (got {mask_credentials(text)!r})",
            )
        host = parts.hostname
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        netloc = f"{host}:{port}" if port is not None else host
        base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        username = urllib.parse.unquote(parts.username) if parts.username is not None else None
        password = urllib.parse.unquote(parts.password) if parts.password is not None else None
        return cls(base, username, password)

    @property
    def shown(self) -> str:
        """The URL for messages: the user name, if any, but never the password."""
        if self.username is None:
            return self.base
        scheme, rest = self.base.split("://", 1)
        user = urllib.parse.quote(self.username, safe="")
        return f"{scheme}://{user}:***@{rest}" if self.password is not None else self.base


def group_name(path: str | Path, cwd: Path | None = None) -> str:
    """The grouping key's ``experiment`` value for a file, as ``chaosdrill suite``
    names its experiments: the path relative to the working directory (else
    the file's name), without its suffix, ``/`` as ``.`` and other dots as ``_``."""
    file = Path(path).resolve()
    try:
        relative = file.relative_to((cwd or Path.cwd()).resolve())
    except ValueError:
        relative = Path(file.name)
    text = relative.as_posix()
    for suffix in NAME_SUFFIXES:
        if text.lower().endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    return _group(".".join(p.replace(".", "_") for p in text.split("/") if p))


def _group(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.:-]", "_", name)[:GROUP_LIMIT].strip("._-")
    return cleaned or "experiment"


def _label(value: Any) -> str:
    """A label value: credentials masked, no control characters, at most
    :data:`LABEL_LIMIT` characters."""
    text = mask_credentials(str(value if value is not None else ""))
    text = re.sub(r"\s+", " ", "".join(c if c.isprintable() else " " for c in text)).strip()
    if len(text) > LABEL_LIMIT:
        text = text[: LABEL_LIMIT - 3] + "..."
    return text


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def registry_for(result: RunResult) -> CollectorRegistry:
    """The gauges pushed for ``result`` (see the README's "Metrics in Prometheus")."""
    from prometheus_client import CollectorRegistry, Gauge

    journal = result.journal
    registry = CollectorRegistry()
    experiment = journal.experiment
    tags = experiment.get("tags") or []
    run = {
        "title": _label(experiment.get("title") or "experiment"),
        "tags": _label(",".join(sorted(str(t) for t in tags))),
    }
    names = tuple(run)

    def gauge(name: str, doc: str, labels: tuple[str, ...] = names) -> Gauge:
        return Gauge(name, doc, labels, registry=registry)

    verdict = result.verdict.value
    gauge("chaosdrill_experiment_passed", "1 if the verdict was passed, else 0").labels(**run).set(
        1 if verdict == "passed" else 0
    )
    verdicts = gauge(
        "chaosdrill_experiment_verdict",
        "1 for the run's verdict, 0 for the others",
        (*names, "verdict"),
    )
    for name in VERDICTS:
        verdicts.labels(**run, verdict=name).set(1 if name == verdict else 0)
    gauge("chaosdrill_experiment_exit_code", "the exit code of the run").labels(**run).set(
        int(result.exit_code)
    )
    if journal.duration is not None:
        gauge("chaosdrill_experiment_duration_seconds", "how long the run took").labels(**run).set(
            journal.duration
        )
    start = _epoch(journal.started_at)
    if start is not None:
        gauge(
            "chaosdrill_experiment_start_timestamp_seconds", "when the run started (Unix time)"
        ).labels(**run).set(start)
    end = _epoch(journal.ended_at)
    if end is None and start is not None and journal.duration is not None:
        end = start + journal.duration
    if end is not None:
        gauge(
            "chaosdrill_experiment_end_timestamp_seconds", "when the run ended (Unix time)"
        ).labels(**run).set(end)
    gauge("chaosdrill_experiment_faults", "fault injections the run planned").labels(**run).set(
        len(journal.faults)
    )
    gauge("chaosdrill_experiment_faults_injected", "fault injections that took effect").labels(
        **run
    ).set(sum(1 for f in journal.faults if f.applied_at is not None))
    if result.time_to_recover is not None:
        gauge(
            "chaosdrill_experiment_time_to_recover_seconds",
            "from the first fault taking effect until the system was back and stable",
        ).labels(**run).set(result.time_to_recover)

    _probe_gauges(result, gauge)
    if start is not None:
        _fault_gauges(result, start, gauge)
    return registry


def _probe_gauges(result: RunResult, gauge: Any) -> None:
    labels = ("section", "probe")
    availability = gauge(
        "chaosdrill_probe_availability_ratio",
        "share of the probed time outside outages (continuous probes and guards)",
        labels,
    )
    outage = gauge("chaosdrill_probe_longest_outage_seconds", "the longest outage", labels)
    recover = gauge(
        "chaosdrill_probe_time_to_recover_seconds",
        "from the first fault taking effect until the probe was back for good",
        labels,
    )
    passed = gauge("chaosdrill_probe_passed", "1 if within its tolerance, else 0", labels)
    journal = result.journal
    for record in (*journal.probes, *journal.guards):
        if record.summary is None:
            continue
        key = {"section": _label(record.section), "probe": _label(record.name)}
        if record.summary.availability is not None:
            availability.labels(**key).set(record.summary.availability)
        outage.labels(**key).set(record.summary.longest_outage)
        if record.time_to_recover is not None:
            recover.labels(**key).set(record.time_to_recover)
        passed.labels(**key).set(1 if record.passed else 0)


def _fault_gauges(result: RunResult, start: float, gauge: Any) -> None:
    labels = ("step", "fault", "target", "object")
    injected = gauge(
        "chaosdrill_fault_injected_timestamp_seconds",
        "when the fault's injection started (Unix time)",
        labels,
    )
    reverted = gauge(
        "chaosdrill_fault_reverted_timestamp_seconds",
        "when the fault's revert completed (Unix time)",
        labels,
    )
    seen: dict[tuple[str, ...], int] = {}
    for fault in result.journal.faults:
        if fault.injected_at is None:
            continue
        obj = _label(fault.container.get("name") or fault.container.get("id") or "")
        key = (_label(fault.step), _label(fault.fault), _label(fault.target), obj)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:  # the same step on the same object again: keep both
            key = (*key[:3], _label(f"{obj}#{seen[key]}"))
        names = dict(zip(labels, key, strict=True))
        injected.labels(**names).set(start + fault.injected_at)
        if fault.reverted_at is not None:
            reverted.labels(**names).set(start + fault.reverted_at)


def push_result(
    gateway: Pushgateway, result: RunResult, group: str, *, timeout: float = PUSH_TIMEOUT
) -> None:
    """Push ``result``'s gauges to ``gateway`` under job ``chaosdrill`` and
    ``experiment=<group>``, replacing that group. Raises PushFailed within
    about ``timeout`` seconds when it does not go through."""
    registry = registry_for(result)
    failure: list[BaseException] = []

    def send() -> None:
        from prometheus_client import push_to_gateway
        from prometheus_client.exposition import basic_auth_handler, default_handler

        def handler(url: str, method: str, timeout: float | None, headers: Any, data: bytes):
            if gateway.username is not None:
                return basic_auth_handler(
                    url, method, timeout, headers, data, gateway.username, gateway.password or ""
                )
            return default_handler(url, method, timeout, headers, data)

        try:
            push_to_gateway(
                gateway.base,
                job=JOB,
                registry=registry,
                grouping_key={"experiment": _group(group)},
                timeout=timeout,
                handler=handler,
            )
        except BaseException as exc:  # reported on the caller's thread
            failure.append(exc)

    # a thread so that the whole push (name lookup included) is bounded
    sender = threading.Thread(target=send, name="chaosdrill-pushgateway", daemon=True)
    sender.start()
    sender.join(timeout + 0.5)
    where = f"could not push to the Pushgateway at {gateway.shown}"
    if sender.is_alive():
        raise PushFailed(f"{where}: no answer within {timeout:g}s")
    if failure:
        raise PushFailed(f"{where}: {_why(failure[0], gateway, timeout)}")


def _why(exc: BaseException, gateway: Pushgateway, timeout: float) -> str:
    import socket
    import urllib.error

    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        reason: Any = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            text = "connection refused"
        elif isinstance(reason, (TimeoutError, socket.timeout)):
            text = f"no answer within {timeout:g}s"
        elif isinstance(reason, socket.gaierror):
            text = f"unknown host ({reason.strerror or reason})"
        else:
            text = str(getattr(reason, "strerror", None) or reason)
    elif isinstance(exc, (TimeoutError, socket.timeout)):
        text = f"no answer within {timeout:g}s"
    elif isinstance(exc, ConnectionError):
        text = exc.strerror or type(exc).__name__
    else:
        text = str(exc) or type(exc).__name__
    for secret in (gateway.password,):
        if secret:
            text = text.replace(secret, "***")
    return mask_credentials(text)


class PushOnFinish:
    """A plugin object for one run: on ``chaosdrill_run_finished`` it pushes the
    result to a Pushgateway (raising PushFailed, which the run reports as a
    notice)."""

    name = "pushgateway"

    def __init__(self, gateway: Pushgateway, group: str, *, timeout: float = PUSH_TIMEOUT):
        self.gateway = gateway
        self.group = _group(group)
        self.timeout = timeout

    def chaosdrill_run_finished(self, result: RunResult) -> None:
        push_result(self.gateway, result, self.group, timeout=self.timeout)
