"""Watches the Docker engine while faults are active.

If the engine stops answering (a restart of ``dockerd``, a crash, a lost
remote host), everything the run observed meanwhile is suspect: the engine
restarts containers on its own, drops pauses and helper containers. The
runner turns every outage into an ``engine`` reason, so the verdict is
``error`` with the time the engine was gone.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from chaos.engine.clock import RunClock
from chaos.runtime import Runtime

PING_INTERVAL = 0.5


@dataclass
class Outage:
    start: float
    end: float | None = None


class EngineMonitor:
    def __init__(self, runtime: Runtime, clock: RunClock, interval: float = PING_INTERVAL):
        self._runtime = runtime
        self._clock = clock
        self._interval = interval
        self._stop = threading.Event()
        self.outages: list[Outage] = []
        self._thread = threading.Thread(target=self._loop, name="engine-monitor", daemon=True)

    @property
    def started(self) -> bool:
        return self._thread.ident is not None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def down(self) -> bool:
        return bool(self.outages) and self.outages[-1].end is None

    def wait_until_up(self, timeout: float) -> bool:
        """Block while the engine is down (at most ``timeout``); True if it answers."""
        deadline = self._clock.now() + timeout
        while self.down and self._clock.now() < deadline:
            self._stop.wait(self._interval)
        return not self.down

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._runtime.docker.api.ping()
                if self.down:
                    self.outages[-1].end = self._clock.now()
            except Exception:
                if not self.down:
                    self.outages.append(Outage(self._clock.now()))
            self._stop.wait(self._interval)
