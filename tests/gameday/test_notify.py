"""The dispatcher: hooks run off the caller's thread, in order, bounded."""

from __future__ import annotations

import logging
import threading
import time
import types

import pytest

from chaos.gameday.events import GameDayEvent
from chaos.gameday.notify import Dispatcher
from chaos.plugin_api import GameDayEvent as ExportedEvent
from chaos.plugin_api import hookimpl
from chaos.plugins import build_plugin_manager


def event(kind: str = "started", drill: str = "d") -> GameDayEvent:
    return GameDayEvent(kind, "Friday drills", "/ops/friday.yaml", drill=drill)


class Recorder:
    """A plugin object, as a third-party plugin would write one."""

    def __init__(self) -> None:
        self.events: list[GameDayEvent] = []
        self.threads: set[str] = set()
        self.seen = threading.Condition()

    @hookimpl
    def chaosdrill_gameday_event(self, event: GameDayEvent) -> None:
        with self.seen:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)
            self.seen.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[GameDayEvent]:
        with self.seen:
            self.seen.wait_for(lambda: len(self.events) >= count, timeout)
            return list(self.events)


@pytest.fixture
def plugins():
    return build_plugin_manager(only=())


def test_the_event_is_part_of_the_plugin_api():
    assert ExportedEvent is GameDayEvent


def test_a_third_party_plugin_gets_every_event_in_order_off_the_callers_thread(plugins):
    recorder = Recorder()
    assert plugins.register(recorder, name="acme-notify")
    dispatcher = Dispatcher(plugins)
    sent = [event("announce"), event("started"), event("finished"), event("skipped", "e")]
    for one in sent:
        assert dispatcher.emit(one)
    assert dispatcher.close(5)
    assert recorder.events == sent
    assert threading.current_thread().name not in recorder.threads


def test_a_module_plugin_gets_events_too(plugins):
    module = types.ModuleType("acme_module_plugin")
    got: list[str] = []

    @hookimpl
    def chaosdrill_gameday_event(event):
        got.append(event.kind)

    module.chaosdrill_gameday_event = chaosdrill_gameday_event  # type: ignore[attr-defined]
    assert plugins.register(module, name="acme-module")
    dispatcher = Dispatcher(plugins)
    dispatcher.emit(event("halted", drill=""))
    dispatcher.emit(event("resumed", drill=""))
    assert dispatcher.close(5)
    assert got == ["halted", "resumed"]


def test_a_broken_plugin_is_logged_and_the_others_still_get_events(plugins, caplog):
    class Broken:
        @hookimpl
        def chaosdrill_gameday_event(self, event):
            raise RuntimeError("password=hunter2 cannot reach the pager")

    recorder = Recorder()
    plugins.register(Broken(), name="broken-notify")
    plugins.register(recorder, name="acme-notify")
    with caplog.at_level(logging.DEBUG, logger="chaos.gameday.notify"):
        dispatcher = Dispatcher(plugins)
        dispatcher.emit(event("finished"))
        assert dispatcher.close(5)
    assert [e.kind for e in recorder.events] == ["finished"]
    assert "plugin broken-notify failed on the finished event of drill d" in caplog.text
    assert "RuntimeError" in caplog.text
    assert "hunter2" not in caplog.text  # credentials in a plugin's error are masked


def test_a_hanging_plugin_blocks_neither_emit_nor_close_beyond_its_bound(plugins, caplog):
    release = threading.Event()

    class Hanging:
        @hookimpl
        def chaosdrill_gameday_event(self, event):
            release.wait(30)

    plugins.register(Hanging(), name="hanging-notify")
    try:
        with caplog.at_level(logging.DEBUG, logger="chaos.gameday.notify"):
            dispatcher = Dispatcher(plugins, hook_timeout=0.2, max_queue=3)
            began = time.monotonic()
            results = [dispatcher.emit(event(drill=f"d{n}")) for n in range(10)]
            # emit never waits for the hook: waiting would take the hook's timeout
            assert time.monotonic() - began < 0.2
            assert results[:3] == [True, True, True]
            # at most the queue's three and the one the worker may have taken already
            refused = results.count(False)
            assert refused >= 6
            began = time.monotonic()
            dispatcher.close(0.5)
            assert time.monotonic() - began < 1.0
        assert "still runs after 0.2s" in caplog.text
        assert "dropped the started event" in caplog.text
        assert dispatcher.dropped >= refused
    finally:
        release.set()


def test_events_after_close_are_dropped(plugins):
    recorder = Recorder()
    plugins.register(recorder, name="acme-notify")
    dispatcher = Dispatcher(plugins)
    assert dispatcher.close(5)
    assert not dispatcher.emit(event())
    assert dispatcher.dropped == 1
    assert recorder.events == []
