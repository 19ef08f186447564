"""Serve and drill locks, held and fought over by real separate processes."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import time
from pathlib import Path

import pytest

from chaos.gameday.locks import DrillLock, FileLock, Holder, LockHeld, ServeLock
from tests.gameday.conftest import python, wait_line

SERVE = """
    import sys
    from chaos.gameday.locks import ServeLock
    lock = ServeLock(GAMEDAY)
    lock.acquire()
    print("serving", flush=True)
    sys.stdin.readline()
"""

DRILL = """
    import sys
    from chaos.gameday.locks import DrillLock
    lock = DrillLock()
    holder = lock.try_acquire("DRILL", GAMEDAY)
    assert holder is None, holder
    print("running", flush=True)
    sys.stdin.readline()
"""


def start(code: str, gameday: Path, drill: str = "web-crash"):
    return python(code.replace("GAMEDAY", repr(str(gameday))).replace("DRILL", drill))


def stop(process) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=10)


def wait_free(acquire, deadline: float = 10.0):
    """Try until the lock is free (the kernel releases it as the holder dies)."""
    end = time.monotonic() + deadline
    while True:
        result = acquire()
        if result is None or time.monotonic() > end:
            return result
        time.sleep(0.02)


def test_a_second_serve_of_the_same_file_is_refused_naming_the_first(state_dir, gameday_file):
    first = start(SERVE, gameday_file)
    try:
        wait_line(first, "serving")
        with pytest.raises(LockHeld) as caught:
            ServeLock(gameday_file).acquire()
        message = str(caught.value)
        assert f"pid {first.pid}" in message
        assert str(gameday_file) in message
        assert caught.value.holder.pid == first.pid
        assert caught.value.holder.file == str(gameday_file)
    finally:
        stop(first)


def test_one_serve_per_state_directory(state_dir, gameday_file, tmp_path, monkeypatch):
    other_file = tmp_path / "other.yaml"
    other_file.write_text("version: 1\n")
    first = start(SERVE, gameday_file)
    try:
        wait_line(first, "serving")
        lock = ServeLock(other_file)
        with pytest.raises(LockHeld) as caught:
            lock.acquire()
        message = str(caught.value)
        assert f"pid {first.pid}" in message
        assert str(gameday_file) in message and str(other_file) in message
        assert "one serve per state directory" in message
        # refusing took nothing: the first one's file lock is not held by us either
        assert not lock._file_lock.held
    finally:
        stop(first)
    # another state directory is another scope
    monkeypatch.setenv("CHAOSDRILL_STATE_DIR", str(tmp_path / "state2"))
    with ServeLock(other_file):
        pass


def test_a_sigkilled_serve_frees_its_locks(state_dir, gameday_file):
    first = start(SERVE, gameday_file)
    try:
        wait_line(first, "serving")
        lock = ServeLock(gameday_file)
        with pytest.raises(LockHeld):
            lock.acquire()
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        def attempt():
            try:
                lock.acquire()
            except LockHeld as exc:
                return exc.holder
            return None

        assert wait_free(attempt) is None
        # held by this process now; a child process is refused and told so
        child = python(
            f"""
            from chaos.gameday.locks import LockHeld, ServeLock
            try:
                ServeLock({str(gameday_file)!r}).acquire()
            except LockHeld as exc:
                print(exc.holder.pid)
            """
        )
        out, err = child.communicate(timeout=30)
        assert out.strip() == str(os.getpid()), err
        lock.release()
    finally:
        stop(first)


def test_lock_files_are_private_and_empty_once_released(state_dir, gameday_file):
    lock = ServeLock(gameday_file)
    lock.acquire()
    files = sorted((state_dir / "gameday").glob("*.lock"))
    assert [f.name for f in files][-1] == "serve.lock" and len(files) == 2
    for path in files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert str(os.getpid()) in path.read_text()
    lock.release()
    assert all(path.read_text() == "" for path in files)
    with ServeLock(gameday_file):  # released: takes again
        pass


def test_the_drill_lock_tells_who_holds_it(state_dir, gameday_file, tmp_path):
    holder_process = start(DRILL, gameday_file, drill="web-crash")
    try:
        wait_line(holder_process, "running")
        lock = DrillLock()
        holder = lock.try_acquire("web-crash", gameday_file)
        assert holder is not None and not lock.held
        assert (holder.pid, holder.drill, holder.file) == (
            holder_process.pid,
            "web-crash",
            str(gameday_file),
        )
        assert holder.skip_reason("web-crash", gameday_file) == (
            f"previous still running (pid {holder_process.pid})"
        )
        assert holder.skip_reason("db-failover", gameday_file) == (
            f"another drill is running: web-crash (pid {holder_process.pid})"
        )
        other = tmp_path / "other.yaml"
        assert holder.skip_reason("web-crash", other) == (
            f"another drill is running: web-crash of {gameday_file} (pid {holder_process.pid})"
        )
        holder_process.send_signal(signal.SIGKILL)
        holder_process.wait(timeout=10)
        assert wait_free(lambda: lock.try_acquire("db-failover", gameday_file)) is None
        assert lock.held
        lock.release()
        assert not lock.held
    finally:
        stop(holder_process)


def test_the_drill_lock_excludes_within_one_process_too(state_dir, gameday_file):
    first, second = DrillLock(), DrillLock()
    assert first.try_acquire("a", gameday_file) is None
    holder = second.try_acquire("b", gameday_file)
    assert holder is not None and holder.pid == os.getpid() and holder.drill == "a"
    first.release()
    assert second.try_acquire("b", gameday_file) is None
    second.release()


SPAWNER = """
    import subprocess, sys
    from chaos.gameday.locks import DrillLock
    lock = DrillLock()
    assert lock.try_acquire("web-crash", GAMEDAY) is None
    # a drill's child process, given every inheritable descriptor
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], close_fds=False)
    print(child.pid, flush=True)
    sys.stdin.readline()
"""


def test_a_child_process_does_not_keep_the_lock_of_a_killed_holder(state_dir, gameday_file):
    holder = start(SPAWNER, gameday_file)
    child_pid = None
    try:
        assert holder.stdout is not None
        child_pid = int(holder.stdout.readline())
        lock = DrillLock()
        assert lock.try_acquire("db-failover", gameday_file) is not None
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        os.kill(child_pid, 0)  # the child still runs...
        # ...and holds nothing
        assert wait_free(lambda: lock.try_acquire("db-failover", gameday_file)) is None
        lock.release()
    finally:
        if child_pid is not None:  # first: it holds the holder's output open
            with contextlib.suppress(ProcessLookupError):
                os.kill(child_pid, signal.SIGKILL)
        stop(holder)


def test_an_unreadable_description_still_reports_a_holder(state_dir, tmp_path):
    path = tmp_path / "x.lock"
    held = FileLock(path)
    assert held.try_acquire(drill="a") is None
    path.write_text("garbage")  # not what a holder writes
    holder = FileLock(path)._holder(attempts=2)
    assert holder == Holder(pid=None)
    assert holder.describe() == "pid unknown"
    held.release()
