"""``chaosdrill demo run``, ``demo examples`` and ``images dockerfile``: what ships
inside the package, offered to a user who has no checkout."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.exitcodes import ExitCode

if TYPE_CHECKING:
    from chaos.bundled import Example


def cmd_demo_run(args: argparse.Namespace) -> int:
    from chaos import bundled
    from chaos.errors import UsageError

    if args.list:
        if args.name:
            raise UsageError("--list takes no NAME")
        _print_examples(bundled.examples())
        return int(ExitCode.PASSED)
    example = bundled.describe(args.name or bundled.DEFAULT_EXAMPLE)
    _check_demo_ready(example)
    from chaos.cli.commands import cmd_run

    with bundled.example_path(example.name) as path:
        print(
            f"example {example.name} (expected verdict: {example.expected}); "
            f"a copy to edit: chaosdrill demo examples DIR",
            file=sys.stderr if args.json else sys.stdout,
            flush=True,
        )
        run = argparse.Namespace(
            file=str(path),
            dry_run=False,
            report_dir=args.report_dir,
            seed=None,
            json=args.json,
            html=None,
            pushgateway=None,
            lab=None,
            inventory=None,
            plain=args.plain,
        )
        return cmd_run(run)


def _print_examples(examples: list[Example]) -> None:
    rows = [("NAME", "EXPECTED", "NEEDS", "TITLE")]
    for example in examples:
        needs = "demo up --prometheus" if example.needs_prometheus else "demo up"
        rows.append((example.name, example.expected, needs, example.title))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print(
            "  ".join([*(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)), row[3]])
        )


def _check_demo_ready(example: Example) -> None:
    """Refuse to start (exit 2) when the demo stack is not there: the run would
    only fail its steady state, which says nothing about the example."""
    from chaos import demo, demo_prometheus
    from chaos.docker_client import connect
    from chaos.errors import UsageError

    problems = demo.not_ready(connect())
    if problems:
        raise UsageError(
            f"the demo stack is not ready ({'; '.join(problems)}): start it with "
            "`chaosdrill demo up`"
        )
    if example.needs_prometheus and demo_prometheus.find() is None:
        raise UsageError(
            f"{example.name} needs the demo's Prometheus: start it with "
            "`chaosdrill demo up --prometheus`"
        )


def cmd_demo_examples(args: argparse.Namespace) -> int:
    from chaos import bundled

    destination = Path(args.directory)
    written = bundled.copy_examples(destination, force=args.force)
    for path in written:
        print(f"wrote {path}")
    first = destination / f"{bundled.DEFAULT_EXAMPLE}.yaml"
    print(f"after `chaosdrill demo up`, run one with: chaosdrill run {shlex.quote(str(first))}")
    return int(ExitCode.PASSED)


def cmd_images_dockerfile(args: argparse.Namespace) -> int:
    from chaos import bundled

    sys.stdout.write(bundled.dockerfile(args.name))
    return int(ExitCode.PASSED)
