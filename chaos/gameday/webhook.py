"""The built-in webhook notifier: game day events POSTed as JSON, or to Slack.

Configured from a game day file's ``notify`` entries::

    notify:
      - webhook: {env: CHAOS_WEBHOOK}   # or {file: PATH}, or the URL itself
        slack: true                     # Slack's incoming-webhook payload (default false)
        announce: 10m                   # also announce each fire 10 minutes ahead
        events: [finished, skipped]     # which kinds (default: every kind)

Each entry becomes one :class:`WebhookNotifier`, a plugin object that
implements ``chaosdrill_gameday_event`` and is registered with the plugin
manager of the process serving that file (:func:`register_webhooks`), as any
plugin object can be. It is not a module in ``BUILTIN_PLUGINS``: its settings
belong to one game day file, and every command that loads plugins would
otherwise carry it.

A webhook URL usually is the secret (Slack's carry their token in the path),
so no URL is ever printed, logged or put in an exception: a webhook is named
``webhook #1 (from $CHAOS_WEBHOOK)``, and a failed delivery is logged with
that name and what went wrong (``HTTP 500``, ``Connection refused``, ``no
answer within 5s``).
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chaos import __version__
from chaos.durations import parse_duration
from chaos.errors import UsageError
from chaos.experiment.configuration import resolve_configuration
from chaos.gameday.events import KINDS, GameDayEvent
from chaos.plugin_api import hookimpl

DEFAULT_TIMEOUT = 5.0
USER_AGENT = f"chaosdrill/{__version__}"
PLUGIN_PREFIX = "chaosdrill.webhook#"
"""Registered plugin names: ``chaosdrill.webhook#1``, ``#2``..."""

log = logging.getLogger("chaos.gameday.webhook")


class WebhookError(UsageError):
    """A ``notify`` entry cannot be used (its message never holds the URL)."""


@dataclass(frozen=True)
class WebhookConfig:
    """One webhook, with its URL already resolved."""

    url: str = field(repr=False)
    source: str = "the game day file"
    """Where the URL came from, safe to print: ``$NAME``, ``file PATH``."""
    slack: bool = False
    announce: float | None = None
    """Seconds ahead of a fire at which to announce it; None: no announcements."""
    events: frozenset[str] | None = None
    """The kinds to send; None: every kind (``announce`` only with ``announce`` set)."""
    timeout: float = DEFAULT_TIMEOUT


def check_url(url: str, name: str) -> None:
    """Refuse anything but an http(s) URL with a host, without saying the URL."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        raise WebhookError(f"{name}: the webhook is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise WebhookError(f"{name}: the webhook must be an http:// or https:// URL")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise WebhookError(f"{name}: the webhook URL has a bad port") from None
    if not parts.hostname:
        raise WebhookError(f"{name}: the webhook URL has no host")
    if any(c.isspace() or ord(c) < 32 for c in url.strip()):
        raise WebhookError(f"{name}: the webhook URL holds spaces or control characters")


def describe_source(spec: Any) -> str:
    if isinstance(spec, Mapping) and len(spec) == 1:
        ((kind, ref),) = spec.items()
        if kind == "env":
            return f"${ref}"
        if kind == "file":
            return f"file {ref}"
    return "the game day file"


def webhooks_from_notify(entries: Sequence[Any], base_dir: Path) -> list[WebhookConfig]:
    """Read a game day file's ``notify`` entries (plain data, as parsed from YAML).

    ``{env: NAME}`` and ``{file: PATH}`` follow the rules of an experiment's
    secrets (a file relative to ``base_dir``, inside it or a directory of
    ``CHAOSDRILL_SECRET_DIRS``). Every problem is raised at once, as
    :class:`WebhookError`, each line naming the entry (``notify[1]``).
    """
    configs: list[WebhookConfig] = []
    problems: list[str] = []
    for number, entry in enumerate(entries):
        where = f"notify[{number}]"
        try:
            configs.append(_one(entry, where, base_dir))
        except WebhookError as exc:
            problems.append(str(exc))
    if problems:
        raise WebhookError("\n".join(problems))
    return configs


_KEYS = {"webhook", "slack", "announce", "events", "timeout"}


def _one(entry: Any, where: str, base_dir: Path) -> WebhookConfig:
    if not isinstance(entry, Mapping) or "webhook" not in entry:
        raise WebhookError(f"{where}: expected a mapping with a webhook")
    unknown = sorted(str(k) for k in entry if k not in _KEYS)
    if unknown:
        raise WebhookError(f"{where}: unknown key(s) {', '.join(unknown)}")
    spec = entry["webhook"]
    name = f"{where} webhook (from {describe_source(spec)})"
    if isinstance(spec, str):
        url = spec
    elif isinstance(spec, Mapping):
        resolved = resolve_configuration({"webhook": dict(spec)}, base_dir)
        if resolved.problems:
            raise WebhookError(f"{where}: {resolved.problems[0].message}")
        url = resolved.values["webhook"]
    else:
        raise WebhookError(f"{where}: webhook must be a URL, {{env: NAME}} or {{file: PATH}}")
    check_url(url, name)
    slack = entry.get("slack", False)
    if not isinstance(slack, bool):
        raise WebhookError(f"{where}: slack must be true or false")
    try:
        announce = None if entry.get("announce") is None else parse_duration(entry["announce"])
        timeout = parse_duration(entry.get("timeout", DEFAULT_TIMEOUT))
    except ValueError as exc:
        raise WebhookError(f"{where}: {exc}") from None
    if timeout <= 0:
        raise WebhookError(f"{where}: timeout must be greater than 0")
    events = entry.get("events")
    if events is not None:
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise WebhookError(f"{where}: events must be a list of event kinds")
        bad = sorted(set(events) - set(KINDS))
        if bad:
            raise WebhookError(
                f"{where}: unknown event kind(s) {', '.join(bad)}: one of {', '.join(KINDS)}"
            )
    return WebhookConfig(
        url=url.strip(),
        source=describe_source(spec),
        slack=slack,
        announce=announce,
        events=frozenset(events) if events is not None else None,
        timeout=timeout,
    )


class WebhookNotifier:
    """A plugin object that POSTs the events its configuration wants to one URL."""

    def __init__(
        self, config: WebhookConfig, number: int = 1, *, logger: logging.Logger | None = None
    ):
        self.config = config
        self.number = number
        self.name = f"webhook #{number} (from {config.source})"
        """How the webhook is named in every message: never its URL."""
        self._log = logger or log
        check_url(config.url, self.name)
        self._opener = urllib.request.build_opener()

    @property
    def plugin_name(self) -> str:
        return f"{PLUGIN_PREFIX}{self.number}"

    def __repr__(self) -> str:
        return f"<WebhookNotifier {self.name}>"

    def wants(self, event: GameDayEvent) -> bool:
        """Whether this webhook sends ``event``: its kind is listed (every kind by
        default), and an ``announce`` only when its lead is this webhook's."""
        if self.config.events is not None and event.kind not in self.config.events:
            return False
        if event.kind == "announce":
            return self.config.announce is not None and event.lead == self.config.announce
        return True

    def payload(self, event: GameDayEvent) -> dict[str, Any]:
        if self.config.slack:
            return {"text": slack_escape(event.summary())}
        return event.to_json()

    @hookimpl
    def chaosdrill_gameday_event(self, event: GameDayEvent) -> None:
        if self.wants(event):
            self.send(event)

    def send(self, event: GameDayEvent) -> bool:
        """POST the event; True on a 2xx answer. Never raises: a failure is logged."""
        try:
            request = urllib.request.Request(
                self.config.url,
                data=json.dumps(self.payload(event)).encode(),
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
            )
            with self._opener.open(request, timeout=self.config.timeout) as response:
                response.read(65536)
                status = response.status
        except Exception as exc:
            self._failed(event, describe_failure(exc, self.config.timeout))
            return False
        if not 200 <= status < 300:
            self._failed(event, f"HTTP {status}")
            return False
        return True

    def _failed(self, event: GameDayEvent, why: str) -> None:
        self._log.warning(
            "%s: the %s event%s was not delivered: %s",
            self.name,
            event.kind,
            f" of drill {event.drill}" if event.drill else "",
            why,
        )


def describe_failure(exc: BaseException, timeout: float) -> str:
    """What went wrong, in words that cannot hold the URL (exception texts may)."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    reason: object = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout:g}s"
    if isinstance(reason, socket.gaierror):
        return "the host name did not resolve"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    if isinstance(reason, http.client.HTTPException):
        return f"bad HTTP answer ({type(reason).__name__})"
    return type(reason).__name__


def slack_escape(text: str) -> str:
    """Slack reads ``<``, ``>`` and ``&`` as markup: escape them as its docs say."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class PluginHost(Protocol):
    """What :func:`register_webhooks` needs of :class:`chaos.plugins.Plugins`."""

    pm: Any

    def register(
        self, plugin: object, name: str | None = None, *, origin: str | None = None
    ) -> bool: ...


def register_webhooks(
    plugins: PluginHost, configs: Sequence[WebhookConfig], *, logger: logging.Logger | None = None
) -> list[WebhookNotifier]:
    """Register one notifier per webhook, replacing any registered before (a
    reloaded game day file). Returns the notifiers registered."""
    for name, _plugin in list(plugins.pm.list_name_plugin()):
        if name.startswith(PLUGIN_PREFIX):
            plugins.pm.unregister(name=name)
    notifiers = []
    for number, config in enumerate(configs, start=1):
        notifier = WebhookNotifier(config, number, logger=logger)
        if plugins.register(notifier, name=notifier.plugin_name, origin="builtin"):
            notifiers.append(notifier)
    return notifiers


__all__ = [
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "WebhookConfig",
    "WebhookError",
    "WebhookNotifier",
    "check_url",
    "register_webhooks",
    "webhooks_from_notify",
]
