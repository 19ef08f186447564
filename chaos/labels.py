"""Labels chaosdrill puts on the containers it starts itself (helpers,
watchdogs): what every target selector leaves out, and what a sweep removes."""

from __future__ import annotations

LABEL_RUN = "chaosdrill.run"
LABEL_HELPER = "chaosdrill.helper"
"""On every container chaosdrill starts itself: never a target, removed by sweeps."""
LABEL_OWNER = "chaosdrill.owner"
"""The process that started a helper (``host/boot id/pid/start time``): a sweep
removes helpers only once that process is known to be gone."""
