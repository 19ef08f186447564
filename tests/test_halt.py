"""The kill switch's flag file and its commands, without an engine.

Every test works in its own state directory (the autouse ``state_dir``
fixture sets ``CHAOSDRILL_STATE_DIR``), so a halt here never reaches another
session on this machine.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from chaos.halt import HALT_FILE, MAX_FLAG_BYTES, HaltFlag, HaltWatcher, current_user
from tests.conftest import cli
from tests.halt_support import pause_experiment

EXPERIMENT = pause_experiment("never starts", "cd-halt-nothing-has-this", "5s")


def test_a_halt_is_written_privately_with_who_when_and_where(state_dir: Path) -> None:
    flag = HaltFlag(state_dir / "fresh")
    when = datetime(2026, 12, 2, 10, 0, 5, tzinfo=timezone.utc)
    state, made = flag.halt("  db migration  ", user="ops", now=when)
    assert made
    assert state.message == "halted: db migration (by ops at 2026-12-02T10:00:05Z)"
    assert stat.S_IMODE(os.stat(flag.dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(flag.path).st_mode) == 0o600
    written = json.loads(flag.path.read_text())
    assert written == {
        "reason": "db migration",
        "user": "ops",
        "at": "2026-12-02T10:00:05Z",
        "pid": os.getpid(),
        "host": state.host,
    }
    assert state.host
    assert flag.status() == state
    assert [p.name for p in flag.dir.iterdir()] == [HALT_FILE], "no temporary file left"


def test_a_second_halt_changes_nothing_and_resume_lifts_it(state_dir: Path) -> None:
    flag = HaltFlag(state_dir)
    first, made = flag.halt("first")
    again, made_again = flag.halt("second")
    assert made and not made_again
    assert again == first and flag.status() == first
    assert flag.resume() == first
    assert flag.status() is None and not flag.path.exists()
    assert flag.resume() is None


def test_the_user_is_the_one_behind_sudo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUDO_USER", "alice")
    assert current_user() == "alice"
    monkeypatch.delenv("SUDO_USER")
    assert current_user()


def test_an_empty_reason_says_so(state_dir: Path) -> None:
    state, _ = HaltFlag(state_dir).halt("   ")
    assert state.reason == "no reason given"


def _huge(path: Path) -> None:
    path.write_bytes(b" " * (MAX_FLAG_BYTES + 10) + b"{}")


def _fifo(path: Path) -> None:
    os.mkfifo(path, 0o600)


def _symlink(path: Path) -> None:
    target = path.parent / "elsewhere.json"
    target.write_text('{"reason": "planted", "user": "x", "at": "y"}')
    path.symlink_to(target)


@pytest.mark.parametrize(
    ("write", "why"),
    [
        (lambda p: p.write_text('{"reason": "cut'), "not JSON"),
        (lambda p: p.write_bytes(b"\xff\xfe\x00garbage"), "not JSON"),
        (lambda p: p.write_text("[1, 2]"), "not a JSON object but list"),
        (lambda p: p.write_text('{"reason": ["a"]}'), "field 'reason' is list"),
        (lambda p: p.write_text('{"reason": "x", "pid": "12"}'), "field 'pid' is str"),
        (lambda p: p.write_text('{"reason": "x", "pid": true}'), "field 'pid' is bool"),
        (lambda p: p.write_text('{"user": "nobody"}'), "no reason"),
        (lambda p: p.write_text(""), "not JSON"),
        (_huge, f"larger than {MAX_FLAG_BYTES} bytes"),
        (_fifo, "not a regular file"),
        (_symlink, "symbolic link"),
    ],
    ids=[
        "torn",
        "binary",
        "list",
        "reason-list",
        "pid-str",
        "pid-bool",
        "no-reason",
        "empty",
        "huge",
        "fifo",
        "symlink",
    ],
)
def test_an_unreadable_flag_is_a_halt_that_resume_lifts(state_dir: Path, write, why) -> None:
    flag = HaltFlag(state_dir)
    write(flag.path)
    state = flag.status()
    assert state is not None and not state.readable
    assert state.reason.startswith("halt flag unreadable: ") and why in state.reason
    assert state.message.startswith("halted: halt flag unreadable: ")
    assert "chaosdrill resume" in state.message
    again, made = flag.halt("on top")
    assert not made and again == state, "an unreadable flag is not written over"
    assert flag.resume() == state
    assert flag.status() is None and not os.path.lexists(flag.path)


def test_a_directory_in_place_of_the_flag_is_a_halt_resume_cannot_lift(state_dir: Path) -> None:
    flag = HaltFlag(state_dir)
    flag.path.mkdir()
    state = flag.status()
    assert state is not None and "not a regular file" in state.reason
    proc = cli("resume")
    assert proc.returncode == 4 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("chaosdrill: cannot remove the halt flag ")
    assert "remove it by hand" in proc.stderr
    flag.path.rmdir()


def test_control_characters_in_a_flag_are_shown_escaped(state_dir: Path) -> None:
    flag = HaltFlag(state_dir)
    flag.path.write_text(json.dumps({"reason": "x\x1b[2J", "user": "a\nb", "at": "t"}))
    state = flag.status()
    assert state is not None and state.readable
    assert state.message == "halted: x\\x1b[2J (by a\\nb at t)"


def test_the_watcher_calls_back_once_soon_after_a_halt(state_dir: Path) -> None:
    flag = HaltFlag(state_dir)
    seen: list[tuple[float, str]] = []
    fired = threading.Event()

    def on_halt(state) -> None:
        seen.append((time.monotonic(), state.reason))
        fired.set()

    watcher = HaltWatcher(flag, on_halt).start()
    try:
        time.sleep(0.3)
        assert not seen, "no halt, no call"
        thrown = time.monotonic()
        flag.halt("now")
        assert fired.wait(2), "the watcher never saw the halt"
        time.sleep(0.5)
    finally:
        watcher.stop()
    assert len(seen) == 1 and seen[0][1] == "now"
    assert seen[0][0] - thrown < 0.5


# -- the commands ---------------------------------------------------------------------


def test_halt_status_resume_through_the_cli(state_dir: Path) -> None:
    status = cli("halt", "--status")
    assert status.returncode == 0 and status.stdout.startswith("not halted"), status
    as_json = json.loads(cli("halt", "--status", "--json").stdout)
    assert as_json == {"halted": False, "path": str(state_dir / HALT_FILE)}

    halted = cli("halt", "--reason", "db migration")
    assert halted.returncode == 0, halted.stderr
    user = current_user()
    assert halted.stdout.startswith(f"halted: db migration (by {user} at ")
    assert "none starts until `chaosdrill resume`" in halted.stdout

    twice = cli("halt", "--reason", "something else")
    assert twice.returncode == 0
    assert twice.stdout.startswith("already halted, nothing changed: halted: db migration")

    status = cli("halt", "--status")
    assert status.returncode == 0
    assert status.stdout.startswith(f"halted: db migration (by {user} at ")
    assert "lift it with `chaosdrill resume`" in status.stdout
    data = json.loads(cli("halt", "--status", "--json").stdout)
    assert data["halted"] is True and data["readable"] is True
    assert (data["reason"], data["user"]) == ("db migration", user)
    assert data["message"].startswith("halted: db migration (by ")
    assert isinstance(data["pid"], int) and data["host"] and data["at"].endswith("Z")

    resumed = cli("resume")
    assert resumed.returncode == 0
    assert resumed.stdout.startswith("resumed: runs may start again (lifted halted: db migration")
    again = cli("resume")
    assert (again.returncode, again.stdout) == (0, "not halted: nothing to resume\n")
    assert not (state_dir / HALT_FILE).exists()


def test_json_without_status_is_a_usage_error(state_dir: Path) -> None:
    proc = cli("halt", "--json")
    assert proc.returncode == 2 and "--json goes with --status" in proc.stderr
    assert not (state_dir / HALT_FILE).exists()


@pytest.mark.parametrize("command", ["run", "suite"])
def test_an_unreadable_flag_refuses_runs_without_a_traceback(
    state_dir: Path, tmp_path: Path, command: str
) -> None:
    (state_dir / HALT_FILE).write_bytes(b'{"reason": 12, ')
    path = tmp_path / "experiment.yaml"
    path.write_text(EXPERIMENT)
    proc = cli(command, str(path), "--report-dir", str(tmp_path / "reports"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stderr.startswith("chaosdrill: halted: halt flag unreadable: not JSON")
    assert "lift it with `chaosdrill resume`" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "reports").exists(), "nothing ran, nothing was written"
    assert cli("resume").returncode == 0
    assert not (state_dir / HALT_FILE).exists()
