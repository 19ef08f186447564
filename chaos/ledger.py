"""The fault ledger: a durable record of every fault not yet reverted.

Before a fault is injected, an entry is appended and fsync'd: who injected
it (host, boot id, PID and process start time), on what, with which
parameters (secrets redacted), the object's state before the fault (what a
revert restores) and the planned revert time. After the revert a closing line
follows. Whatever is open in the ledger when no runner holds it is a fault
that outlived its run: ``chaosdrill recover`` (and every run, at start)
reverts it from the entry alone.

The file is JSON lines, appended under an exclusive ``flock`` so two runs (or
a run and ``recover``) on one machine never interleave or lose a line. The
same lock makes the per-target check atomic: a run may not open an entry on a
container that holds an open entry of another live run.

Damage is survived, not trusted: a line torn by a runner killed mid-write
is terminated before the next append (so it cannot swallow the next entry),
every record's shape is checked, and a bad line is skipped and reported with
its line number while every good entry still counts.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos import liveness
from chaos.errors import ChaosError
from chaos.state import STATE_DIR_ENV, default_state_dir, ensure_private_dir, open_private

__all__ = [
    "LEDGER_FILE",
    "ORPHAN_GRACE",
    "STATE_DIR_ENV",
    "BadLine",
    "Entry",
    "FaultConflict",
    "Ledger",
    "default_state_dir",
]

LEDGER_FILE = "ledger.jsonl"
REJECTED_FILE = "ledger.rejected"
"""Bad lines dropped by compaction are kept here, for a human to read."""
ORPHAN_GRACE = 60.0
"""Seconds after its planned revert time at which an open entry counts as
orphaned even if its runner looks alive: a run reverts at ``revert_at`` (its
retries included, well within this), its watchdog at ``revert_at`` plus the
watchdog's grace."""
COMPACT_AFTER = 200
"""Closed records the file may carry before it is rewritten with only the open ones."""


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
    boot_id: str | None = None
    started: int | None = None
    """The runner's start time (clock ticks since boot): with the boot id, it
    tells a live runner from a new process that got the same PID."""
    before: dict[str, Any] | None = None
    """The object's state before the fault, recorded before injecting: what
    a revert restores (a node's availability, a service's replicas)."""
    needs_before: bool = False
    """The fault's revert depends on ``before``: without it the entry is left
    for a human rather than reverted by guesswork."""

    @property
    def held(self) -> set[str]:
        return {str(self.target.get("id")), *self.holds}

    @property
    def process(self) -> liveness.ProcessId:
        return liveness.ProcessId(self.host, self.pid, self.boot_id, self.started)

    def runner_alive(self, now: float | None = None) -> bool:
        """True while the run that injected this fault may still revert it.

        False once the runner is gone (same host: PID, boot id and start time
        no longer match) or, whatever the PID says, once the planned revert
        time plus :data:`ORPHAN_GRACE` has passed. A runner on another host
        counts as alive until then.
        """
        now = time.time() if now is None else now
        if self.revert_at is not None and now > self.revert_at + ORPHAN_GRACE:
            return False
        state = liveness.alive(self.process)
        return True if state is None else state

    def revert_state(self) -> dict[str, Any]:
        """What a revert works from: the state before, then what inject returned."""
        return {**(self.before or {}), **self.state}


ENTRY_FIELDS = frozenset(Entry.__dataclass_fields__)


@dataclass(frozen=True)
class BadLine:
    """A ledger line that could not be used: skipped, and reported."""

    line: int
    reason: str

    def describe(self, path: Path) -> str:
        return f"{path}:{self.line}: skipped a damaged ledger line ({self.reason})"


_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "run_id": str,
    "pid": int,
    "host": str,
    "fault": str,
    "step": str,
    "target": dict,
    "params": dict,
    "opened_at": (int, float),
}
_OPTIONAL: dict[str, tuple[type, ...]] = {
    "revert_at": (int, float, type(None)),
    "state": (dict,),
    "watchdog": (str, type(None)),
    "holds": (list,),
    "boot_id": (str, type(None)),
    "started": (int, type(None)),
    "before": (dict, type(None)),
    "needs_before": (bool,),
}
_UPDATABLE = ("state", "watchdog", "revert_at", "before")


def _kind_ok(value: Any, kinds: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        return False  # JSON true is not a PID
    return isinstance(value, kinds)


def _entry_from(data: Any) -> tuple[Entry | None, str]:
    if not isinstance(data, dict):
        return None, "an open record without an entry object"
    for key, kinds in _REQUIRED.items():
        if key not in data:
            return None, f"entry without {key!r}"
        if not _kind_ok(data[key], kinds):
            return None, f"entry field {key!r} has the wrong type"
    for key, kinds in _OPTIONAL.items():
        if key in data and not _kind_ok(data[key], kinds):
            return None, f"entry field {key!r} has the wrong type"
    if not isinstance(data["target"].get("id"), str) or not data["target"]["id"]:
        return None, "entry target without an id"
    if not data["id"]:
        return None, "entry with an empty id"
    # fields this version does not know (written by a newer one) are ignored
    known = {k: v for k, v in data.items() if k in ENTRY_FIELDS}
    return Entry(**known), ""


def _apply(record: Any, entries: dict[str, Entry]) -> str:
    """Apply one record to ``entries``; return why it is bad, or ""."""
    if not isinstance(record, dict):
        return f"a record must be an object, not {type(record).__name__}"
    op = record.get("op")
    if op == "open":
        entry, problem = _entry_from(record.get("entry"))
        if entry is None:
            return problem
        entries[entry.id] = entry
        return ""
    if op in ("update", "close"):
        entry_id = record.get("id")
        if not isinstance(entry_id, str) or not entry_id:
            return f"{op} record without an id"
        if op == "close":
            entries.pop(entry_id, None)
            return ""
        for key in _UPDATABLE:
            if key in record and not _kind_ok(record[key], _OPTIONAL[key]):
                return f"update of {key!r} with the wrong type"
        entry = entries.get(entry_id)
        if entry is not None:
            for key in _UPDATABLE:
                if key in record:
                    setattr(entry, key, record[key])
        return ""
    return f"unknown op {op!r}"


class Ledger:
    def __init__(self, state_dir: Path | None = None):
        self.dir = state_dir or default_state_dir()
        self.path = self.dir / LEDGER_FILE
        self.identity = hashlib.sha256(
            f"{socket.gethostname()}:{os.path.realpath(self.dir)}".encode()
        ).hexdigest()[:16]
        """Names this ledger on watchdogs' labels: a sweep removes only its own."""
        self.bad_lines: list[BadLine] = []
        """Lines skipped by the last read, with why (see :meth:`problems`)."""
        self._closed_records = 0

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        ensure_private_dir(self.dir)
        fd = open_private(self.dir / ".lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        fd = open_private(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                # a torn last line (a runner killed mid-write): end it, so it stays one
                # bad line instead of swallowing this record
                os.write(fd, b"\n")
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def _read_lines(self) -> list[bytes]:
        try:
            fd = open_private(self.path, os.O_RDONLY)
        except ChaosError:
            if not os.path.lexists(self.path):
                return []
            raise
        with os.fdopen(fd, "rb") as fh:
            return fh.read().split(b"\n")

    def _read(self) -> dict[str, Entry]:
        entries: dict[str, Entry] = {}
        bad: list[BadLine] = []
        closed = 0
        lines = self._read_lines()
        if lines and lines[-1] == b"":
            lines.pop()  # the newline that ends the last line
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                torn = number == len(lines)
                bad.append(BadLine(number, "torn last line" if torn else "not JSON"))
                continue
            problem = _apply(record, entries)
            if problem:
                bad.append(BadLine(number, problem))
            elif record.get("op") == "close":
                closed += 1
        self.bad_lines = bad
        self._closed_records = closed
        return entries

    def problems(self) -> list[str]:
        """The lines the last read skipped, each as ``PATH:LINE: why``."""
        return [b.describe(self.path) for b in self.bad_lines]

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
        unknown = set(changes) - set(_UPDATABLE)
        if unknown:
            raise ValueError(f"not updatable in a ledger entry: {sorted(unknown)}")
        with self._locked():
            self._append({"op": "update", "id": entry_id, **changes})

    def close(self, entry_id: str, outcome: str) -> None:
        with self._locked():
            self._append({"op": "close", "id": entry_id, "outcome": outcome, "at": time.time()})

    def open_entries(self) -> list[Entry]:
        with self._locked():
            return sorted(self._read().values(), key=lambda e: e.opened_at)

    def compact(self, *, force: bool = False) -> bool:
        """Rewrite the file with only the open entries, once enough closed
        records piled up (always with ``force``); return True if it did.

        Lines that could not be read are moved to ``ledger.rejected`` (with
        their line numbers) rather than dropped.
        """
        with self._locked():
            entries = self._read()
            if not force and self._closed_records < COMPACT_AFTER and not self.bad_lines:
                return False
            lines = self._read_lines()
            if self.bad_lines:
                fd = open_private(self.dir / REJECTED_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                with os.fdopen(fd, "ab") as rejected:
                    for bad in self.bad_lines:
                        text = lines[bad.line - 1] if bad.line <= len(lines) else b""
                        rejected.write(
                            f"# {time.time():.0f} line {bad.line}: {bad.reason}\n".encode()
                            + text
                            + b"\n"
                        )
            tmp = self.path.with_name(LEDGER_FILE + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            with os.fdopen(fd, "w") as fh:
                for entry in sorted(entries.values(), key=lambda e: e.opened_at):
                    fh.write(json.dumps({"op": "open", "entry": asdict(entry)}) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            self.bad_lines = []
            self._closed_records = 0
            return True
