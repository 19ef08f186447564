"""What the kill switch's tests share (``tests/test_halt.py`` without an engine,
``tests/engine/test_halt.py`` with one)."""

from __future__ import annotations

import textwrap


def pause_experiment(title: str, group: str, duration: str) -> str:
    """An experiment pausing the one container labelled ``grp=group`` for ``duration``."""
    return textwrap.dedent(f"""\
        version: 1
        title: {title}
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}, max_targets: 1}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: {duration}}}
        recovery: {{within: 5s, stable_for: 0s}}
    """)
