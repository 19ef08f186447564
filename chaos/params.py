"""The base of every plugin's parameter model.

Faults, probes (and the values of their steps in an experiment) are validated
by a pydantic model that subclasses :class:`Params`. Field types that parse
the format's own notations come with it: :data:`chaos.durations.Duration`,
``Interval`` and ``Timeout`` (``500ms``, ``10s``, ``1m30s``) and
:data:`chaos.patterns.Regex` (an RE2 pattern checked at load time).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    """Base class of parameter models: frozen, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
