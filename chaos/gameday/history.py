"""The history of a game day file: one SQLite row per fire, shared by every process.

A ``serve`` daemon, a ``gameday run`` by hand and a ``run-due`` from cron
may write to the same history at once. Each opens its own connection to
``<state dir>/gameday/<file name>-<hash of its path>.sqlite`` in WAL mode
with a busy timeout, and every change is one ``BEGIN IMMEDIATE``
transaction, so writers queue rather than fail.

A fire is recorded at most once: a unique index on (drill, scheduled) over
the fires a schedule makes (``scheduled``, ``catch_up``, ``run_due``) lets
exactly one process :meth:`History.claim` it, whoever else tries at the same
moment (a restarted daemon, cron, a catch-up after a pause). Manual runs are
not in that index: a person may run a drill whenever they decide to.

A claimed fire records who runs it (host, PID, the kernel's boot id and the
process's start time): a fire left ``running`` by a process that has died is
found by :meth:`History.mark_interrupted`, even when its PID was reused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NewType

from chaos import liveness
from chaos.errors import ChaosError
from chaos.state import default_state_dir, ensure_private_dir, open_private

SCHEMA_VERSION = 1
"""Stored as SQLite's ``user_version``; a newer file is refused, an older one migrated."""

BUSY_TIMEOUT = 30.0
"""Seconds a write waits for another process's transaction before failing."""
WAL_RETRY = 0.005
"""Seconds between attempts to switch a history being opened elsewhere to WAL."""

STATES = (
    "running",
    "passed",
    "failed",
    "aborted",
    "error",
    "invalid",
    "skipped",
    "interrupted",
)
FINAL_STATES = frozenset({"passed", "failed", "aborted", "error", "invalid", "interrupted"})
"""What :meth:`History.finish` may record."""
HOWS = ("scheduled", "manual", "catch_up", "run_due")
ONCE_HOWS = ("scheduled", "catch_up", "run_due")
"""The ways a schedule fires a drill: each (drill, scheduled) time is run by one of them once."""

FireId = NewType("FireId", int)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS fires (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    drill TEXT NOT NULL,
    scheduled TEXT NOT NULL,
    fire_at TEXT,
    state TEXT NOT NULL CHECK (state IN ({", ".join(repr(s) for s in STATES)})),
    started TEXT,
    ended TEXT,
    verdict TEXT,
    reasons TEXT NOT NULL DEFAULT '[]',
    journal TEXT,
    skip_reason TEXT,
    pid INTEGER,
    host TEXT,
    boot_id TEXT,
    process_start INTEGER,
    how TEXT NOT NULL CHECK (how IN ({", ".join(repr(h) for h in HOWS)}))
);
CREATE UNIQUE INDEX IF NOT EXISTS fires_once ON fires (drill, scheduled)
    WHERE how IN ({", ".join(repr(h) for h in ONCE_HOWS)});
CREATE INDEX IF NOT EXISTS fires_by_drill ON fires (drill, scheduled);
CREATE INDEX IF NOT EXISTS fires_by_state ON fires (state);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class HistoryError(ChaosError):
    """The history file cannot be used, or a change to it makes no sense."""


class NewerHistory(HistoryError):
    """The history was written by a newer chaosdrill, whose schema this one does not know."""


def stamp(moment: datetime) -> str:
    """A fixed-width UTC stamp (``2026-12-02T10:50:00.000000Z``): text order is time order."""
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None:
        raise ValueError(f"a naive datetime has no time zone: {moment.isoformat()}")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def history_path(gameday_file: str | os.PathLike[str], state_dir: Path | None = None) -> Path:
    """Where the history of ``gameday_file`` lives: one file per game day file.

    Named after the file's name (made safe) and a hash of its absolute path,
    symlinks resolved: the same file reached by two paths has one history;
    two files named alike in different folders have two.
    """
    resolved = Path(gameday_file).expanduser().resolve()
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", resolved.stem).strip("._")[:40] or "gameday"
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:16]
    return (state_dir or default_state_dir()) / "gameday" / f"{stem}-{digest}.sqlite"


@dataclass(frozen=True)
class Fire:
    """One row of the history."""

    id: FireId
    drill: str
    scheduled: datetime
    fire_at: datetime | None
    state: str
    started: datetime | None
    ended: datetime | None
    verdict: str | None
    reasons: list[Any]
    journal: str | None
    skip_reason: str | None
    pid: int | None
    host: str | None
    how: str
    boot_id: str | None = None
    process_start: int | None = None

    @property
    def process(self) -> liveness.ProcessId | None:
        if self.pid is None or self.host is None:
            return None
        return liveness.ProcessId(self.host, self.pid, self.boot_id, self.process_start)


_COLUMNS = (
    "id, drill, scheduled, fire_at, state, started, ended, verdict, reasons, journal, "
    "skip_reason, pid, host, how, boot_id, process_start"
)


def _fire(row: Sequence[Any]) -> Fire:
    (id_, drill, scheduled, fire_at, state, started, ended, verdict, reasons, journal) = row[:10]
    skip_reason, pid, host, how, boot_id, process_start = row[10:]
    return Fire(
        id=FireId(id_),
        drill=drill,
        scheduled=parse_stamp(scheduled),  # type: ignore[arg-type]
        fire_at=parse_stamp(fire_at),
        state=state,
        started=parse_stamp(started),
        ended=parse_stamp(ended),
        verdict=verdict,
        reasons=json.loads(reasons),
        journal=journal,
        skip_reason=skip_reason,
        pid=pid,
        host=host,
        how=how,
        boot_id=boot_id,
        process_start=process_start,
    )


def _check_how(how: str) -> None:
    if how not in HOWS:
        raise ValueError(f"unknown way to fire {how!r}: one of {', '.join(HOWS)}")


def _now() -> datetime:
    return datetime.now(timezone.utc)


class History:
    """The history of one game day file. Thread-safe; one connection per instance."""

    def __init__(
        self,
        gameday_file: str | os.PathLike[str],
        state_dir: Path | None = None,
        *,
        busy_timeout: float = BUSY_TIMEOUT,
    ):
        self.gameday_file = str(Path(gameday_file).expanduser().resolve())
        self.path = history_path(gameday_file, state_dir)
        ensure_private_dir(self.path.parent.parent)
        ensure_private_dir(self.path.parent)
        # created 0600 without following a symlink; SQLite gives its -wal and -shm
        # files the same permissions
        os.close(open_private(self.path, os.O_RDWR | os.O_CREAT))
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot open the game day history {self.path}: {exc}") from None
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._wal(busy_timeout)
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise HistoryError(
                f"the game day history {self.path} cannot be used: {exc} "
                "(move it away to start a new history)"
            ) from None
        except HistoryError:
            self._db.close()
            raise

    def _wal(self, busy_timeout: float) -> None:
        """Switch to write-ahead logging, waiting up to the busy timeout.

        SQLite answers "database is locked" at once, without its busy handler,
        to a connection that asks for WAL while another process opens or
        switches the same new file: several processes starting on one history
        would fail for no reason. Retried every few milliseconds instead."""
        deadline = time.monotonic() + busy_timeout
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(WAL_RETRY)

    # -- life cycle ----------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction that holds SQLite's write lock from its start.

        Waits up to the busy timeout for other writers; past it, or on any
        other failure of SQLite's but a constraint, raises HistoryError.
        """
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise self._failed(exc) from None
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    raise self._failed(exc) from None
                raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                raise self._failed(exc) from None

    def _failed(self, exc: sqlite3.Error) -> HistoryError:
        return HistoryError(f"the game day history {self.path} cannot be used now: {exc}")

    def _migrate(self) -> None:
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise NewerHistory(
                    f"the game day history {self.path} was written by a newer chaosdrill "
                    f"(schema {version}; this one knows up to {SCHEMA_VERSION}): "
                    "upgrade chaosdrill to use it"
                )
            if version < SCHEMA_VERSION:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)  # IF NOT EXISTS: idempotent
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('file', ?)",
                    (self.gameday_file,),
                )

    # -- fires -----------------------------------------------------------------

    def claim(
        self, drill: str, scheduled: datetime, fire_at: datetime | None, how: str
    ) -> FireId | None:
        """Record that this process runs the fire now: a ``running`` row, or None
        when the fire was already claimed or skipped (by any process).

        ``manual`` fires are never refused: a person decides those.
        """
        _check_how(how)
        me = liveness.this_process()
        try:
            with self._write() as db:
                cursor = db.execute(
                    "INSERT INTO fires (drill, scheduled, fire_at, state, started, pid, host, "
                    "boot_id, process_start, how) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                    (
                        drill,
                        stamp(scheduled),
                        stamp(fire_at) if fire_at else None,
                        stamp(_now()),
                        me.pid,
                        me.host,
                        me.boot_id,
                        me.started,
                        how,
                    ),
                )
        except sqlite3.IntegrityError:
            return None  # the unique index: someone has this fire already
        return FireId(cursor.lastrowid or 0)

    def finish(
        self,
        fire: FireId,
        state: str,
        verdict: str | None = None,
        reasons: Sequence[str | Mapping[str, Any]] = (),
        journal: str | os.PathLike[str] | None = None,
    ) -> None:
        """Close a running fire with its outcome. Raises HistoryError when the fire
        is not running (unknown, finished, or marked interrupted)."""
        if state not in FINAL_STATES:
            raise ValueError(f"a fire finishes as one of {', '.join(sorted(FINAL_STATES))}")
        data = json.dumps([r if isinstance(r, str) else dict(r) for r in reasons])
        with self._write() as db:
            done = db.execute(
                "UPDATE fires SET state = ?, ended = ?, verdict = ?, reasons = ?, journal = ? "
                "WHERE id = ? AND state = 'running'",
                (state, stamp(_now()), verdict, data, str(journal) if journal else None, fire),
            ).rowcount
            if not done:
                row = db.execute("SELECT state FROM fires WHERE id = ?", (fire,)).fetchone()
                what = f"it is {row[0]}" if row else "there is no such fire"
                raise HistoryError(f"cannot finish fire {fire} of {self.path}: {what}")

    def skip(self, drill: str, scheduled: datetime, reason: str, how: str) -> FireId | None:
        """Record that a fire was not run, and why. Like :meth:`claim`, a fire the
        schedule makes is recorded once: None when it already was (run or skipped)."""
        _check_how(how)
        now = stamp(_now())
        try:
            with self._write() as db:
                cursor = db.execute(
                    "INSERT INTO fires (drill, scheduled, state, ended, skip_reason, pid, host, "
                    "how) VALUES (?, ?, 'skipped', ?, ?, ?, ?, ?)",
                    (
                        drill,
                        stamp(scheduled),
                        now,
                        reason,
                        os.getpid(),
                        liveness.this_process().host,
                        how,
                    ),
                )
        except sqlite3.IntegrityError:
            return None
        return FireId(cursor.lastrowid or 0)

    def mark_interrupted(self) -> list[Fire]:
        """Turn the ``running`` fires of dead processes into ``interrupted`` ones.

        A process is dead when it ran on this host and no process with its PID
        *and* start time runs since the same boot (a reused PID does not keep a
        fire running). Fires of other hosts sharing the state directory are left
        alone: nothing here can tell. ``ended`` is when the death was noticed.
        Returns the fires changed, as they are now.
        """
        with self._write() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM fires WHERE state = 'running' ORDER BY id"
            ).fetchall()
            dead = []
            for fire in map(_fire, rows):
                process = fire.process
                if process is None or liveness.alive(process) is not False:
                    continue
                why = f"the process that ran it (pid {fire.pid} on {fire.host}) is gone"
                db.execute(
                    "UPDATE fires SET state = 'interrupted', ended = ?, reasons = ? "
                    "WHERE id = ? AND state = 'running'",
                    (stamp(_now()), json.dumps([why]), fire.id),
                )
                dead.append(fire.id)
        return [f for f in (self.get(i) for i in dead) if f is not None]

    # -- queries -----------------------------------------------------------------

    def get(self, fire: FireId) -> Fire | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM fires WHERE id = ?", (fire,))
        return _fire(rows[0]) if rows else None

    def last_fire(self, drill: str) -> datetime | None:
        """The latest scheduled time recorded for ``drill``, in any state."""
        rows = self._read("SELECT MAX(scheduled) FROM fires WHERE drill = ?", (drill,))
        return parse_stamp(rows[0][0])

    def last_end(self) -> datetime | None:
        """When the last fire to end ended, across drills (skips do not count)."""
        rows = self._read("SELECT MAX(ended) FROM fires WHERE state != 'skipped'")
        return parse_stamp(rows[0][0])

    def count_on(self, drill: str, start: datetime, end: datetime) -> int:
        """Fires of ``drill`` scheduled in ``[start, end)`` that ran or run (not the
        skipped ones): ``max_per_day`` with the local day's bounds in UTC."""
        rows = self._read(
            "SELECT COUNT(*) FROM fires WHERE drill = ? AND scheduled >= ? AND scheduled < ? "
            "AND state != 'skipped'",
            (drill, stamp(start), stamp(end)),
        )
        return int(rows[0][0])

    def weighed_by_admission(self, since: datetime, at: datetime) -> list[Fire]:
        """The fires that ran or run which admission weighs for a fire at ``at``,
        oldest first: those started since ``since`` (the fire's local day), those
        still running or ending after ``at``, and the last to end by ``at``
        (``min_gap``). Skips are not runs."""
        rows = self._read(
            f"SELECT {_COLUMNS} FROM fires WHERE started IS NOT NULL AND state != 'skipped' "
            "AND (started >= ? OR state = 'running' OR ended > ? OR id = ("
            "  SELECT id FROM fires WHERE state != 'skipped' AND ended <= ?"
            "  ORDER BY ended DESC, id DESC LIMIT 1"
            ")) ORDER BY scheduled, id",
            (stamp(since), stamp(at), stamp(at)),
        )
        return [_fire(r) for r in rows]

    def running(self) -> list[Fire]:
        rows = self._read(f"SELECT {_COLUMNS} FROM fires WHERE state = 'running' ORDER BY id")
        return [_fire(r) for r in rows]

    def rows(self, limit: int = 50, drill: str | None = None) -> list[Fire]:
        """The latest fires, newest first (by scheduled time, then by id)."""
        where, params = ("WHERE drill = ?", [drill]) if drill is not None else ("", [])
        rows = self._read(
            f"SELECT {_COLUMNS} FROM fires {where} ORDER BY scheduled DESC, id DESC LIMIT ?",
            (*params, int(limit)),
        )
        return [_fire(r) for r in rows]

    # -- key/value state ---------------------------------------------------------

    def get_state(self, key: str, default: Any = None) -> Any:
        """A value stored with :meth:`set_state` (any JSON value), else ``default``."""
        rows = self._read("SELECT value FROM state WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def set_state(self, key: str, value: Any) -> None:
        data = json.dumps(value)
        with self._write() as db:
            db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, data),
            )

    def delete_state(self, key: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM state WHERE key = ?", (key,))

    def state_items(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._read("SELECT key, value FROM state")}
