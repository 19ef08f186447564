"""``chaosdrill halt`` and ``chaosdrill resume``: the kill switch (:mod:`chaos.halt`)."""

from __future__ import annotations

import argparse
import json
import sys

from chaos.exitcodes import ExitCode
from chaos.halt import HaltFlag, HaltState
from chaos.text import printable


def cmd_halt(args: argparse.Namespace) -> int:
    flag = HaltFlag()
    if args.status:
        return _status(flag, args.json)
    if args.json:
        print("chaosdrill: --json goes with --status", file=sys.stderr)
        return int(ExitCode.INVALID)
    state, made = flag.halt(args.reason)
    if made:
        print(f"{state.message}")
        print("every chaosdrill run on this host aborts now; none starts until `chaosdrill resume`")
    else:
        print(f"already halted, nothing changed: {state.message}")
    return int(ExitCode.PASSED)


def cmd_resume(args: argparse.Namespace) -> int:
    lifted = HaltFlag().resume()
    if lifted is None:
        print("not halted: nothing to resume")
    else:
        print(f"resumed: runs may start again (lifted {lifted.message})")
    return int(ExitCode.PASSED)


def refuse_if_halted() -> None:
    """Raise Halted while a halt is in force: a run or a suite must not start."""
    from chaos.errors import Halted

    state = HaltFlag().status()
    if state is not None:
        raise Halted(state.message)


def _status(flag: HaltFlag, as_json: bool) -> int:
    state = flag.status()
    if as_json:
        data = state.to_json() if state else {"halted": False, "path": str(flag.path)}
        print(json.dumps(data))
        return int(ExitCode.PASSED)
    if state is None:
        print(f"not halted (no flag at {printable(str(flag.path))})")
    else:
        _describe(state)
    return int(ExitCode.PASSED)


def _describe(state: HaltState) -> None:
    print(state.message)
    if state.readable:
        host = f" on {printable(state.host)}" if state.host else ""
        pid = f"by process {state.pid}" if state.pid is not None else ""
        if host or pid:
            print(f"  set {pid}{host}".rstrip())
        print(f"  flag: {printable(state.path)}; lift it with `chaosdrill resume`")
