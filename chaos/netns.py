"""Commands run inside a container's network namespace: iptables and tc.

Network faults and the lab's node controller both cut traffic with iptables
rules in a chain of chaosdrill's own, named after the injection
(:func:`chain_name`), and shape it with a root qdisc whose handle derives from
the injection (:func:`qdisc_handle`): reverting deletes exactly those, and a
watchdog armed before the injection runs the same :data:`REVERT`.

:func:`run_in_netns` is the one way to run such a command next to a
container: in a container that already sits in its namespace (a watchdog),
else in a short-lived helper container that joins it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from chaos.container_exec import exec_run
from chaos.errors import ChaosError, InjectionFailed
from chaos.helper_containers import run_helper

if TYPE_CHECKING:
    from chaos.runtime import Runtime

APPLY_RULES = 'printf "%s\\n" "$1" | iptables-restore -w 5 --noflush'
"""``sh -c APPLY_RULES apply RULES``: one ``iptables-restore --noflush``
transaction, all or nothing; the rules text is one argument no shell parses."""

REVERT = """
c="$1"; h="${2:-}"
for hook in INPUT OUTPUT; do
  while iptables -w 5 -D "$hook" -j "$c" 2>/dev/null; do :; done
done
iptables -w 5 -F "$c" 2>/dev/null; iptables -w 5 -X "$c" 2>/dev/null
[ -n "$h" ] && for dev in $(ls /sys/class/net); do
  if tc qdisc show dev "$dev" root | grep -q " $h "; then tc qdisc del dev "$dev" root; fi
done
if iptables -w 5 -S "$c" >/dev/null 2>&1; then echo "chain $c still present"; exit 1; fi
exit 0
"""
"""Undo everything an injection added: its own chain ($1) and its own qdiscs (by
handle, $2, when given), never another injection's. Idempotent."""

APPLY_QDISC = """
h="$1"; kind="$2"; shift 2
for dev in $(ls /sys/class/net); do
  [ "$dev" = lo ] && continue
  held=$(tc qdisc show dev "$dev" root | awk '$3 != "0:" {print $2 " " $3; exit}')
  if [ -n "$held" ]; then echo "busy: $dev already carries a root qdisc ($held)"; exit 4; fi
done
added=""
for dev in $(ls /sys/class/net); do
  [ "$dev" = lo ] && continue
  if ! tc qdisc add dev "$dev" root handle "$h" "$kind" "$@"; then
    for done_dev in $added; do tc qdisc del dev "$done_dev" root 2>/dev/null; done
    exit 3
  fi
  added="$added $dev"
done
"""
"""Add one root qdisc with the injection's own handle on every interface but lo:
all or none. An interface that already carries a root qdisc (another fault's,
or the container's own shaping) is left alone and the injection refused: a
device has one root qdisc, and replacing it would undo someone else's."""


def qdisc_handle(injection_id: str) -> str:
    """The injection's own tc handle, ``cdXX:``: derived from the injection id,
    so a watchdog armed before the injection deletes exactly this qdisc."""
    digest = hashlib.sha256(injection_id.encode()).digest()
    return f"cd{digest[0]:02x}:"


def chain_name(injection_id: str) -> str:
    return f"CD-{injection_id}"[:28]  # iptables chain names are at most 28 characters


def run_in_netns(
    runtime: Runtime,
    container_id: str,
    argv: list[str],
    *,
    purpose: str,
    cap_add: tuple[str, ...] = (),
    error: type[ChaosError] = InjectionFailed,
    stdin: bytes | None = None,
    exec_in: str | None = None,
) -> tuple[int, str]:
    """Run ``argv`` in the network namespace of ``container_id``; return (exit code, output).

    With ``exec_in`` (a container already in that namespace with the
    capabilities it needs, such as an injection's watchdog) the command is
    exec'd there when it runs: far cheaper than a container. Otherwise, or
    when that exec cannot start, a short-lived helper in the runtime's netns
    image joins the namespace with ``cap_add`` (nothing else): it sees the
    container's interfaces, routes, ``/etc/resolv.conf`` and ``/etc/hosts``.
    Failures to run the helper raise ``error`` naming ``purpose``; values that
    may be secret go in ``stdin``, never in ``argv``.
    """
    if exec_in is not None and stdin is None:
        done = _exec_in(runtime, exec_in, argv)
        if done is not None:
            return done
    options: dict[str, list[str]] = {"cap_add": list(cap_add)} if cap_add else {}
    return run_helper(
        runtime,
        argv,
        purpose=purpose,
        image=runtime.netns_image,
        error=error,
        stdin=stdin,
        network_mode=f"container:{container_id}",
        **options,
    )


def _exec_in(runtime: Runtime, container_id: str, argv: list[str]) -> tuple[int, str] | None:
    """Exit code and output of ``argv`` run in a container; None if it is not running."""
    try:
        result = exec_run(runtime.docker.api, container_id, argv)
    except Exception:  # gone, paused or no longer running: the caller starts a helper instead
        return None
    if result.exit_code is None:
        return None
    return result.exit_code, result.output
