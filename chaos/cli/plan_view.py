"""``chaosdrill run --dry-run``: what would be touched, and when."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaos.engine.plan import Plan, PlannedAction
from chaos.experiment.actions import HttpActionParams
from chaos.redaction import Redactor, mask_credentials
from chaos.text import printable


def plan_lines(plan: Plan) -> list[str]:
    experiment = plan.experiment
    lines = [f"plan: {experiment.title} ({plan.loaded.path}) - dry run, nothing is touched"]
    lines.append("targets:")
    for name, sel in plan.selections.items():
        chosen = ", ".join(f"{ref.name} ({ref.short_id})" for ref in sel.chosen) or "none"
        lines.append(
            f"  {name}: {sel.spec.kind}, mode {sel.spec.describe_mode()}, seed {sel.seed}: "
            f"{sel.candidates} matched, {len(sel.chosen)} chosen -> {chosen}"
        )
        if sel.where is not None:
            lines.append(
                f"    where probe {sel.where.probe}: kept {len(sel.where.kept)} of "
                f"{len(sel.where.examined)}"
            )
            for examined in sel.where.examined:
                state = "kept" if examined.ok else "dropped"
                lines.append(f"      {state} {examined.ref.name}: {printable(examined.detail)}")
    lines.append("method:")
    steps: list[tuple[float, int, str]] = []
    for planned in plan.faults:
        step = planned.step
        window = f" for {step.duration:g}s" if step.duration is not None else ""
        revert = ", then reverted" if planned.fault.reversible else ""
        names = ", ".join(ref.name for ref in planned.selection.chosen) or "nothing"
        line = f"  t+{step.at:g}s {step.name}: {step.fault} on {names}{window}{revert}"
        steps.append((step.at, planned.index, line))
    for action in plan.actions:
        steps.append((action.step.at, action.index, f"  t+{action.step.at:g}s {_action(action)}"))
    for check in plan.checks:
        step = check.step
        on = ", ".join(ref.name for ref in check.bound.targets)
        line = f"  t+{step.at:g}s {step.name}: check probe {step.probe}" + (
            f" on {on}" if on else ""
        )
        steps.append((step.at, check.index, line))
    lines += [line for _at, _index, line in sorted(steps)]
    lines.append(f"steady state: {', '.join(b.name for b in plan.steady_state) or 'none'}")
    lines.append(f"probes: {', '.join(b.name for b in plan.probes) or 'none'}")
    lines.append(f"guards: {', '.join(b.name for b in plan.guards) or 'none'}")
    lines.append(f"recovery within {experiment.recovery.within:g}s")
    return lines


def _action(planned: PlannedAction) -> str:
    """``canary: exec [redis-cli, set, k, v] in redis-1`` or ``kick: http POST http://...``."""
    step, params = planned.step, planned.params
    if isinstance(params, HttpActionParams):
        what = f"{params.method} {mask_credentials(params.url)}"
        return f"{step.name}: action http {what}"
    where = params.container or ", ".join(ref.name for ref in planned.targets) or "nothing"
    return f"{step.name}: action exec {printable(str(list(params.command)))} in {where}"


def print_plan(plan: Plan) -> None:
    redact = Redactor(plan.loaded.secrets).text
    for line in plan_lines(plan):
        print(redact(line))


def preview_lines(looks: Sequence[tuple[Any, Any]]) -> list[str]:
    """What each probe that can look ahead saw (``api.preview``): ok, or why not."""
    if not looks:
        return []
    lines = ["probe checks now (read-only):"]
    for bound, check in looks:
        state = "ok" if check.ok else ("error" if check.error else "failing")
        lines.append(
            f"  {bound.section}/{bound.name} ({bound.probe.name}): {state}: {check.detail}"
        )
    return lines


def print_preview(plan: Plan, looks: Sequence[tuple[Any, Any]]) -> None:
    redact = Redactor(plan.loaded.secrets).text
    for line in preview_lines(looks):
        print(redact(line))
