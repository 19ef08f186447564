"""The fault ledger survives damage: torn and malformed lines, reused PIDs,
unbounded growth and an untrustworthy state directory (no engine needed)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from chaos import liveness
from chaos.errors import ChaosError
from chaos.ledger import COMPACT_AFTER, ORPHAN_GRACE, Entry, Ledger
from chaos.state import UnsafeStateDir, ensure_private_dir


def entry(entry_id: str, target: str = "c1", **fields) -> Entry:
    me = liveness.this_process()
    values = {
        "id": entry_id,
        "run_id": "run1",
        "pid": me.pid,
        "host": me.host,
        "fault": "container.pause",
        "step": "freeze",
        "target": {"kind": "container", "id": target, "name": f"name-{target}"},
        "params": {},
        "opened_at": time.time(),
        "revert_at": time.time() + 30,
        "boot_id": me.boot_id,
        "started": me.started,
        **fields,
    }
    return Entry(**values)


def lines(ledger: Ledger) -> list[str]:
    return ledger.path.read_text().splitlines()


def test_a_torn_last_line_does_not_swallow_the_next_entry(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.open(entry("a"))
    with ledger.path.open("a") as fh:  # the runner died in the middle of a write
        fh.write('{"op":"open","entry":{"id":"b","run_')
    ledger.open(entry("c", target="c3"))
    assert [e.id for e in ledger.open_entries()] == ["a", "c"]
    assert ledger.problems() == [f"{ledger.path}:2: skipped a damaged ledger line (not JSON)"]
    assert len(lines(ledger)) == 3


def test_a_torn_line_at_the_very_end_is_reported_as_torn(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.open(entry("a"))
    with ledger.path.open("a") as fh:
        fh.write('{"op":"close","id":"a"')
    assert [e.id for e in ledger.open_entries()] == ["a"]
    assert ledger.problems() == [f"{ledger.path}:2: skipped a damaged ledger line (torn last line)"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[]", "a record must be an object, not list"),
        ('{"op": "open", "entry": {}}', "entry without 'id'"),
        ('{"op": "open"}', "an open record without an entry object"),
        ('{"op": "open", "entry": {"id": 5}}', "entry field 'id' has the wrong type"),
        ('{"op": "update", "id": "a", "state": []}', "update of 'state' with the wrong type"),
        ('{"op": "close"}', "close record without an id"),
        ('{"op": "explode", "id": "a"}', "unknown op 'explode'"),
        ("42", "a record must be an object, not int"),
        ('"text"', "a record must be an object, not str"),
    ],
)
def test_a_malformed_record_is_skipped_and_reported_with_its_line(tmp_path, line, reason):
    ledger = Ledger(tmp_path)
    ledger.open(entry("a"))
    with ledger.path.open("a") as fh:
        fh.write(line + "\n")
    ledger.open(entry("b", target="c2"))
    ledger.update("a", state={"x": 1})
    found = {e.id: e for e in ledger.open_entries()}
    assert set(found) == {"a", "b"}
    assert found["a"].state == {"x": 1}
    assert ledger.problems() == [f"{ledger.path}:2: skipped a damaged ledger line ({reason})"]


def test_a_record_with_a_wrongly_typed_pid_is_refused_not_trusted(tmp_path):
    ledger = Ledger(tmp_path)
    record = {"op": "open", "entry": {**asdict(entry("a")), "pid": True}}
    ledger.path.write_text(json.dumps(record) + "\n")
    assert ledger.open_entries() == []
    assert "entry field 'pid' has the wrong type" in ledger.problems()[0]


def test_a_reused_pid_is_not_a_live_runner():
    me = entry("a")
    assert me.runner_alive()
    assert not replace(me, started=(me.started or 0) + 1).runner_alive()
    assert not replace(me, boot_id="another-boot").runner_alive()


def test_an_entry_past_its_revert_time_is_orphaned_even_if_its_pid_lives():
    overdue = entry("a", revert_at=time.time() - ORPHAN_GRACE - 1)
    assert liveness.alive(overdue.process) is True
    assert not overdue.runner_alive()
    due_soon = entry("b", revert_at=time.time() - ORPHAN_GRACE + 30)
    assert due_soon.runner_alive()


def test_another_hosts_runner_counts_as_alive_only_until_its_deadline():
    remote = entry("a", host="another-host")
    assert remote.runner_alive()
    assert not replace(remote, revert_at=time.time() - ORPHAN_GRACE - 1).runner_alive()


def test_compaction_keeps_open_entries_with_their_updates(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.open(entry("keep", target="k"))
    ledger.update("keep", state={"paused": True}, watchdog="w1")
    for n in range(COMPACT_AFTER):
        ledger.open(entry(f"e{n}", target=f"t{n}"))
        ledger.close(f"e{n}", "reverted")
    assert len(lines(ledger)) == 2 + 2 * COMPACT_AFTER
    assert ledger.compact()
    assert len(lines(ledger)) == 1
    (kept,) = ledger.open_entries()
    assert (kept.id, kept.state, kept.watchdog) == ("keep", {"paused": True}, "w1")
    assert not ledger.compact()  # nothing to drop now


def test_compaction_moves_bad_lines_aside_for_a_human(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.open(entry("a"))
    with ledger.path.open("a") as fh:
        fh.write("[1, 2]\n")
    assert ledger.compact()
    assert [e.id for e in ledger.open_entries()] == ["a"]
    assert ledger.problems() == []
    rejected = (tmp_path / "ledger.rejected").read_text()
    assert "line 2: a record must be an object, not list" in rejected and "[1, 2]" in rejected


def test_the_state_dir_is_created_private(tmp_path):
    state = tmp_path / "new" / "state"
    Ledger(state).open(entry("a"))
    assert (os.stat(state).st_mode & 0o777) == 0o700
    assert (os.stat(state / "ledger.jsonl").st_mode & 0o777) == 0o600


def test_a_world_writable_state_dir_is_refused(tmp_path):
    state = tmp_path / "shared"
    state.mkdir()
    state.chmod(0o777)
    with pytest.raises(UnsafeStateDir, match="writable by other users"):
        Ledger(state).open_entries()
    assert not (state / "ledger.jsonl").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a directory's owner needs root")
def test_a_state_dir_of_another_user_is_refused(tmp_path):
    state = tmp_path / "theirs"
    state.mkdir(mode=0o700)
    os.chown(state, 65534, 65534)
    with pytest.raises(UnsafeStateDir, match="belongs to uid 65534"):
        ensure_private_dir(state)


def test_a_symlinked_ledger_file_is_not_followed(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("precious\n")
    (state / "ledger.jsonl").symlink_to(elsewhere)
    with pytest.raises(ChaosError, match="symbolic link"):
        Ledger(state).open(entry("a"))
    assert elsewhere.read_text() == "precious\n"


def test_only_known_fields_can_be_updated(tmp_path):
    with pytest.raises(ValueError, match="not updatable"):
        Ledger(tmp_path).update("a", pid=1)


def test_a_ledger_written_as_root_by_an_older_version_still_reads(tmp_path: Path):
    old = {
        k: v
        for k, v in asdict(entry("a")).items()
        if k not in ("boot_id", "started", "before", "needs_before")
    }
    (tmp_path / "ledger.jsonl").write_text(json.dumps({"op": "open", "entry": old}) + "\n")
    tmp_path.chmod(0o700)
    (found,) = Ledger(tmp_path).open_entries()
    assert found.id == "a" and found.before is None and not found.needs_before
