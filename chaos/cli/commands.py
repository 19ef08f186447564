"""The commands behind ``chaosdrill``: each parses nothing and prints everything."""

from __future__ import annotations

import argparse
import json
import sys

from chaos.exitcodes import ExitCode


def cmd_validate(args: argparse.Namespace) -> int:
    from chaos.errors import ChaosError, InvalidExperiment
    from chaos.experiment.loader import load_experiment
    from chaos.plugins import default_plugins

    plugins = default_plugins()
    worst = ExitCode.PASSED
    for path in args.files:
        try:
            load_experiment(path, plugins=plugins)
        except InvalidExperiment as exc:
            for problem in exc.problems:
                print(problem)
            worst = ExitCode.INVALID
        except ChaosError as exc:
            print(exc)
            worst = ExitCode.INVALID
        else:
            print(f"{path}: ok")
    return int(worst)


def cmd_schema(args: argparse.Namespace) -> int:
    from chaos.experiment.schema import experiment_schema
    from chaos.plugins import default_plugins

    json.dump(experiment_schema(default_plugins().registry), sys.stdout, indent=2)
    print()
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from chaos.cli.plugin_listing import describe_plugins, print_plugins
    from chaos.plugins import default_plugins

    plugins = default_plugins()
    if args.json:
        json.dump(describe_plugins(plugins.registry), sys.stdout, indent=2)
        print()
    else:
        print_plugins(plugins.registry)
    return int(ExitCode.ERROR if plugins.registry.failures else ExitCode.PASSED)


def cmd_run(args: argparse.Namespace) -> int:
    from chaos import api
    from chaos.cli.console import LiveConsole, PlainConsole

    loaded = api.load(args.file)
    inventory = api.inventory(lab=args.lab, path=args.inventory)
    if args.dry_run:
        from chaos.cli.plan_view import print_plan

        print_plan(api.plan(loaded, seed=args.seed, inventory=inventory))
        return 0
    if args.json:
        result = api.run(loaded, seed=args.seed, report_dir=args.report_dir, inventory=inventory)
        print(
            json.dumps(
                {
                    "verdict": result.verdict.value,
                    "exit_code": int(result.exit_code),
                    "reasons": [r.message for r in result.reasons],
                    "journal": str(result.journal_path) if result.journal_path else None,
                    "run_id": result.journal.run_id,
                    "notices": result.notices,
                }
            )
        )
        return int(result.exit_code)
    if sys.stdout.isatty() and not args.plain:
        with LiveConsole(loaded.experiment.title) as live:
            result = api.run(
                loaded,
                seed=args.seed,
                report_dir=args.report_dir,
                observer=live,
                inventory=inventory,
            )
    else:
        console = PlainConsole()
        print(f"experiment: {loaded.experiment.title} ({args.file})", flush=True)
        result = api.run(
            loaded,
            seed=args.seed,
            report_dir=args.report_dir,
            observer=console,
            inventory=inventory,
        )
    return int(result.exit_code)


def cmd_recover(args: argparse.Namespace) -> int:
    from chaos import api

    inventory = api.inventory(lab=args.lab, path=args.inventory)
    outcomes, removed = api.recover(include_live=args.include_live, inventory=inventory)
    if args.json:
        print(
            json.dumps(
                {
                    "recovered": [o.describe() for o in outcomes if o.ok],
                    "failed": [o.describe() for o in outcomes if not o.ok],
                    "removed_helpers": removed,
                }
            )
        )
    else:
        for outcome in outcomes:
            print(outcome.describe())
        if removed:
            print(f"removed leftover helpers: {', '.join(removed)}")
        if not outcomes and not removed:
            print("nothing to recover")
    return int(ExitCode.ERROR if any(not o.ok for o in outcomes) else ExitCode.PASSED)


def cmd_demo(args: argparse.Namespace) -> int:
    from chaos import demo
    from chaos.docker_client import connect

    client = connect()
    if args.action == "up":
        names = demo.up(client)
        print(
            f"demo up: {', '.join(names)} (web http://127.0.0.1:18080, api http://127.0.0.1:18081)"
        )
    elif args.action == "down":
        removed = demo.down(client)
        print(f"demo down: removed {', '.join(removed) or 'nothing'}")
    else:
        for name, state in demo.status(client) or [("demo", "not running")]:
            print(f"{name}: {state}")
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    from chaos.docker_client import connect
    from chaos.images import BUSYBOX_IMAGE, NETNS_IMAGE, build_busybox_image, ensure_netns_image

    client = connect()
    image_id = build_busybox_image(client)
    print(f"built {BUSYBOX_IMAGE} ({image_id[:19]})", flush=True)
    image_id = ensure_netns_image(client)
    print(f"ready {NETNS_IMAGE} ({image_id[:19]})")
    return 0
