"""Interrupting runs from another thread.

A run on the main thread handles SIGINT and SIGTERM itself. Runs on worker
threads (``chaosdrill suite --jobs N``) cannot install signal handlers: the
front end catches the signal on the main thread and triggers an
:class:`Interrupt` shared by those runs, and each one then reverts every
active fault at once and ends ``aborted``, exactly as on a signal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Interrupt:
    """A one-shot, thread-safe interruption with the name of its cause (``SIGINT``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[str], None]] = []
        self.cause: str | None = None

    @property
    def is_set(self) -> bool:
        return self.cause is not None

    def trigger(self, cause: str) -> None:
        """Interrupt every subscribed run (once; later calls do nothing)."""
        with self._lock:
            if self.cause is not None:
                return
            self.cause = cause
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback(cause)

    def subscribe(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(cause)`` on :meth:`trigger` (at once if already triggered).

        Returns the function that unsubscribes it."""
        with self._lock:
            cause = self.cause
            if cause is None:
                self._callbacks.append(callback)
        if cause is not None:
            callback(cause)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe
