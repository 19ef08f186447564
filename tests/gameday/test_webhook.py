"""The webhook notifier against real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from chaos import __version__
from chaos.gameday.events import GameDayEvent
from chaos.gameday.notify import Dispatcher
from chaos.gameday.webhook import (
    WebhookConfig,
    WebhookError,
    WebhookNotifier,
    register_webhooks,
    webhooks_from_notify,
)
from chaos.plugins import build_plugin_manager
from tests.gameday.receivers import closed_port, receiver, silent_port

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)
SECRET = "T0SECRET/B0SECRET/xoxbSECRETTOKEN"
LOGGERS = ("chaos.gameday.webhook", "chaos.gameday.notify")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Traffic to 127.0.0.1 goes straight there, whatever proxy the environment names."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")


@pytest.fixture
def logs(caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def event(kind: str, **fields) -> GameDayEvent:
    fields.setdefault("drill", "web-crash")
    return GameDayEvent(kind, "Friday drills", "/ops/friday.yaml", scheduled=T0, **fields)


def served(urls_or_configs, **dispatcher_args):
    plugins = build_plugin_manager(only=())
    configs = [c if isinstance(c, WebhookConfig) else WebhookConfig(url=c) for c in urls_or_configs]
    notifiers = register_webhooks(plugins, configs)
    return plugins, notifiers, Dispatcher(plugins, **dispatcher_args)


def test_events_arrive_as_json_in_order(logs):
    with receiver() as hook:
        _, notifiers, dispatcher = served([hook.url])
        sent = [
            event("started"),
            event("finished", verdict="passed", journal="/r/journal.json"),
            event("skipped", reason="outside its window"),
            GameDayEvent("halted", "Friday drills", "/ops/friday.yaml", reason="by ops"),
        ]
        for one in sent:
            dispatcher.emit(one)
        assert dispatcher.close(10)
        got = hook.wait_for(4)
    assert [r.body for r in got] == [one.to_json() for one in sent]
    assert got[1].body["schema"] == "chaosdrill.gameday-event/1"
    assert got[1].body["verdict"] == "passed"
    for request in got:
        assert request.path == "/hook"
        assert request.headers["User-Agent"] == f"chaosdrill/{__version__}"
        assert request.headers["Content-Type"] == "application/json"
    assert notifiers[0].name == "webhook #1 (from the game day file)"
    assert "not delivered" not in logs.text


def test_slack_gets_its_incoming_webhook_payload():
    with receiver("/services/T0/B0/x") as hook:
        notifier = WebhookNotifier(WebhookConfig(url=hook.url, slack=True))
        finished = event(
            "finished",
            verdict="failed",
            reasons=["web-ok: status 503 <html> & more"],
            journal="/r/j.json",
        )
        assert notifier.send(finished)
        (request,) = hook.wait_for(1)
    assert request.body == {
        "text": "[Friday drills] drill web-crash finished: failed "
        "(web-ok: status 503 &lt;html&gt; &amp; more); journal /r/j.json"
    }


def test_any_2xx_answer_is_a_delivery(logs):
    with receiver() as hook:
        hook.status = 204
        assert WebhookNotifier(WebhookConfig(url=hook.url)).send(event("started"))
        assert len(hook.wait_for(1)) == 1
    assert "not delivered" not in logs.text


def test_an_http_error_is_logged_without_the_url(logs):
    with receiver(f"/{SECRET}") as hook:
        hook.status = 500
        notifier = WebhookNotifier(WebhookConfig(url=hook.url, source="$HOOK"), 2)
        assert not notifier.send(event("started"))
        assert len(hook.wait_for(1)) == 1
    assert (
        "webhook #2 (from $HOOK): the started event of drill web-crash was not delivered: "
        "HTTP 500" in logs.text
    )
    assert SECRET not in logs.text and "127.0.0.1" not in logs.text


@pytest.mark.parametrize("where", ["hanging", "closed"])
def test_a_dead_webhook_never_holds_up_a_drill(where, logs, capfd, monkeypatch):
    with silent_port() as hanging:
        port = hanging if where == "hanging" else closed_port()
        url = f"http://127.0.0.1:{port}/services/{SECRET}"
        monkeypatch.setenv("CHAOS_WEBHOOK", url)
        configs = webhooks_from_notify(
            [{"webhook": {"env": "CHAOS_WEBHOOK"}, "timeout": "300ms"}], Path(".")
        )
        _, notifiers, dispatcher = served(configs, hook_timeout=5)
        began = time.monotonic()
        assert dispatcher.emit(event("started"))
        assert time.monotonic() - began < 0.05
        drained = dispatcher.close(3)
        assert time.monotonic() - began < 3.5
    assert drained
    why = "no answer within 0.3s" if where == "hanging" else "Connection refused"
    assert (
        f"webhook #1 (from $CHAOS_WEBHOOK): the started event of drill web-crash was not "
        f"delivered: {why}" in logs.text
    )
    out, err = capfd.readouterr()
    for text in (logs.text, out, err, repr(notifiers), repr(configs)):
        assert SECRET not in text and url not in text


def test_close_is_bounded_while_a_webhook_hangs(logs):
    with silent_port() as port:
        url = f"http://127.0.0.1:{port}/{SECRET}"
        _, _, dispatcher = served([WebhookConfig(url=url, timeout=5)], hook_timeout=10)
        for kind in ("started", "finished", "skipped"):
            dispatcher.emit(event(kind))
        began = time.monotonic()
        assert not dispatcher.close(0.5)
        assert time.monotonic() - began < 1.0
    assert "not delivered within 0.5s of closing" in logs.text
    assert SECRET not in logs.text


def test_which_events_a_webhook_sends():
    with receiver() as hook:
        every = WebhookNotifier(WebhookConfig(url=hook.url))
        some = WebhookNotifier(
            WebhookConfig(url=hook.url, announce=600.0, events=frozenset({"announce", "finished"}))
        )
    ten_minutes = event("announce", lead=600.0)
    one_minute = event("announce", lead=60.0)
    assert not every.wants(ten_minutes)  # no announce configured
    assert every.wants(event("started")) and every.wants(event("interrupted"))
    assert some.wants(ten_minutes) and not some.wants(one_minute)
    assert some.wants(event("finished")) and not some.wants(event("started"))


def test_notify_entries(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAOS_WEBHOOK", f"https://hooks.example.test/{SECRET}")
    (tmp_path / "hook.url").write_text(f"http://127.0.0.1:9/{SECRET}\n")
    configs = webhooks_from_notify(
        [
            {"webhook": {"env": "CHAOS_WEBHOOK"}, "slack": True, "announce": "10m"},
            {"webhook": {"file": "hook.url"}, "events": ["finished", "skipped"]},
            {"webhook": "http://127.0.0.1:8/hook", "timeout": "2s"},
        ],
        tmp_path,
    )
    assert [(c.source, c.slack, c.announce, c.events, c.timeout) for c in configs] == [
        ("$CHAOS_WEBHOOK", True, 600.0, None, 5.0),
        ("file hook.url", False, None, frozenset({"finished", "skipped"}), 5.0),
        ("the game day file", False, None, None, 2.0),
    ]
    assert configs[1].url == f"http://127.0.0.1:9/{SECRET}"
    assert SECRET not in repr(configs)


def test_bad_notify_entries_are_refused_without_showing_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv("FTP_HOOK", f"ftp://user:{SECRET}@files.example.test/x")
    monkeypatch.setenv("NO_SCHEME", f"hooks.example.test/{SECRET}")
    monkeypatch.delenv("UNSET_HOOK", raising=False)
    with pytest.raises(WebhookError) as caught:
        webhooks_from_notify(
            [
                {"webhook": {"env": "FTP_HOOK"}},
                {"webhook": {"env": "NO_SCHEME"}},
                {"webhook": {"env": "UNSET_HOOK"}},
                {"webhook": f"file:///{SECRET}"},
                {"webhook": "https://ok.example.test/", "events": ["finish"]},
                {"webhook": "https://ok.example.test/", "announce": "soon"},
                {"webhook": "https://ok.example.test/", "colour": "red"},
                {"slack": True},
            ],
            tmp_path,
        )
    lines = str(caught.value).splitlines()
    assert lines == [
        "notify[0] webhook (from $FTP_HOOK): the webhook must be an http:// or https:// URL",
        "notify[1] webhook (from $NO_SCHEME): the webhook must be an http:// or https:// URL",
        "notify[2]: environment variable UNSET_HOOK is not set",
        "notify[3] webhook (from the game day file): the webhook must be an http:// or "
        "https:// URL",
        "notify[4]: unknown event kind(s) finish: one of announce, started, finished, skipped, "
        "halted, resumed, interrupted",
        lines[5],
        "notify[6]: unknown key(s) colour",
        "notify[7]: expected a mapping with a webhook",
    ]
    assert lines[5].startswith("notify[5]: invalid duration 'soon'")
    assert SECRET not in str(caught.value)


def test_a_notifier_refuses_a_url_that_is_not_http():
    with pytest.raises(WebhookError, match="http:// or https://") as caught:
        WebhookNotifier(WebhookConfig(url=f"gopher://x/{SECRET}", source="$X"), 3)
    assert str(caught.value).startswith("webhook #3 (from $X): ")
    assert SECRET not in str(caught.value)
    for url, why in [
        (f"http://127.0.0.1:{SECRET}/x", "bad port"),
        (f"https:///{SECRET}", "no host"),
        (f"http://127.0.0.1/{SECRET} x", "spaces or control characters"),
    ]:
        with pytest.raises(WebhookError, match=why) as caught:
            WebhookNotifier(WebhookConfig(url=url))
        assert SECRET not in str(caught.value)


def test_registering_again_replaces_the_webhooks_of_a_reloaded_file():
    plugins = build_plugin_manager(only=())
    first = register_webhooks(plugins, [WebhookConfig(url="http://127.0.0.1:1/a")] * 2)
    assert [n.plugin_name for n in first] == ["chaosdrill.webhook#1", "chaosdrill.webhook#2"]
    second = register_webhooks(plugins, [WebhookConfig(url="http://127.0.0.1:1/b")])
    names = [name for name, _ in plugins.pm.list_name_plugin()]
    assert names == ["chaosdrill.webhook#1"]
    assert plugins.pm.get_plugin("chaosdrill.webhook#1") is second[0]
    assert plugins.origins["chaosdrill.webhook#1"] == "builtin"
    assert plugins.registry.failures == []
