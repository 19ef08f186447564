"""Argument parsing and exit codes. Heavy modules (docker, rich, pydantic) are
imported inside the command that needs them, so ``--help`` stays instant.

argparse rather than Typer/click: it is in the standard library, imports in
a few milliseconds (Typer pulls in click and rich at start-up), and rich is
used only where output is rendered.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from chaos import __version__
from chaos.exitcodes import ExitCode

EPILOG = """\
exit codes: 0 passed, 1 failed, 2 invalid input or usage, 3 aborted, 4 error
docs: the README, also the package's long description (format reference, engine
semantics, plugins); `chaosdrill demo examples DIR` copies the example experiments
"""


NO_SWARM_HINT = "chaosdrill: name the swarm with --lab NAME or --inventory FILE"
"""Added to a NoSwarm error: the library says what is missing, the CLI how to give it."""
HALTED_HINT = "chaosdrill: nothing starts while halted; lift it with `chaosdrill resume`"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chaosdrill",
        description="Chaos and resilience experiments against Docker and Docker Swarm.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"chaosdrill {__version__}")
    parser.add_argument(
        "--traceback", action="store_true", help="show Python tracebacks (for bug reports)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run an experiment")
    run.add_argument("file", help="experiment file (YAML)")
    run.add_argument(
        "--dry-run", action="store_true", help="resolve targets, print the plan, touch nothing"
    )
    run.add_argument("--report-dir", default="reports", help="where journals go (default: reports)")
    run.add_argument(
        "--seed", type=int, help="seed for targets that set none (recorded in the journal)"
    )
    run.add_argument("--json", action="store_true", help="print one JSON object with the verdict")
    run.add_argument(
        "--html", metavar="FILE", help="also write the run's page (see `chaosdrill report`)"
    )
    _pushgateway_argument(run)
    _swarm_arguments(run)
    run.add_argument("--plain", action="store_true", help="plain line output even on a terminal")
    run.set_defaults(handler=_lazy("chaos.cli.commands", "cmd_run"))

    suite = sub.add_parser(
        "suite",
        help="run every experiment under some paths; JUnit, Markdown, a resilience score",
        description="Run every experiment under the paths (directories are searched for YAML "
        "files with top-level `version` and `method` keys) and judge them together.",
        epilog="exit codes: 0 every experiment passed (or, with --fail-under, the score meets "
        "it and none errored, aborted or was invalid); otherwise the worst experiment's code: "
        "4 error > 3 aborted > 2 invalid > 1 failed; 1 when only failures remain and the score "
        "is below --fail-under",
    )
    suite.add_argument("paths", nargs="+", metavar="PATH", help="experiment files or directories")
    suite.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    suite.add_argument(
        "--markdown",
        metavar="FILE",
        help="write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when it is set)",
    )
    suite.add_argument(
        "--html",
        metavar="FILE",
        help="write an HTML page: the score, one row per experiment, trends",
    )
    suite.add_argument(
        "--fail-under",
        type=float,
        metavar="SCORE",
        help="pass when the resilience score (0-100) is at least SCORE, tolerating failed "
        "experiments (default: every experiment must pass)",
    )
    suite.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="run up to N experiments at once, never two whose faults target the same object",
    )
    suite.add_argument(
        "--report-dir",
        default="reports",
        metavar="DIR",
        help="journals go to DIR/<experiment>/ (default: reports)",
    )
    suite.add_argument(
        "--seed", type=int, help="seed for targets that set none (recorded in each journal)"
    )
    _pushgateway_argument(suite)
    _swarm_arguments(suite)
    suite.set_defaults(handler=_lazy("chaos.cli.commands", "cmd_suite"))

    validate = sub.add_parser(
        "validate",
        help="check experiment and game day files; report FILE:LINE:COL problems",
        description="Check each file: an experiment, or a game day (top-level `kind: gameday`).",
    )
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(handler=_lazy("chaos.cli.commands", "cmd_validate"))

    schema = sub.add_parser("schema", help="print the JSON Schema of the experiment format")
    schema.add_argument(
        "--gameday", action="store_true", help="the game day format's schema instead"
    )
    schema.set_defaults(handler=_lazy("chaos.cli.commands", "cmd_schema"))

    report = sub.add_parser(
        "report",
        help="an HTML page from journals: a run page, or an index of runs with trends",
        description="One journal gives its run page (verdict, reasons, timeline, tolerances); "
        "several journals, or directories (searched for */journal.json), give an index page "
        "with one row per run and the trends of runs of the same experiment. One file, "
        "nothing loaded from the network.",
    )
    report.add_argument(
        "paths",
        nargs="+",
        metavar="JOURNAL_OR_DIR",
        help="journal.json files or report directories",
    )
    report.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the page (default: report.html beside a single journal, else in the current "
        "directory)",
    )
    report.set_defaults(handler=_lazy("chaos.cli.commands", "cmd_report"))

    _gameday_commands(sub)

    plugins = sub.add_parser("plugins", help="list faults, probes and target kinds with parameters")
    plugins.add_argument("--json", action="store_true")
    plugins.set_defaults(handler=_lazy("chaos.cli.commands", "cmd_plugins"))

    recover = sub.add_parser(
        "recover", help="revert every fault a dead run left behind (from the fault ledger)"
    )
    recover.add_argument(
        "--include-live",
        action="store_true",
        help="also revert faults of runs that are still running on this machine",
    )
    recover.add_argument(
        "--forget",
        metavar="ENTRY",
        help="close a ledger entry that recover left for a human, once its object was put right",
    )
    recover.add_argument("--json", action="store_true")
    _swarm_arguments(recover)
    recover.set_defaults(handler=_lazy("chaos.cli.commands", "cmd_recover"))

    halt = sub.add_parser(
        "halt",
        help="kill switch: abort every chaosdrill run on this host within a second",
        description="Halt every chaosdrill run on this host: running ones revert their faults "
        "at once and end aborted (reason halted); none starts until `chaosdrill resume`.",
    )
    halt.add_argument("--reason", metavar="TEXT", help="why (shown by every run it stops)")
    halt.add_argument(
        "--status", action="store_true", help="say whether a halt is in force; change nothing"
    )
    halt.add_argument("--json", action="store_true", help="with --status: one JSON object")
    halt.set_defaults(handler=_lazy("chaos.cli.halting", "cmd_halt"))

    resume = sub.add_parser("resume", help="lift the halt: runs may start again")
    resume.set_defaults(handler=_lazy("chaos.cli.halting", "cmd_resume"))

    _demo_commands(sub)
    _init_command(sub)

    images = sub.add_parser(
        "images", help="build the images chaosdrill uses (no registry), or print their Dockerfiles"
    )
    images_sub = images.add_subparsers(dest="action", metavar="ACTION", required=True)
    images_sub.add_parser(
        "build", help="build every image chaosdrill uses that the engine lacks (no registry)"
    ).set_defaults(handler=_lazy("chaos.cli.commands", "cmd_images"))
    dockerfile = images_sub.add_parser(
        "dockerfile",
        help="print the Dockerfile of a helper image, to build it where a registry answers",
        description="Print the Dockerfile of a helper image: `chaosdrill images dockerfile "
        "netns-helper | docker build -t chaosdrill/netns-helper:1 -` builds it from Debian's "
        "registry image instead of with debootstrap.",
    )
    dockerfile.add_argument("name", metavar="NAME", help="netns-helper, fault-helper or swarm-node")
    dockerfile.set_defaults(handler=_lazy("chaos.cli.examples", "cmd_images_dockerfile"))

    lab = sub.add_parser("lab", help="a local multi-node Swarm lab (Docker-in-Docker nodes)")
    lab_sub = lab.add_subparsers(dest="lab_action", metavar="ACTION", required=True)
    lab_up = lab_sub.add_parser("up", help="start a lab (or find it up) and write its inventory")
    _lab_name(lab_up)
    lab_up.add_argument("--managers", type=int, default=3, help="manager nodes (default: 3)")
    lab_up.add_argument("--workers", type=int, default=2, help="worker nodes (default: 2)")
    lab_up.add_argument(
        "--image", help="node image (default: chaosdrill/swarm-node:1, built when missing)"
    )
    lab_up.add_argument(
        "--storage-driver",
        metavar="DRIVER",
        help="the nodes' dockerd storage driver (default: dockerd picks; overlay2 on ext4/xfs, "
        "vfs works anywhere)",
    )
    lab_up.add_argument(
        "--load",
        action="append",
        default=[],
        metavar="IMAGE",
        help="also copy this local image into every node (repeatable)",
    )
    lab_status = lab_sub.add_parser("status", help="each node's container, engine and swarm state")
    _lab_name(lab_status)
    lab_status.add_argument("--json", action="store_true")
    lab_load = lab_sub.add_parser("load", help="copy local images into every node of the lab")
    lab_load.add_argument("images", nargs="+", metavar="IMAGE")
    _lab_name(lab_load)
    lab_down = lab_sub.add_parser("down", help="remove the lab's containers, network and volumes")
    _lab_name(lab_down)
    lab_demo = lab_sub.add_parser(
        "demo",
        help="deploy the demo services (web, api) that the Swarm examples run against "
        "(`chaosdrill demo examples DIR` copies them into DIR/swarm/)",
    )
    _lab_name(lab_demo)
    lab_demo.add_argument("--remove", action="store_true", help="remove them instead")
    lab.set_defaults(handler=_lazy("chaos.cli.commands", "cmd_lab"))
    return parser


def _demo_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo", help="the demo stack and the example experiments that run against it"
    )
    actions = demo.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="build the demo's images and start the demo stack")
    up.add_argument(
        "--prometheus",
        action="store_true",
        help="also start a Prometheus (Debian's binary) on 127.0.0.1:19090 that scrapes the "
        "demo every second and has the example alert; down stops it",
    )
    up.set_defaults(handler=_lazy("chaos.cli.commands", "cmd_demo"))
    for action, text in (
        ("down", "remove the demo stack (and stop the demo's Prometheus)"),
        ("status", "each demo container's state and health, and the demo's Prometheus"),
    ):
        other = actions.add_parser(action, help=text)
        # accepted only to say that it goes with `up`
        other.add_argument("--prometheus", action="store_true", help=argparse.SUPPRESS)
        other.set_defaults(handler=_lazy("chaos.cli.commands", "cmd_demo"))

    run = actions.add_parser(
        "run",
        help="run an example experiment against the demo stack (default: one it survives)",
        description="Run one of the example experiments that ship with chaosdrill against the "
        "demo stack (`chaosdrill demo up` first). Without NAME, the one the demo survives. "
        "The exit code is the run's.",
    )
    run.add_argument("name", nargs="?", metavar="NAME", help="the example (see --list)")
    run.add_argument(
        "--list", action="store_true", help="list the examples with their expected verdicts"
    )
    run.add_argument("--report-dir", default="reports", help="where journals go (default: reports)")
    run.add_argument("--json", action="store_true", help="print one JSON object with the verdict")
    run.add_argument("--plain", action="store_true", help="plain line output even on a terminal")
    run.set_defaults(handler=_lazy("chaos.cli.examples", "cmd_demo_run"))

    copy = actions.add_parser(
        "examples",
        help="copy the example experiments into a folder, to read and edit",
        description="Copy every example experiment into DIR (the Swarm ones into DIR/swarm/).",
    )
    copy.add_argument("directory", metavar="DIR", help="the folder (made when missing)")
    copy.add_argument("--force", action="store_true", help="overwrite files already there")
    copy.set_defaults(handler=_lazy("chaos.cli.examples", "cmd_demo_examples"))


def _init_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = sub.add_parser(
        "init",
        help="write a first experiment for the containers that are running",
        description="Look at the running containers of a Compose project (or those with a "
        "label) and write DIR/first-experiment.yaml for them, with comments: targets by "
        "project and service, a steady state from their healthchecks and published HTTP "
        "ports, a crash of one replica, a continuous probe with a tolerance, and recovery. "
        "With nothing running, a commented template. The file is validated; no container is "
        "changed.",
        epilog="exit codes: 0 written, 2 bad arguments or a file already there, 4 the engine "
        "did not answer",
    )
    init.add_argument(
        "directory", nargs="?", default=".", metavar="DIR", help="where to write (default: .)"
    )
    which = init.add_mutually_exclusive_group()
    which.add_argument(
        "--compose-project",
        metavar="NAME",
        help="the Compose project's containers (default: the one project running, if only one)",
    )
    which.add_argument("--label", metavar="KEY=VALUE", help="the containers that carry this label")
    init.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    init.set_defaults(handler=_lazy("chaos.cli.scaffold", "cmd_init"))


def _gameday_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gameday = sub.add_parser(
        "gameday", help="drills on a schedule: windows, blackout, limits (see README: Game days)"
    )
    actions = gameday.add_subparsers(dest="gameday_action", metavar="ACTION", required=True)
    plan = actions.add_parser(
        "plan",
        help="the next fires of every drill, and those windows, blackout or limits skip",
        description="Simulate the schedule: the next N fires of every drill that would go "
        "ahead, with the fires skipped on the way and why. Touches no engine.",
    )
    plan.add_argument("file", metavar="FILE", help="game day file (YAML)")
    plan.add_argument(
        "--next",
        type=_positive,
        default=5,
        metavar="N",
        help="fires that go ahead, per drill (default: 5)",
    )
    plan.add_argument(
        "--from",
        dest="start",
        metavar="DATETIME",
        help="start here instead of now: ISO date and time, in the file's zone unless it has "
        "an offset (2026-12-07T09:00, 2026-12-07T08:00Z)",
    )
    plan.add_argument("--json", action="store_true", help="print one JSON object")
    plan.set_defaults(handler=_lazy("chaos.cli.gameday", "cmd_gameday_plan"))

    serve = actions.add_parser(
        "serve",
        help="the scheduler: run the drills at their times until stopped",
        description="Run every drill of FILE at its times, obeying windows, blackout, limits "
        "and the kill switch; one line per event. SIGTERM or SIGINT aborts a running drill "
        "(its faults are reverted) and exits; SIGHUP or an edited file reloads the schedule. "
        "One serve per file and per state directory.",
    )
    serve.add_argument("file", metavar="FILE", help="game day file (YAML)")
    _drill_report_dir(serve)
    serve.add_argument(
        "--plain", action="store_true", help="log lines only, no live view, even on a terminal"
    )
    serve.set_defaults(handler=_lazy("chaos.cli.gameday", "cmd_gameday_serve"))

    run_one = actions.add_parser(
        "run",
        help="run one drill now (to try it out), obeying the kill switch and concurrency",
        description="Run DRILL of FILE now, in the foreground. The kill switch, concurrency "
        "and the calendar (windows and blackout) still apply; max_per_day and min_gap do not. "
        "The exit code is the drill's (3 when halted or another drill runs).",
    )
    run_one.add_argument("file", metavar="FILE", help="game day file (YAML)")
    run_one.add_argument("drill", metavar="DRILL", help="the drill's name")
    run_one.add_argument(
        "--ignore-windows",
        action="store_true",
        help="run outside the windows and on blackout days too",
    )
    _drill_report_dir(run_one)
    run_one.set_defaults(handler=_lazy("chaos.cli.gameday", "cmd_gameday_run"))

    due = actions.add_parser(
        "run-due",
        help="one shot for cron or systemd timers: run the fires due since the last one",
        description="Run, once each, the drills whose time has come since their last "
        "recorded fire (older missed fires are recorded as skipped), then exit. A drill "
        "never recorded counts from the first run-due. Exit code: the worst drill's.",
    )
    due.add_argument("file", metavar="FILE", help="game day file (YAML)")
    _drill_report_dir(due)
    due.set_defaults(handler=_lazy("chaos.cli.gameday", "cmd_gameday_run_due"))

    history = actions.add_parser(
        "history",
        help="what ran and what was skipped, newest first",
        description="Each fire: drill, scheduled time, start, end, verdict or why it was "
        "skipped, and the journal.",
    )
    history.add_argument("file", metavar="FILE", help="game day file (YAML)")
    history.add_argument("--limit", type=_positive, default=20, metavar="N", help="rows (20)")
    history.add_argument("--drill", metavar="DRILL", help="only this drill")
    history.add_argument("--json", action="store_true", help="print one JSON object")
    history.add_argument(
        "--html",
        metavar="OUT",
        help="write an HTML index of the fires instead, with each run's figures from its journal",
    )
    history.set_defaults(handler=_lazy("chaos.cli.gameday", "cmd_gameday_history"))


def _drill_report_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report-dir", default="reports", help="where drills' journals go (default: reports)"
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _pushgateway_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pushgateway",
        metavar="URL",
        help="push each experiment's results to this Prometheus Pushgateway when it ends "
        "(default: $CHAOSDRILL_PUSHGATEWAY; a failed push is a warning)",
    )


def _lab_name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default="lab", help="the lab's name (default: lab)")


def _swarm_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--lab", metavar="NAME", help="the swarm is the local lab NAME (`chaosdrill lab up`)"
    )
    where.add_argument(
        "--inventory", metavar="FILE", help="the swarm's nodes and engines (YAML or JSON)"
    )


def _lazy(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    def call(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(module), name)(args)

    return call


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return int(ExitCode.INVALID)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("chaosdrill: interrupted", file=sys.stderr)
        return int(ExitCode.ABORTED)
    except BrokenPipeError:  # e.g. `chaosdrill plugins | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        from chaos.errors import (
            ChaosError,
            Halted,
            InvalidArgument,
            InvalidExperiment,
            NoLab,
            NoSwarm,
        )

        if args.traceback:
            raise
        if isinstance(exc, InvalidExperiment):
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            return int(exc.exit_code)
        if isinstance(exc, InvalidArgument):  # the library names the keyword, we the option
            print(f"chaosdrill: --{exc.argument.replace('_', '-')} {exc.problem}", file=sys.stderr)
            return int(exc.exit_code)
        if isinstance(exc, NoLab):
            print(
                f"chaosdrill: no lab named {exc.name}; start one with "
                f"`chaosdrill lab up --name {exc.name}`",
                file=sys.stderr,
            )
            return int(exc.exit_code)
        if isinstance(exc, ChaosError):
            print(f"chaosdrill: {exc}", file=sys.stderr)
            if isinstance(exc, NoSwarm):
                print(NO_SWARM_HINT, file=sys.stderr)
            if isinstance(exc, Halted) and "chaosdrill resume" not in str(exc):
                print(HALTED_HINT, file=sys.stderr)
            return int(exc.exit_code)
        print(
            f"chaosdrill: internal error: {type(exc).__name__}: {exc} (rerun with --traceback)",
            file=sys.stderr,
        )
        return int(ExitCode.ERROR)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
