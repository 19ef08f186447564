"""The fault ledger: a durable record of every fault not yet reverted.

Before a fault is injected, an entry is appended and fsync'd; after it is
reverted, a closing line follows. Whatever is open in the ledger when no
runner holds it is a fault that outlived its run: ``chaosdrill recover`` (and
every ``chaosdrill run``, at start) reverts it from the entry alone.

The file is JSON lines, appended under an exclusive ``flock`` so two runs (or
a run and ``recover``) on one machine never interleave or lose a line. The
same lock makes the per-target check atomic: a run may not open an entry on a
container that holds an open entry of another live run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos.errors import ChaosError

STATE_DIR_ENV = "CHAOSDRILL_STATE_DIR"
LEDGER_FILE = "ledger.jsonl"


def default_state_dir() -> Path:
    """``$CHAOSDRILL_STATE_DIR``, else ``/var/lib/chaosdrill`` for root, else
    ``$XDG_STATE_HOME/chaosdrill`` (``~/.local/state/chaosdrill``)."""
    if os.environ.get(STATE_DIR_ENV):
        return Path(os.environ[STATE_DIR_ENV])
    if os.geteuid() == 0:
        return Path("/var/lib/chaosdrill")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "chaosdrill"


class FaultConflict(ChaosError):
    """Another live run already holds a fault on the same target."""


@dataclass
class Entry:
    """One injection, as recorded before it happens."""

    id: str
    run_id: str
    pid: int
    host: str
    fault: str
    step: str
    target: dict[str, Any]
    params: dict[str, Any]
    opened_at: float
    revert_at: float | None = None
    state: dict[str, Any] = field(default_factory=dict)
    watchdog: str | None = None
    """Id of the container that reverts this fault if nobody else does."""
    holds: list[str] = field(default_factory=list)
    """Ids of further objects the fault acts on besides its target (the
    managers a ``swarm.lose_managers`` takes away): held like the target."""

    @property
    def held(self) -> set[str]:
        return {str(self.target.get("id")), *self.holds}

    def runner_alive(self) -> bool:
        """True while the process that injected this fault still runs here."""
        if self.host != socket.gethostname():
            return True  # cannot tell: assume another machine's run is alive
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


ENTRY_FIELDS = frozenset(Entry.__dataclass_fields__)


class Ledger:
    def __init__(self, state_dir: Path | None = None):
        self.dir = state_dir or default_state_dir()
        self.path = self.dir / LEDGER_FILE

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ChaosError(f"cannot use the fault ledger in {self.dir}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def _read(self) -> dict[str, Entry]:
        open_entries: dict[str, Entry] = {}
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return {}
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line after a power loss: the entry was never opened
            op, data = record.get("op"), record.get("entry") or {}
            if op == "open":
                # fields this version does not know (written by a newer one) are ignored
                known = {k: v for k, v in data.items() if k in ENTRY_FIELDS}
                open_entries[data["id"]] = Entry(**known)
            elif op == "update" and record.get("id") in open_entries:
                entry = open_entries[record["id"]]
                for key in ("state", "watchdog", "revert_at"):
                    if key in record:
                        setattr(entry, key, record[key])
            elif op == "close":
                open_entries.pop(record.get("id"), None)
        return open_entries

    def open(self, entry: Entry) -> None:
        """Record an injection about to happen; refuse to stack on another run's fault."""
        with self._locked():
            for other in self._read().values():
                shared = other.held & entry.held
                if shared and other.run_id != entry.run_id and other.runner_alive():
                    what = (
                        entry.target.get("name")
                        if entry.target.get("id") in shared
                        else f"{entry.target.get('name')} (through {', '.join(sorted(shared))})"
                    )
                    raise FaultConflict(
                        f"{what} already carries fault {other.fault} "
                        f"({other.step}) of run {other.run_id} (pid {other.pid}); refusing "
                        "to stack a second run's fault on it"
                    )
            self._append({"op": "open", "entry": asdict(entry)})

    def update(self, entry_id: str, **changes: Any) -> None:
        with self._locked():
            self._append({"op": "update", "id": entry_id, **changes})

    def close(self, entry_id: str, outcome: str) -> None:
        with self._locked():
            self._append({"op": "close", "id": entry_id, "outcome": outcome, "at": time.time()})

    def open_entries(self) -> list[Entry]:
        with self._locked():
            return sorted(self._read().values(), key=lambda e: e.opened_at)

    def compact(self) -> None:
        """Rewrite the file with only the open entries (keeps it small)."""
        with self._locked():
            entries = self._read()
            tmp = self.path.with_suffix(".tmp")
            with tmp.open("w") as fh:
                for entry in entries.values():
                    fh.write(json.dumps({"op": "open", "entry": asdict(entry)}) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
