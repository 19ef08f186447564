"""Handing game day events to the ``chaosdrill_gameday_event`` hook, off the drill's thread.

:meth:`Dispatcher.emit` only puts the event on a bounded queue and returns:
a drill never waits for a plugin or a webhook. One worker thread calls the
hook for each event, in order. A call that raises is logged under its
plugin's name; a call that takes longer than ``hook_timeout`` is left to
finish on its own thread and the worker goes on with the next event (while
``MAX_STUCK`` such calls still run, further events are dropped and logged
rather than piling up threads). A full queue drops the new event, logged.
:meth:`Dispatcher.close` waits for the queue to drain, at most its timeout.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from chaos.gameday.events import GameDayEvent
from chaos.redaction import mask_credentials

HOOK = "chaosdrill_gameday_event"
MAX_STUCK = 2
"""Hook calls past their timeout that may still run before events are dropped."""

log = logging.getLogger("chaos.gameday.notify")


class Failure(Protocol):
    """A hook implementation that raised (:class:`chaos.registry.PluginFailure`)."""

    @property
    def plugin(self) -> str: ...

    @property
    def error(self) -> str: ...


class HookCaller(Protocol):
    """What the dispatcher needs of :class:`chaos.plugins.Plugins`."""

    def call_each(self, hook_name: str, **kwargs: Any) -> Sequence[Failure]: ...


_STOP = object()


class Dispatcher:
    """Calls ``chaosdrill_gameday_event`` for each event on a background thread."""

    def __init__(
        self,
        plugins: HookCaller,
        *,
        max_queue: int = 100,
        hook_timeout: float = 30.0,
        logger: logging.Logger | None = None,
    ):
        self._plugins = plugins
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._hook_timeout = hook_timeout
        self._log = logger or log
        self._closed = False
        self._stuck: list[threading.Thread] = []
        self._count = threading.Lock()
        self.dropped = 0
        """Events not delivered to the hook: queue full, too many stuck calls, closed."""
        self._worker = threading.Thread(target=self._run, name="gameday-notify", daemon=True)
        self._worker.start()

    def emit(self, event: GameDayEvent) -> bool:
        """Queue ``event`` for the hook; never blocks. False when it was dropped."""
        if self._closed:
            self._drop(event, "the notifier is closed")
            return False
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._drop(event, f"{self._queue.maxsize} events already wait")
            return False
        return True

    def close(self, timeout: float = 5.0) -> bool:
        """Deliver what is queued, waiting at most ``timeout`` seconds; True when
        every queued event was handed to the hook in time. Later events are dropped."""
        self._closed = True
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._queue.put(_STOP, timeout=max(0.0, deadline - time.monotonic()))
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        self._worker.join(max(0.0, deadline - time.monotonic()))
        drained = not self._worker.is_alive()
        if not drained:
            left = self._queue.qsize()
            self._log.warning(
                "game day notifications: %d event(s) not delivered within %gs of closing",
                left,
                timeout,
            )
        return drained

    # -- the worker ------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, GameDayEvent)
            self._deliver(item)

    def _deliver(self, event: GameDayEvent) -> None:
        self._stuck = [t for t in self._stuck if t.is_alive()]
        if len(self._stuck) >= MAX_STUCK:
            self._drop(event, f"{len(self._stuck)} earlier hook calls still run")
            return
        call = threading.Thread(
            target=self._call, args=(event,), name=f"gameday-hook-{event.kind}", daemon=True
        )
        call.start()
        call.join(self._hook_timeout)
        if call.is_alive():
            self._stuck.append(call)
            self._log.warning(
                "game day notifications: the %s hook for %s still runs after %gs; "
                "going on without it",
                HOOK,
                _what(event),
                self._hook_timeout,
            )

    def _call(self, event: GameDayEvent) -> None:
        try:
            failures = self._plugins.call_each(HOOK, event=event)
        except Exception as exc:  # the caller itself broke: never the worker
            self._log.warning(
                "game day notifications: %s for %s failed: %s",
                HOOK,
                _what(event),
                mask_credentials(f"{type(exc).__name__}: {exc}"),
            )
            return
        for failure in failures:
            self._log.warning(
                "game day notifications: plugin %s failed on %s: %s",
                failure.plugin,
                _what(event),
                mask_credentials(failure.error),
            )

    def _drop(self, event: GameDayEvent, why: str) -> None:
        with self._count:  # callers' threads and the worker drop alike
            self.dropped += 1
        self._log.warning("game day notifications: dropped %s: %s", _what(event), why)


def _what(event: GameDayEvent) -> str:
    return f"the {event.kind} event" + (f" of drill {event.drill}" if event.drill else "")
