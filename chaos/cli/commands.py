"""The commands behind ``chaosdrill``: each parses nothing and prints everything."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from chaos.exitcodes import ExitCode

if TYPE_CHECKING:
    from chaos.lab.lab import LabStatus

PLAIN_HOLD = 0.5
"""Seconds plain output holds each event, so lines come out in time order."""
NO_MESH = "the kernel lacks IPVS: publish ports with mode=host and use endpoint_mode dnsrr"


def cmd_validate(args: argparse.Namespace) -> int:
    from chaos.errors import ChaosError, InvalidExperiment
    from chaos.experiment.loader import load_experiment
    from chaos.gameday.kind import is_gameday

    worst = ExitCode.PASSED
    for path in args.files:
        try:
            if is_gameday(path):
                from chaos.gameday.loader import load_gameday

                load_gameday(path)
            else:
                # only the plugins the file names are imported (all of them for a name
                # that is not found, so the did-you-mean is the same)
                load_experiment(path)
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
    if args.gameday:
        from chaos.gameday.schema import gameday_schema

        json.dump(gameday_schema(), sys.stdout, indent=2)
        print()
        return 0
    from chaos.plugins import default_plugins
    from chaos.schema import experiment_schema

    json.dump(experiment_schema(default_plugins().registry), sys.stdout, indent=2)
    print()
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from chaos.cli.plugin_listing import describe_plugins, print_plugins
    from chaos.plugins import default_plugins

    plugins = default_plugins()
    if args.json:
        json.dump(describe_plugins(plugins.registry, plugins.sources), sys.stdout, indent=2)
        print()
    else:
        print_plugins(plugins.registry)
    return int(ExitCode.ERROR if plugins.registry.failures else ExitCode.PASSED)


def cmd_run(args: argparse.Namespace) -> int:
    from chaos import api

    loaded = api.load(args.file)
    inventory = api.inventory(lab=args.lab, path=args.inventory)
    if args.dry_run:
        from chaos.cli.plan_view import print_plan, print_preview

        runtime = api.runtime_for(loaded, inventory=inventory)
        plan = api.plan(loaded, seed=args.seed, inventory=inventory, runtime=runtime)
        print_plan(plan)
        looks = api.preview(plan, runtime=runtime)
        print_preview(plan, looks)
        # a query that does not work now would not work in the run: say so before it
        return int(ExitCode.INVALID if any(not check.ok for _, check in looks) else 0)
    from chaos.cli.halting import refuse_if_halted
    from chaos.signals import ignore_interrupts

    refuse_if_halted()  # before anything is touched (the run looks again itself)

    # the run handles SIGINT, SIGTERM and SIGHUP itself; once it is over, one more
    # must not kill the process before its verdict is printed and its code returned
    ignore_interrupts()
    return _run(args, api, loaded, inventory)


def _pushgateway(args: argparse.Namespace) -> str | None:
    """``--pushgateway``, else ``$CHAOSDRILL_PUSHGATEWAY`` (empty: none)."""
    import os

    from chaos.pushgateway import ENV

    return args.pushgateway or os.environ.get(ENV) or None


def _warn(notices: Any, prefix: str = "") -> None:
    """What went wrong after a verdict (a failed push, a failing plugin hook), on stderr."""
    for notice in notices:
        print(f"chaosdrill: warning: {prefix}{notice}", file=sys.stderr)


def _run(args: argparse.Namespace, api: Any, loaded: Any, inventory: Any) -> int:
    result = _run_experiment(args, api, loaded, inventory)
    _warn(result.notices)
    code = int(result.exit_code)
    if args.html:
        from chaos.report.html import run_page

        if not _write_page(lambda: run_page(result.journal), args.html, quiet=args.json):
            code = max(code, int(ExitCode.INVALID))
    return code


def _write_page(render: Any, path: str, *, quiet: bool = False) -> bool:
    """Render a page and write it to ``path``; say where (on stderr when ``quiet``)."""
    from chaos.report.html import write_page

    try:
        write_page(render(), path)
    except OSError as exc:
        print(f"chaosdrill: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return False
    print(f"html: {path}", file=sys.stderr if quiet else sys.stdout)
    return True


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from chaos.errors import UsageError
    from chaos.report.html import find_journals, index_page, link, read_journal, run_page

    single = len(args.paths) == 1 and Path(args.paths[0]).is_file()
    found = find_journals(args.paths)
    if not found:
        raise UsageError(f"no journals (*/journal.json) under {' '.join(args.paths)}")
    if single:
        output = args.output or str(found[0].parent / "report.html")
        journal, data = read_journal(found[0])
        ok = _write_page(lambda: run_page(journal, data), output)
    else:
        output = args.output or "report.html"
        runs = [(read_journal(path)[0], link(path, output)) for path in found]
        ok = _write_page(lambda: index_page(runs), output)
    return int(ExitCode.PASSED if ok else ExitCode.INVALID)


def _run_experiment(args: argparse.Namespace, api: Any, loaded: Any, inventory: Any) -> Any:
    from chaos.cli.console import LiveConsole, PlainConsole

    pushgateway = _pushgateway(args)
    if args.json:
        result = api.run(
            loaded,
            seed=args.seed,
            report_dir=args.report_dir,
            inventory=inventory,
            pushgateway=pushgateway,
        )
        print(json.dumps(result.to_json()))
        return result
    from chaos.redaction import Redactor

    title = Redactor(loaded.secrets).text(loaded.experiment.title)
    if sys.stdout.isatty() and not args.plain:
        with LiveConsole(title) as live:
            result = api.run(
                loaded,
                seed=args.seed,
                report_dir=args.report_dir,
                observer=live,
                inventory=inventory,
                pushgateway=pushgateway,
            )
    else:
        console = PlainConsole(hold=PLAIN_HOLD)
        print(f"experiment: {title} ({args.file})", flush=True)
        result = api.run(
            loaded,
            seed=args.seed,
            report_dir=args.report_dir,
            observer=console,
            inventory=inventory,
            pushgateway=pushgateway,
        )
    return result


def cmd_suite(args: argparse.Namespace) -> int:
    import os

    from chaos import api
    from chaos.cli.halting import refuse_if_halted
    from chaos.cli.suite_view import print_case, print_start, print_summary
    from chaos.report import write

    refuse_if_halted()
    inventory = api.inventory(lab=args.lab, path=args.inventory)
    suite = api.suite(
        args.paths,
        jobs=args.jobs,
        report_dir=args.report_dir,
        seed=args.seed,
        fail_under=args.fail_under,
        inventory=inventory,
        on_case=print_case,
        on_start=print_start,
        pushgateway=_pushgateway(args),
    )
    print_summary(suite)
    for case in suite.cases:
        if case.run is not None:
            _warn(case.run.notices, f"{case.name}: ")
    code = int(suite.exit_code)
    if args.html:
        from chaos.report.html import render

        if not _write_page(lambda: render(suite, page=args.html), args.html):
            code = max(code, int(ExitCode.INVALID))
    outputs = [("junit", args.junit, False), ("markdown", args.markdown, False)]
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        outputs.append(("markdown", summary, True))
    for format, path, append in outputs:
        if not path:
            continue
        try:
            write(format, suite, path, append=append)
        except OSError as exc:
            print(f"chaosdrill: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            code = max(code, int(ExitCode.INVALID))
        else:
            print(f"{format}: {path}")
    return code


def cmd_recover(args: argparse.Namespace) -> int:
    from chaos import api

    if args.forget:
        entry = api.forget(args.forget)
        if entry is None:
            print(f"no open ledger entry {args.forget!r}", file=sys.stderr)
            return int(ExitCode.INVALID)
        print(
            f"forgot {entry.fault} ({entry.step}) on {entry.target.get('name')}: entry {entry.id}"
        )
        return int(ExitCode.PASSED)
    inventory = api.inventory(lab=args.lab, path=args.inventory)
    report = api.recover(include_live=args.include_live, inventory=inventory)
    outcomes = report.outcomes
    if args.json:
        print(
            json.dumps(
                {
                    "recovered": [o.describe() for o in outcomes if o.ok],
                    "failed": [o.describe() for o in outcomes if not o.ok and not o.needs_human],
                    "needs_human": [o.describe() for o in outcomes if o.needs_human],
                    "removed_helpers": report.removed,
                    "ledger_problems": report.ledger_problems,
                }
            )
        )
    else:
        for problem in report.ledger_problems:
            print(problem)
        for outcome in outcomes:
            print(outcome.describe())
        if report.removed:
            print(f"removed leftover helpers: {', '.join(report.removed)}")
        if not outcomes and not report.removed and not report.ledger_problems:
            print("nothing to recover")
    return int(ExitCode.ERROR if not report.ok else ExitCode.PASSED)


def cmd_demo(args: argparse.Namespace) -> int:
    from chaos import demo, demo_prometheus
    from chaos.docker_client import connect
    from chaos.errors import UsageError

    if args.prometheus and args.action != "up":
        raise UsageError("--prometheus goes with `demo up` (`demo down` stops it in any case)")
    if args.prometheus:
        demo_prometheus.check_installed()  # before anything starts
    client = connect()
    if args.action == "up":
        names = demo.up(client)
        print(
            f"demo up: {', '.join(names)} (web http://127.0.0.1:18080, api http://127.0.0.1:18081)"
        )
        if args.prometheus:
            running, started = demo_prometheus.start()
            print(
                f"prometheus {'started' if started else 'already running'}: {running.url} "
                f"(pid {running.pid}), scraping the web every 1s, alert {demo_prometheus.ALERT}"
            )
    elif args.action == "down":
        removed = demo.down(client)
        print(f"demo down: removed {', '.join(removed) or 'nothing'}")
        stopped = demo_prometheus.stop()
        if stopped is not None:
            print(f"prometheus stopped (pid {stopped.pid}, {stopped.url})")
    else:
        for name, state in demo.status(client) or [("demo", "not running")]:
            print(f"{name}: {state}")
        print(f"prometheus: {demo_prometheus.describe()}")
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    from chaos.docker_client import connect
    from chaos.images import (
        BUSYBOX_IMAGE,
        FAULT_HELPER_IMAGE,
        NETNS_IMAGE,
        SWARM_NODE_IMAGE,
        build_busybox_image,
        ensure_fault_helper_image,
        ensure_netns_image,
        ensure_swarm_node_image,
    )

    client = connect()
    image_id = build_busybox_image(client)
    print(f"built {BUSYBOX_IMAGE} ({image_id[:19]})", flush=True)
    image_id = ensure_netns_image(client)
    print(f"ready {NETNS_IMAGE} ({image_id[:19]})", flush=True)
    image_id = ensure_fault_helper_image(client)
    print(f"ready {FAULT_HELPER_IMAGE} ({image_id[:19]})", flush=True)
    image_id = ensure_swarm_node_image(client)
    print(f"ready {SWARM_NODE_IMAGE} ({image_id[:19]})")
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    from chaos.lab import lab

    name = args.name
    if args.lab_action == "up":
        extra = {"image": args.image} if args.image else {}
        done = lab.up(
            name,
            managers=args.managers,
            workers=args.workers,
            load=args.load,
            storage_driver=args.storage_driver,
            progress=lambda message: print(f"lab {name}: {message}", flush=True),
            **extra,
        )
        inventory = done.inventory
        workers = len(inventory.nodes) - len(inventory.managers)
        shape = f"{_count(len(inventory.managers), 'manager')}, {_count(workers, 'worker')}"
        if done.created:
            print(f"lab {name} up in {done.seconds:.1f}s ({shape}); inventory {done.path}")
        elif done.started:
            print(f"lab {name} is up again ({shape}); inventory {done.path}")
        else:
            print(f"lab {name} is already up ({shape}); inventory {done.path}")
        if not inventory.features.get("routing_mesh", True):
            print(f"lab {name}: no routing mesh ({NO_MESH})")
        print(f"use it with: chaosdrill run FILE --lab {name}")
        return 0
    if args.lab_action == "status":
        current = lab.status(name)
        if args.json:
            print(json.dumps(current.to_dict(), indent=2))
        else:
            _print_lab_status(current)
        return int(ExitCode.PASSED if current.healthy else ExitCode.ERROR)
    if args.lab_action == "demo":
        from chaos.lab import stack

        if args.remove:
            removed = stack.remove_from_lab(name)
            print(f"removed {', '.join(removed) or 'nothing'} from lab {name}")
        else:
            names = stack.deploy_to_lab(name)
            print(f"deployed {', '.join(names)} to lab {name} (converged)")
        return 0
    if args.lab_action == "load":
        inventory = lab.load(name, args.images)
        print(f"loaded {', '.join(args.images)} into {len(inventory.nodes)} nodes of lab {name}")
        return 0
    removed = lab.down(name)
    print(
        f"lab {name} down: removed {_count(len(removed.containers), 'container')}, "
        f"{_count(len(removed.networks), 'network')}, {_count(len(removed.volumes), 'volume')}"
    )
    for message in removed.kept:
        print(f"chaosdrill: lab {name}: {message}", file=sys.stderr)
    return 0


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _print_lab_status(current: LabStatus) -> None:
    verdict = "healthy" if current.healthy else "NOT healthy"
    print(f"lab {current.name}: {verdict}")
    rows = [("NODE", "ROLE", "CONTAINER", "ENGINE", "SWARM", "AVAILABILITY", "MANAGER")]
    for node in current.nodes:
        manager = "leader" if node.leader else (node.reachability or "")
        engine = (node.endpoint or "-") + ("" if node.engine else " (no answer)")
        rows.append(
            (
                node.name,
                node.role,
                node.container,
                engine,
                node.state or "?",
                node.availability or "?",
                manager,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    if "routing_mesh" in current.features:
        mesh = "yes" if current.features["routing_mesh"] else f"no ({NO_MESH})"
        print(f"routing mesh: {mesh}")
    drivers = sorted({n.storage_driver for n in current.nodes if n.storage_driver})
    if drivers:
        print(f"storage driver: {', '.join(drivers)}")
    for problem in current.problems:
        print(f"problem: {problem}")
