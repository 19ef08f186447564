"""``disk.fill``: fill a filesystem inside a container, the file removed after.

A helper joins the target's PID namespace and reaches the target's own
mounts through ``/proc/1/root``: its writable layer, a named volume, a
tmpfs, whatever is mounted at ``path`` in the container. It allocates one
file there (``fallocate``, or plain writes on a filesystem without it) of the
size asked, or so that the filesystem is ``percent`` full, then holds it
until SIGTERM (the revert, the watchdog) or its own deadline, when it
removes it. When the helper is gone before the revert (the container was
restarted: its PID namespace ended), the revert removes the file with a
fresh helper.

The writable layer usually lives on the engine host's Docker disk: filling
it fills that disk for every container. Fill a volume or a size-limited
mount unless that is the point.
"""

from __future__ import annotations

import json
import posixpath
import time
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from chaos.faults import fault_helpers
from chaos.faults.placements import Placement, TaskParams, recorded_placements
from chaos.faults.sizes import ByteSize
from chaos.faults.stress import HelperFault, inspect_running
from chaos.plugin_api import InjectionFailed, RevertFailed, describe_engine_error, hookimpl

if TYPE_CHECKING:
    from chaos.plugin_api import FaultContext, Registry

CAPABILITIES = ["SYS_PTRACE"]
"""Reaching another process's root (``/proc/1/root``) is a ptrace-mode access."""

FILL = r"""
import errno, json, os, signal, sys, time
seconds, directory, size, percent, name = sys.argv[1:6]
target = "/proc/1/root" + directory
path = os.path.join(target, name)
def remove(*_):
    try:
        os.unlink(path)
    except OSError:
        pass
    os._exit(0)
signal.signal(signal.SIGTERM, remove)
try:
    st = os.statvfs(target)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
except OSError as exc:
    print("cannot fill " + directory + " in the container: " + exc.strerror, flush=True)
    sys.exit(4)
total, free = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
used = total - st.f_bfree * st.f_frsize
want = int(size) if size else max(0, int(total * float(percent) / 100) - used)
want = min(want, free)
written = 0
try:
    if want:
        os.posix_fallocate(fd, 0, want)
    written = want
except OSError:
    chunk = b"\0" * (1 << 20)
    while written < want:
        try:
            written += os.write(fd, chunk[: min(len(chunk), want - written)])
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            break
os.close(fd)
after = os.statvfs(target)
print(json.dumps({"file": directory.rstrip("/") + "/" + name, "bytes": written,
                  "size": total, "free_after": after.f_bavail * after.f_frsize}), flush=True)
time.sleep(int(seconds))
remove()
"""
"""The helper's program: allocate, report, hold until SIGTERM or the deadline, remove."""

REMOVE = 'rm -f "/proc/1/root$1"'


class FillParams(TaskParams):
    path: str = Field(min_length=1)
    """A directory in the container: ``/`` (its writable layer), or where a volume
    or tmpfs is mounted (``/data``)."""
    size: ByteSize | None = None
    """Size of the fill file (``512m``)."""
    percent: float | None = Field(default=None, gt=0, le=100)
    """Fill until the filesystem is this full (of its size)."""

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") or "\0" in value:
            raise ValueError("path must be an absolute directory in the container, such as /data")
        normal = posixpath.normpath(value)
        if normal.startswith("//"):
            normal = "/" + normal.lstrip("/")
        return normal

    @model_validator(mode="after")
    def _one_amount(self) -> FillParams:
        if (self.size is None) == (self.percent is None):
            raise ValueError("give size or percent (how full the filesystem gets), one of them")
        return self


def fill_file(injection_id: str) -> str:
    return f".chaosdrill-fill-{injection_id}"


class DiskFill(HelperFault):
    name = "disk.fill"
    summary = "fill a filesystem in the container (writable layer or volume); file removed after"
    Params = FillParams

    def start_one(
        self, ctx: FaultContext, params: FillParams, where: Placement, index: int
    ) -> dict[str, Any]:
        what = f"{self.name} on {where.where}"
        inspect_running(where, InjectionFailed, what)
        argv = [
            "python3", "-c", FILL, str(fault_helpers.seconds_left(ctx)), params.path,
            str(params.size or ""), str(params.percent or ""), fill_file(ctx.injection_id),
        ]  # fmt: skip
        helper = fault_helpers.start(
            ctx, where, index, argv, purpose=what, error=InjectionFailed, cap_add=CAPABILITIES
        )
        report: dict[str, Any] = {}
        for _ in range(50):  # the report comes once the allocation is done
            container = where.client.containers.get(helper)
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
            if output.strip():
                try:
                    report = json.loads(output.strip().splitlines()[-1])
                except ValueError:
                    fault_helpers.stop_all(ctx, where, InjectionFailed)
                    raise InjectionFailed(f"{what}: {output.strip()}") from None
                break
            time.sleep(0.2)
        return {"helper": helper[:12], **report}

    def undo(self, ctx: FaultContext, params: FillParams) -> fault_helpers.Undo:
        path = posixpath.join(params.path, fill_file(ctx.injection_id))
        return fault_helpers.Undo(("sh", "-c", REMOVE, "remove", path), tuple(CAPABILITIES))

    def revert(self, ctx: FaultContext, params: Any, state: dict[str, Any]) -> dict[str, Any]:
        import docker.errors

        observed = super().revert(ctx, params, state)
        if observed.get("helpers_stopped"):
            return observed
        # no helper left to remove the file (the container restarted): a fresh one does
        path = posixpath.join(params.path, fill_file(ctx.injection_id))
        for where in recorded_placements(ctx, state) or []:
            what = f"removing {path} from {where.where}"
            try:
                info = where.client.api.inspect_container(where.container_id)
            except Exception as exc:
                if isinstance(exc, docker.errors.NotFound):
                    continue  # the container is gone (a volume keeps the file: see below)
                raise RevertFailed(f"{what}: {describe_engine_error(exc)}") from None
            if not (info.get("State") or {}).get("Running"):
                raise RevertFailed(
                    f"{what}: the container is not running, so no helper can reach its "
                    "filesystem; the file stays until it runs again (chaosdrill recover then "
                    "removes it) or is removed by hand"
                )
            fault_helpers.run_once(
                ctx,
                where,
                ["sh", "-c", REMOVE, "remove", path],
                purpose=f"removing {path} from {where.where}",
                error=RevertFailed,
                cap_add=CAPABILITIES,
            )
        return {**observed, "removed_by": "a fresh helper"}


@hookimpl
def chaosdrill_register_faults(registry: Registry) -> None:
    registry.add_fault(DiskFill)
