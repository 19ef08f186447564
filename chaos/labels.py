"""Labels chaosdrill puts on the containers it starts itself (helpers,
watchdogs): what every target selector leaves out, and what a sweep removes."""

from __future__ import annotations

LABEL_RUN = "chaosdrill.run"
LABEL_HELPER = "chaosdrill.helper"
LABEL_OWNER = "chaosdrill.owner"
"""The process that started a helper (``host/boot id/pid/start time``): a sweep
removes helpers only once that process is known to be gone."""
LABEL_INJECTION = "chaosdrill.injection"
"""On a helper that carries a fault while it runs (a stress, a disk fill, a
process pause): the injection it belongs to. Stopping such a helper (SIGTERM)
undoes its fault, so a sweep stops it before removing it."""
