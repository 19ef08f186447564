"""Which containers a pause holds, so that no exec starts in one.

An exec that starts in a container while its cgroup is being frozen leaves
runc's exec process frozen half-way through its start: from then on every
engine call on that container hangs, the unpause included. Docker refuses an
exec into a container that is already paused, but not one that gets paused
while the exec starts. So a pause is announced here *before* the pause call
(:func:`hold`) and withdrawn only once the unpause is verified
(:func:`release`), and every exec asks here first (:func:`exec_slot`, used by
:func:`chaos.container_exec.exec_run`).

Within one process this is a thread-safe registry, and the two sides exclude
each other: an exec either sees the pause and does not start, or is seen by
the pause, which waits for it to get past its start before freezing. Across
processes, another live run's open ledger entry of ``container.pause`` on the
container (or of ``node.pause`` on a lab node's container) counts as a pause.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator

from chaos.errors import ChaosError

EXEC_START_GRACE = 3.0
"""Longest a pause waits for execs that are starting in its container. An
exec that has been under way this long is past its start (which takes well
under a second): freezing it then is an ordinary freeze."""

_cond = threading.Condition()
_pauses: dict[str, list[str]] = {}
"""Container id -> the run ids whose pause is being applied to it or holds it."""
_execs: dict[str, dict[int, float]] = {}
"""Container id -> {exec token: monotonic start} of execs under way in it."""
_tokens = itertools.count(1)


class ContainerPaused(ChaosError):
    """An exec was not started because a pause holds (or is being applied to) the container."""


def _key(container_id: str) -> str:
    return container_id.strip().lower()


def _same(a: str, b: str) -> bool:
    """Full ids, or one a prefix (a short id) of the other."""
    a, b = _key(a), _key(b)
    return bool(a and b) and (a.startswith(b) or b.startswith(a))


def _find(table: dict[str, object], container_id: str) -> str | None:
    key = _key(container_id)
    if key in table:
        return key
    return next((k for k in table if _same(k, key)), None)


def hold(container_id: str, run_id: str, wait: float = EXEC_START_GRACE) -> None:
    """Announce that run ``run_id`` is about to pause the container; call before the
    pause. Waits (at most ``wait`` seconds) for execs still starting in it."""
    key = _key(container_id)
    deadline = time.monotonic() + wait
    with _cond:
        _pauses.setdefault(key, []).append(run_id)
        while True:
            now = time.monotonic()
            found = _find(_execs, key)  # type: ignore[arg-type]
            starting = (
                [t for t in _execs.get(found, {}).values() if now - t < wait] if found else []
            )
            if not starting or now >= deadline:
                return
            _cond.wait(min(deadline - now, wait - (now - max(starting))))


def release(container_id: str, run_id: str) -> None:
    """Withdraw one pause of ``run_id`` (after its unpause was verified, or when it failed)."""
    with _cond:
        found = _find(_pauses, container_id)  # type: ignore[arg-type]
        if found is None:
            return
        holders = _pauses[found]
        if run_id in holders:
            holders.remove(run_id)
        if not holders:
            del _pauses[found]
        _cond.notify_all()


def held(container_id: str) -> list[str]:
    """Run ids of this process whose pause holds the container (for tests and messages)."""
    with _cond:
        found = _find(_pauses, container_id)  # type: ignore[arg-type]
        return list(_pauses.get(found, [])) if found else []


def _ledger_pause(container_id: str) -> str | None:
    """Run id of another live process's run that holds a pause on the container."""
    from chaos.ledger import Ledger, default_state_dir

    state_dir = default_state_dir()
    if not state_dir.is_dir():
        return None  # no run ever used it: nothing recorded (and nothing to create)
    try:
        entries = Ledger(state_dir).open_entries()
    except (ChaosError, OSError):
        return None  # no usable ledger: nothing recorded there
    me, host = os.getpid(), socket.gethostname()
    for entry in entries:
        if entry.pid == me and entry.host == host:
            continue  # this process's own pauses are in the registry, exactly
        if entry.fault == "container.pause":
            ids = [str(entry.target.get("id") or "")]
        elif entry.fault == "node.pause":
            state = getattr(entry, "state", None) or {}
            ids = [str(state.get("container") or "")]
        else:
            continue
        if any(_same(i, container_id) for i in ids) and entry.runner_alive():
            return str(entry.run_id)
    return None


def paused_by(container_id: str) -> str | None:
    """The run id of a chaosdrill run that pauses the container (or is pausing it), if any."""
    holders = held(container_id)
    if holders:
        return holders[-1]
    return _ledger_pause(container_id)


def refusal(label: str, run_id: str) -> str:
    return f"{label}: paused (by chaosdrill run {run_id})"


@contextlib.contextmanager
def exec_slot(container_id: str, label: str) -> Iterator[None]:
    """Run the block (an exec) only if no pause holds the container.

    Raises :class:`ContainerPaused` naming the container and the run that
    pauses it. While the block runs, a pause of this process waits for it
    (see :func:`hold`).
    """
    other = _ledger_pause(container_id)
    if other is not None:
        raise ContainerPaused(refusal(label, other))
    key = _key(container_id)
    with _cond:
        found = _find(_pauses, key)  # type: ignore[arg-type]
        if found is not None:
            raise ContainerPaused(refusal(label, _pauses[found][-1]))
        token = next(_tokens)
        _execs.setdefault(key, {})[token] = time.monotonic()
    try:
        yield
    finally:
        with _cond:
            slots = _execs.get(key, {})
            slots.pop(token, None)
            if not slots:
                _execs.pop(key, None)
            _cond.notify_all()
