"""The game day history: real SQLite files, real processes writing at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from chaos import liveness
from chaos.gameday.history import (
    SCHEMA_VERSION,
    History,
    HistoryError,
    NewerHistory,
    history_path,
    stamp,
)
from chaos.state import UnsafeStateDir
from tests.gameday.conftest import python, wait_line

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def history(state_dir: Path, gameday_file: Path):
    with History(gameday_file) as opened:
        yield opened


def test_lives_in_a_private_folder_of_the_state_dir_named_after_the_file(
    state_dir, gameday_file, history
):
    assert history.path == history_path(gameday_file)
    assert history.path.parent == state_dir / "gameday"
    assert history.path.name.startswith("friday_drills-")
    assert history.path.suffix == ".sqlite"
    assert stat.S_IMODE(os.stat(state_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(state_dir / "gameday").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(history.path).st_mode) == 0o600
    history.set_state("written", True)  # the write-ahead log and its index exist now
    for suffix in ("-wal", "-shm"):
        companion = history.path.with_name(history.path.name + suffix)
        assert stat.S_IMODE(os.stat(companion).st_mode) == 0o600, suffix
    # the same file by another path (a symlinked folder) shares the history
    link = gameday_file.parent.parent / "linked"
    link.symlink_to(gameday_file.parent)
    assert history_path(link / gameday_file.name) == history.path
    # a file of the same name elsewhere does not
    other = gameday_file.parent.parent / "friday drills.yaml"
    assert history_path(other) != history.path


def test_uses_wal_mode(history):
    db = sqlite3.connect(history.path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        db.close()


def test_a_claimed_fire_is_running_then_finished(history):
    fire_at = T0 + timedelta(seconds=42)
    fire = history.claim("web-crash", T0, fire_at, "scheduled")
    assert fire is not None
    (row,) = history.running()
    assert (row.id, row.drill, row.scheduled, row.fire_at) == (fire, "web-crash", T0, fire_at)
    assert (row.state, row.how, row.pid) == ("running", "scheduled", os.getpid())
    assert row.host == liveness.this_process().host
    assert row.process_start == liveness.start_ticks(os.getpid())
    assert row.started is not None and row.ended is None

    reasons = ["web-ok: status 503", {"kind": "probe", "message": "down 12s"}]
    history.finish(fire, "failed", "failed", reasons, Path("/tmp/reports/x/journal.json"))
    done = history.get(fire)
    assert done is not None
    assert (done.state, done.verdict, done.journal) == (
        "failed",
        "failed",
        "/tmp/reports/x/journal.json",
    )
    assert done.reasons == reasons
    assert done.ended is not None and done.ended >= done.started
    assert history.running() == []
    with pytest.raises(HistoryError, match="it is failed"):
        history.finish(fire, "passed")
    with pytest.raises(HistoryError, match="no such fire"):
        history.finish(fire + 100, "passed")
    with pytest.raises(ValueError):
        history.finish(fire, "running")


def test_a_fire_the_schedule_makes_is_claimed_once_whatever_the_way(history):
    assert history.claim("d", T0, T0, "scheduled") is not None
    assert history.claim("d", T0, T0, "scheduled") is None
    assert history.claim("d", T0, T0, "catch_up") is None
    assert history.claim("d", T0, T0, "run_due") is None
    # the same time expressed in another zone is the same fire
    paris = timezone(timedelta(hours=1))
    assert history.claim("d", T0.astimezone(paris), None, "run_due") is None
    # another drill, another time: claimable; manual runs are a person's decision
    assert history.claim("other", T0, T0, "scheduled") is not None
    assert history.claim("d", T0 + timedelta(days=1), None, "catch_up") is not None
    first = history.claim("d", T0, None, "manual")
    second = history.claim("d", T0, None, "manual")
    assert first is not None and second is not None and first != second


def test_skips_are_recorded_once_and_block_a_later_claim(history):
    skipped = history.skip("d", T0, "outside its window", "scheduled")
    assert skipped is not None
    assert history.skip("d", T0, "outside its window", "scheduled") is None
    assert history.claim("d", T0, T0, "catch_up") is None
    row = history.get(skipped)
    assert row is not None
    assert (row.state, row.skip_reason, row.how) == ("skipped", "outside its window", "scheduled")
    # a claimed fire cannot be skipped afterwards either
    assert history.claim("d", T0 + timedelta(hours=1), None, "scheduled") is not None
    assert history.skip("d", T0 + timedelta(hours=1), "late", "run_due") is None


def test_times_must_carry_a_zone_and_ways_are_checked(history):
    with pytest.raises(ValueError, match="naive"):
        history.claim("d", datetime(2026, 1, 1, 9, 0), None, "scheduled")
    with pytest.raises(ValueError, match="unknown way"):
        history.claim("d", T0, None, "cron")
    assert stamp(T0) == "2026-12-04T09:00:00.000000Z"


def test_admission_reads_only_the_runs_it_weighs(history):
    """Not the whole history: the runs started within reach of the fire's day,
    those running or ending after the fire, and the last to end before it."""
    at = T0 + timedelta(days=3)
    long_ago = at - timedelta(days=2)
    spans = {  # drill: (started, ended); None: still running
        "old": (long_ago, long_ago + timedelta(minutes=5)),
        "last-ended": (long_ago, at - timedelta(hours=1)),
        "overlaps": (long_ago, at + timedelta(hours=1)),
        "today": (at - timedelta(hours=3), at - timedelta(hours=2)),
        "running": (long_ago, None),
    }
    db = sqlite3.connect(history.path)
    for n, (drill, (started, ended)) in enumerate(spans.items()):
        fire = history.claim(drill, T0 + timedelta(minutes=n), None, "scheduled")
        state = "running" if ended is None else "passed"
        with db:
            db.execute(
                "UPDATE fires SET state = ?, started = ?, ended = ? WHERE id = ?",
                (state, stamp(started), stamp(ended) if ended else None, fire),
            )
    db.close()
    history.skip("skipped", at - timedelta(minutes=1), "outside its window", "scheduled")
    weighed = history.weighed_by_admission(at - timedelta(hours=26), at)
    assert [f.drill for f in weighed] == ["last-ended", "overlaps", "today", "running"]


def test_queries(history):
    day = timedelta(days=1)
    a1 = history.claim("a", T0, T0, "scheduled")
    assert a1 is not None
    history.finish(a1, "passed", "passed")
    a2 = history.claim("a", T0 + timedelta(hours=2), None, "scheduled")
    assert a2 is not None
    history.skip("a", T0 + timedelta(hours=4), "min_gap", "scheduled")
    history.skip("b", T0 + day, "another drill is running: a (pid 1)", "scheduled")
    b1 = history.claim("b", T0 + timedelta(hours=1), None, "manual")
    assert b1 is not None
    history.finish(b1, "error", "error", ["engine gone"])

    assert history.last_fire("a") == T0 + timedelta(hours=4)
    assert history.last_fire("b") == T0 + day
    assert history.last_fire("c") is None
    b1_row = history.get(b1)
    assert b1_row is not None
    assert history.last_end() == b1_row.ended
    # skips do not count against max_per_day; running and finished fires do
    assert history.count_on("a", T0, T0 + day) == 2
    assert history.count_on("a", T0 + timedelta(hours=1), T0 + day) == 1
    assert history.count_on("a", T0 + day, T0 + 2 * day) == 0
    assert history.count_on("b", T0, T0 + day) == 1  # the end is excluded
    assert [f.id for f in history.running()] == [a2]

    newest = history.rows(10)
    assert [(f.drill, f.scheduled) for f in newest] == [
        ("b", T0 + day),
        ("a", T0 + timedelta(hours=4)),
        ("a", T0 + timedelta(hours=2)),
        ("b", T0 + timedelta(hours=1)),
        ("a", T0),
    ]
    assert [f.scheduled for f in history.rows(2, drill="a")] == [
        T0 + timedelta(hours=4),
        T0 + timedelta(hours=2),
    ]


def test_the_key_value_state(history, gameday_file):
    assert history.get_state("hash") is None
    assert history.get_state("hash", "none") == "none"
    history.set_state("hash", "abc")
    history.set_state("seeds", {"web-crash": 7})
    history.set_state("hash", "def")
    assert history.state_items() == {"hash": "def", "seeds": {"web-crash": 7}}
    history.delete_state("hash")
    assert history.get_state("hash") is None
    with History(gameday_file) as again:  # stored, not cached
        assert again.get_state("seeds") == {"web-crash": 7}


def test_a_newer_schema_is_refused_clearly(history, gameday_file):
    db = sqlite3.connect(history.path)
    db.execute("PRAGMA user_version = 7")
    db.commit()
    db.close()
    with pytest.raises(NewerHistory) as caught:
        History(gameday_file)
    message = str(caught.value)
    assert str(history.path) in message
    assert "schema 7" in message and f"up to {SCHEMA_VERSION}" in message


def test_a_file_that_is_not_a_database_is_refused(state_dir, gameday_file):
    path = history_path(gameday_file)
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_bytes(b"this is not SQLite at all, just some text " * 100)
    with pytest.raises(HistoryError, match="cannot be used"):
        History(gameday_file)


def test_a_symlink_in_place_of_the_history_is_not_followed(state_dir, gameday_file, tmp_path):
    path = history_path(gameday_file)
    path.parent.mkdir(parents=True, mode=0o700)
    target = tmp_path / "elsewhere.sqlite"
    path.symlink_to(target)
    with pytest.raises(UnsafeStateDir, match="symbolic link"):
        History(gameday_file)
    assert not target.exists()


CLAIMER = """
    import sys
    from datetime import datetime, timezone
    from pathlib import Path
    from chaos.gameday.history import History
    history = History(Path(sys.argv[1]))
    sys.stdin.readline()  # all start together
    when = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)
    won = []
    for n in range(40):
        how = ("scheduled", "catch_up", "run_due")[n % 3]
        fire = history.claim(f"drill-{n % 8}", when, None, how)
        if fire is not None:
            won.append(fire)
            history.finish(fire, "passed", "passed")
    print(len(won), flush=True)
"""


def test_processes_racing_for_the_same_fires_each_fire_runs_once(state_dir, gameday_file):
    processes = [python(CLAIMER.replace("sys.argv[1]", repr(str(gameday_file)))) for _ in range(4)]
    try:
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = [process.communicate(timeout=60) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, (_out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
    # 8 distinct fires, whoever won each: never two runs of one
    assert sum(int(out) for out, _ in results) == 8
    with History(gameday_file) as history:
        rows = history.rows(100)
    assert len(rows) == 8
    assert {r.drill for r in rows} == {f"drill-{n}" for n in range(8)}
    assert {r.state for r in rows} == {"passed"}


HOLDER = """
    import sys
    from datetime import datetime, timezone
    from chaos.gameday.history import History
    history = History(GAMEDAY)
    fire = history.claim("web-crash", datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc), None, "scheduled")
    print("claimed", flush=True)
    sys.stdin.readline()
"""


def test_a_fire_left_running_by_a_killed_process_becomes_interrupted(state_dir, gameday_file):
    holder = python(HOLDER.replace("GAMEDAY", repr(str(gameday_file))))
    try:
        wait_line(holder, "claimed")
        with History(gameday_file) as history:
            assert history.mark_interrupted() == []  # alive: still running
            (running,) = history.running()
            assert running.pid == holder.pid
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=10)
            (interrupted,) = history.mark_interrupted()
            assert interrupted.id == running.id
            assert interrupted.state == "interrupted"
            assert interrupted.ended is not None
            assert f"pid {holder.pid}" in interrupted.reasons[0]
            assert history.running() == []
            assert history.mark_interrupted() == []  # once
            # the fire stays taken: a restart cannot run it again
            assert history.claim("web-crash", T0, None, "catch_up") is None
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.communicate(timeout=10)


def test_a_reused_pid_does_not_keep_a_fire_running(history):
    fire = history.claim("d", T0, None, "scheduled")
    assert fire is not None
    # this process runs, but a row whose start time differs is another process's
    db = sqlite3.connect(history.path)
    db.execute("UPDATE fires SET process_start = process_start - 1 WHERE id = ?", (fire,))
    db.commit()
    db.close()
    (interrupted,) = history.mark_interrupted()
    assert interrupted.id == fire and interrupted.state == "interrupted"


def test_a_running_fire_of_another_host_is_left_alone(history):
    fire = history.claim("d", T0, None, "scheduled")
    assert fire is not None
    db = sqlite3.connect(history.path)
    db.execute("UPDATE fires SET host = 'elsewhere', pid = 1 WHERE id = ?", (fire,))
    db.commit()
    db.close()
    assert history.mark_interrupted() == []
    assert [f.id for f in history.running()] == [fire]


LOCKER = """
    import sqlite3, sys, time
    db = sqlite3.connect(PATH, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(float(sys.stdin.readline()))
    db.execute("COMMIT")
"""


def test_a_writer_waits_for_another_process_within_the_busy_timeout(history):
    locker = python(LOCKER.replace("PATH", repr(str(history.path))))
    try:
        wait_line(locker, "locked")
        assert locker.stdin is not None
        locker.stdin.write("0.5\n")
        locker.stdin.flush()
        began = time.monotonic()
        fire = history.claim("d", T0, None, "scheduled")
        waited = time.monotonic() - began
        assert fire is not None
        assert waited > 0.25  # it waited for the other transaction instead of failing
        locker.communicate(timeout=10)
        assert locker.returncode == 0
    finally:
        if locker.poll() is None:
            locker.kill()
            locker.communicate(timeout=10)


def test_past_the_busy_timeout_a_write_fails_clearly(state_dir, gameday_file):
    with History(gameday_file, busy_timeout=0.2) as impatient:
        locker = python(LOCKER.replace("PATH", repr(str(impatient.path))))
        try:
            wait_line(locker, "locked")
            with pytest.raises(HistoryError, match="cannot be used now: database is locked"):
                impatient.claim("d", T0, None, "scheduled")
            assert locker.stdin is not None
            locker.stdin.write("0\n")
            locker.stdin.flush()
            locker.communicate(timeout=10)
        finally:
            if locker.poll() is None:
                locker.kill()
                locker.communicate(timeout=10)
        # nothing half-done: the fire is still free
        assert impatient.claim("d", T0, None, "scheduled") is not None
