"""Target kinds (what a fault acts on) and the selection rules shared by every kind."""

from chaos.targets.base import TargetKind, TargetRef

__all__ = ["TargetKind", "TargetRef"]
