"""Signal names and numbers as experiments write them (``SIGKILL``, ``KILL``, ``9``)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema


def parse_signal(value: object) -> str:
    """Return the canonical ``SIGNAME``; raise ValueError for an unknown signal."""
    if isinstance(value, bool):
        raise ValueError(f"not a signal: {value!r}")
    if isinstance(value, int):
        try:
            return signal.Signals(value).name
        except ValueError:
            raise ValueError(f"unknown signal number {value}") from None
    if isinstance(value, str):
        name = value.strip().upper()
        if name.isdigit():
            return parse_signal(int(name))
        if not name.startswith("SIG"):
            name = "SIG" + name
        if name in signal.Signals.__members__:
            return name
    raise ValueError(f"unknown signal {value!r}; use a name such as SIGKILL or SIGTERM")


def signal_number(name: str) -> int:
    return int(signal.Signals[name])


SignalName = Annotated[
    str,
    BeforeValidator(parse_signal),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
]


INTERRUPTS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""Signals that interrupt a run: Ctrl-C, a stop request, and a closed terminal or
SSH session (SIGHUP), which must not leave faults to the watchdog."""


@contextlib.contextmanager
def interrupt_signals(
    on_signal: Callable[[str], None], *, enabled: bool = True, defaults_only: bool = False
) -> Iterator[None]:
    """Call ``on_signal("SIGINT")`` (or ``SIGTERM``, ``SIGHUP``) for the length of the block.

    The one way chaosdrill handles signals, for a run and for faults injected
    from code. The handler only passes the signal's name on: a runner's
    ``on_signal`` records it and never raises, so a second signal while faults
    are being reverted cannot cut a revert short; a fault session's raises
    KeyboardInterrupt to leave the caller's block (its revert waits out further
    ones). Only the main thread can install handlers: elsewhere (or when not
    ``enabled``) the block runs with the handlers it had. ``defaults_only``
    takes over only the signals that still have their default disposition
    (``SIG_DFL``, or Python's own KeyboardInterrupt for SIGINT), leaving alone a
    handler the program installed and a signal it ignores (``nohup``). The
    previous handlers come back when the block ends.
    """
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        on_signal(signal.Signals(signum).name)

    handler.chaosdrill = True  # type: ignore[attr-defined]  # see interrupt_main_thread

    previous = {}
    for signum in INTERRUPTS:
        if defaults_only and signal.getsignal(signum) not in _DEFAULTS:
            continue
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


_DEFAULTS = (signal.SIG_DFL, signal.default_int_handler)


def interrupt_main_thread() -> bool:
    """Send SIGINT to the main thread, but only while a handler of
    :func:`interrupt_signals` holds it (never to a program's own handler, nor to
    Python's KeyboardInterrupt). Returns whether it was sent. For a thread that
    must make the main thread leave what it is doing now (a halt), since only a
    signal wakes it from a blocking call such as ``time.sleep``."""
    if not getattr(signal.getsignal(signal.SIGINT), "chaosdrill", False):
        return False
    ident = threading.main_thread().ident
    if ident is None:
        return False
    signal.pthread_kill(ident, signal.SIGINT)
    return True


def ignore_interrupts() -> None:
    """From now on this process ignores SIGINT, SIGTERM and SIGHUP, except where a
    run installs its own handlers (:func:`interrupt_signals` restores this after).
    For the command line: once a run is over, a late signal must not kill the
    process before it has printed its verdict and returned its exit code."""
    if threading.current_thread() is threading.main_thread():
        for signum in INTERRUPTS:
            signal.signal(signum, signal.SIG_IGN)
