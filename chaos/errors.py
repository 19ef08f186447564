"""The exception hierarchy.

Every error a user can cause or meet carries enough context (a file position,
a target name, a container) to be printed as one clear line; front ends map
the class to an :class:`~chaos.exitcodes.ExitCode` and never show a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaos.exitcodes import ExitCode


class ChaosError(Exception):
    """Base class of every error chaosdrill raises on purpose."""

    exit_code: ExitCode = ExitCode.ERROR


@dataclass(frozen=True)
class Problem:
    """One problem found in an experiment file, with its position (1-based)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class InvalidExperiment(ChaosError):
    """The experiment file cannot be used; carries every problem found."""

    exit_code = ExitCode.INVALID

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column))
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(ChaosError):
    """The command line or a referenced file is wrong."""

    exit_code = ExitCode.INVALID


class InvalidArgument(UsageError):
    """An argument of a library call is out of range. ``argument`` is its keyword
    (``jobs``), and the message names it so; a front end names its own option for
    it instead (the CLI says ``--jobs``)."""

    def __init__(self, argument: str, problem: str):
        self.argument = argument
        self.problem = problem
        super().__init__(f"{argument} {problem}")


class InvalidTarget(UsageError):
    """A target's selector would select more than its author meant (an empty
    criterion after ``${name}`` substitution): refused before anything is touched."""


class NoSwarm(UsageError):
    """An experiment targets a swarm, none was named and the local engine is not
    a swarm manager. Front ends add how to name one (``--lab``, ``--inventory``)."""


class NoLab(UsageError):
    """No lab of that name exists (``name``); front ends add how to start one."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"no lab named {name}; start one with `chaosdrill lab up`")


class EngineUnreachable(ChaosError):
    """The Docker engine did not answer."""

    exit_code = ExitCode.ERROR


class EngineTimeout(EngineUnreachable):
    """An engine call got no answer within the engine timeout; names the call."""


class TargetError(ChaosError):
    """A target could not be resolved, or its selection broke a limit."""

    exit_code = ExitCode.ERROR


class InjectionFailed(ChaosError):
    """A fault could not be injected; names the fault and the container."""

    exit_code = ExitCode.ERROR


class RevertFailed(ChaosError):
    """A fault could not be reverted; the system may still carry it."""

    exit_code = ExitCode.ERROR


class Halted(ChaosError):
    """``chaosdrill halt`` is in force: no run starts, and no fault is injected,
    until ``chaosdrill resume``. The message is the halt's
    (``halted: <reason> (by <user> at <time>)``)."""

    exit_code = ExitCode.ABORTED
