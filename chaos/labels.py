"""Labels chaosdrill puts on the containers it starts itself (helpers,
watchdogs): what every target selector leaves out, and what a sweep removes."""

from __future__ import annotations

LABEL_RUN = "chaosdrill.run"
LABEL_HELPER = "chaosdrill.helper"
"""On every container chaosdrill starts itself: never a target, removed by sweeps."""
LABEL_OWNER = "chaosdrill.owner"
"""The process that started a helper (``host/boot id/pid/start time``): a sweep
removes helpers only once that process is known to be gone."""
LABEL_LEDGER = "chaosdrill.ledger"
"""The fault ledger an injection's entry is in (``chaos.ledger.Ledger.identity``),
on its watchdog and on the helpers that carry it."""
LABEL_CARRIES = "chaosdrill.helper.injection"
"""On a helper that carries a fault while it lasts (a proxy the traffic is
redirected to), with :data:`LABEL_LEDGER`: the injection. A sweep treats it like
that injection's watchdog: removed only once the entry is closed in its own
ledger, never because its owner is gone (removing it early breaks the traffic
still redirected to it)."""
LABEL_INJECTION = "chaosdrill.injection"
"""On a helper that carries a fault while it runs (a stress, a disk fill, a
process pause): the injection it belongs to. Stopping such a helper (SIGTERM)
undoes its fault, so a sweep stops it before removing it."""
