"""A third-party chaosdrill plugin, as a team would publish it.

``acme.touch`` creates ``<directory>/<prefix><run id>`` inside each target
container while it is active, and removes it on revert. ``acme.file`` checks
whether that file exists in the containers of its target.
"""

from __future__ import annotations

from typing import Any

from chaos.plugin_api import (
    Check,
    Fault,
    InjectionFailed,
    Params,
    Probe,
    RevertFailed,
    Runtime,
    exec_run,
    hookimpl,
)


class MarkerParams(Params):
    directory: str = "/tmp"
    prefix: str = "acme-"

    def path(self, run_id: str) -> str:
        return f"{self.directory.rstrip('/')}/{self.prefix}{run_id}"


def _exec(runtime: Runtime, container_id: str, argv: list[str]) -> tuple[int, str]:
    result = exec_run(runtime.docker.api, container_id, argv)
    return -1 if result.exit_code is None else result.exit_code, result.output.strip()


class Touch(Fault):
    name = "acme.touch"
    summary = "create a marker file in the container; removed on revert"
    Params = MarkerParams
    reversible = True

    def inject(self, ctx: Any, params: MarkerParams) -> dict[str, Any]:
        runtime, target = ctx.runtime, ctx.target
        path = params.path(runtime.run_id)
        code, output = _exec(runtime, target.id, ["touch", path])
        if code != 0:
            raise InjectionFailed(f"touch {path} in {target.name} exited {code}: {output}")
        return {"path": path}

    def revert(self, ctx: Any, params: MarkerParams, state: dict) -> None:
        import docker.errors

        runtime, target = ctx.runtime, ctx.target
        try:
            code, output = _exec(runtime, target.id, ["rm", "-f", state["path"]])
        except docker.errors.NotFound:
            return  # the container is gone, and the file with it
        if code != 0:
            raise RevertFailed(f"rm {state['path']} in {target.name} exited {code}: {output}")


class FileParams(MarkerParams):
    present: bool = True


class MarkerFile(Probe):
    name = "acme.file"
    summary = "the acme.touch marker file of this run exists (or not) in every container"
    Params = FileParams
    accepts_target = True

    def check(self, runtime: Any, params: FileParams, targets: tuple[Any, ...]) -> Check:
        if not targets:
            return Check(False, "no container to look in")
        path = params.path(runtime.run_id)
        for target in targets:
            code, _ = _exec(runtime, target.id, ["test", "-e", path])
            if (code == 0) != params.present:
                return Check(False, f"{path} {'missing' if params.present else 'present'}")
        return Check(True, f"{path} {'present' if params.present else 'absent'}")


@hookimpl
def chaosdrill_register_faults(registry: Any) -> None:
    registry.add_fault(Touch)


@hookimpl
def chaosdrill_register_probes(registry: Any) -> None:
    registry.add_probe(MarkerFile)
