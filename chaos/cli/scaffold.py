"""``chaosdrill init``: write a first experiment for the containers that run."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.exitcodes import ExitCode

if TYPE_CHECKING:
    import docker

    from chaos.scaffold.draft import Draft
    from chaos.scaffold.model import Selection


def cmd_init(args: argparse.Namespace) -> int:
    from chaos.errors import UsageError
    from chaos.scaffold.draft import FILENAME
    from chaos.scaffold.model import Selection, parse_label

    label = parse_label(args.label) if args.label is not None else None
    project = args.compose_project
    if project is not None and not project.strip():
        raise UsageError("--compose-project needs a project name")
    directory = Path(args.directory)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is not a directory")
    path = directory / FILENAME
    if path.exists() and not args.force:  # before the engine is asked anything
        raise UsageError(f"{path} already exists; --force overwrites it")

    from chaos.docker_client import connect

    client = connect()
    draft = _draft(client, Selection(compose_project=project, label=label))
    _validate(draft, path)
    _write(path, draft.text, force=args.force)
    _report(path, draft)
    return int(ExitCode.PASSED)


def _draft(client: docker.DockerClient, selection: Selection) -> Draft:
    """The experiment for ``selection``; without one, for the one Compose project
    running. A template, saying why, when there is nothing to build from."""
    from chaos.errors import UsageError
    from chaos.scaffold import draft, inspect
    from chaos.scaffold.model import Selection, group

    if selection.compose_project is None and selection.label is None:
        projects, count = inspect.running_summary(client)
        if len(projects) > 1:
            raise UsageError(
                f"{len(projects)} Compose projects are running ({', '.join(projects)}): "
                "name one with --compose-project NAME, or select with --label KEY=VALUE"
            )
        if not projects:
            why = (
                f"none of the {count} running containers belongs to a Compose project "
                "(select them with --label KEY=VALUE)"
                if count
                else selection.nothing_running()
            )
            return draft.template(selection, why)
        selection = Selection(compose_project=projects[0])
    containers = inspect.running(client, selection)
    if not containers:
        return draft.template(selection, selection.nothing_running())
    return draft.draft(selection, group(containers))


def _validate(draft: Draft, path: Path) -> None:
    """What is written must load: the same check as ``chaosdrill validate``."""
    from chaos.experiment.loader import load_text

    load_text(draft.text, str(path), base_dir=path.parent)


def _write(path: Path, text: str, *, force: bool) -> None:
    from chaos.errors import UsageError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w" if force else "x", encoding="utf-8") as out:
            out.write(text)
    except FileExistsError:
        raise UsageError(f"{path} already exists; --force overwrites it") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _report(path: Path, draft: Draft) -> None:
    shown = shlex.quote(str(path))
    if draft.victim is None:
        print(f"nothing to inspect: {draft.why}")
        print(f"wrote {path}: a commented template; edit the values marked EDIT")
        print(f"validated: {path} is a valid experiment")
        print(f"once edited, run it with: chaosdrill run {shown}")
        return
    print(f"wrote {path}, from what is running:")
    for fact in draft.facts:
        print(f"  {fact}")
    print(f"it crashes one replica of {draft.victim.target} and checks that it comes back")
    if draft.warning:
        print(f"note: {draft.warning}")
    print(f"validated: {path} is a valid experiment")
    print(f"preview it (touches nothing): chaosdrill run --dry-run {shown}")
    print(f"run it with: chaosdrill run {shown}")
