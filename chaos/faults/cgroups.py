"""Putting a helper's processes into the target container's own cgroup.

Resource faults run stress-ng (or a memory hog) in a helper container, and
the load must count against the *target's* limits and show in the target's
stats, as Pumba's stress does. Docker's ``cgroup_parent`` cannot do that
everywhere: under cgroup v2 a cgroup that holds processes may not have
children with controllers enabled (the "no internal processes" rule), and a
container's cgroup always holds its processes; the systemd driver only takes
a slice as a parent. So the helper *joins* the target's cgroup instead (what
Pumba's ``cg-inject`` does for v2): it shares the target's PID namespace
(``pid_mode: container:<id>``), reads the cgroup of the target's PID 1 from
``/proc/1/cgroup``, writes its own PID into that cgroup's ``cgroup.procs``
in the host's cgroup filesystem (mounted at :data:`HOST_ROOT`, with the
host's cgroup namespace, so the paths read are the host's), then runs the
stressor. Its children are born there.

The engine's cgroup version comes from ``docker info`` (``CgroupVersion``):
v1 has one hierarchy per controller (``/sys/fs/cgroup/<controller>/<path>``),
v2 one unified hierarchy (``/sys/fs/cgroup/<path>``). Which driver the
engine uses (``cgroupfs`` or ``systemd``) changes only the path read from
``/proc/1/cgroup``, so both are covered.

:data:`JOIN_PROGRAM` is the helper's whole program (Python, run with
``python3 -c``); its path computation, :func:`procs_files` inside it, is
tested here without an engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HOST_ROOT = "/host/sys/fs/cgroup"
"""Where the helper sees the host's cgroup filesystem."""

JOIN_PROGRAM = r'''
import os, sys

def procs_files(text, version, root):
    """The cgroup.procs files of the cgroup described by /proc/PID/cgroup ``text``."""
    files = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        path = path.strip()
        if not path.startswith("/"):
            continue
        if version == "2":
            if controllers == "":
                files.append(root + path.rstrip("/") + "/cgroup.procs")
            continue
        if controllers == "":
            continue  # a v2 hierarchy mounted beside v1 (hybrid): Docker limits through v1
        for controller in controllers.split(","):
            name = controller.removeprefix("name=")
            base = root + "/" + name
            if not os.path.isdir(base):
                base = root + "/" + controllers.replace("name=", "")
            files.append(base + path.rstrip("/") + "/cgroup.procs")
    seen = []
    for f in files:
        if f not in seen:
            seen.append(f)
    return seen

def main():
    version, root = sys.argv[1], sys.argv[2]
    argv = sys.argv[3:]
    with open("/proc/1/cgroup") as fh:
        text = fh.read()
    joined = 0
    for path in procs_files(text, version, root):
        if not os.path.exists(path):
            continue
        try:
            with open(path, "w") as fh:
                fh.write(str(os.getpid()))
        except OSError as exc:
            print("cannot join the target's cgroup " + path + ": " + str(exc), flush=True)
            sys.exit(3)
        joined += 1
    if not joined:
        print("no cgroup of the target found under " + root + " (cgroup v" + version + "): "
              + text.strip().replace("\n", "; "), flush=True)
        sys.exit(3)
    os.execvp(argv[0], argv)

if __name__ == "__main__":
    main()
'''


@dataclass(frozen=True)
class CgroupInfo:
    """What the engine says about its cgroups (``docker info``)."""

    version: str
    """``"1"`` or ``"2"``."""
    driver: str
    """``cgroupfs`` or ``systemd`` (recorded in the journal; the path handles both)."""

    def to_json(self) -> dict[str, str]:
        return {"cgroup_version": self.version, "cgroup_driver": self.driver}


def cgroup_info(info: dict[str, Any]) -> CgroupInfo:
    """From ``docker info``; an engine too old to say is cgroup v1 (API < 1.40)."""
    version = str(info.get("CgroupVersion") or "1")
    if version not in ("1", "2"):
        version = "1"
    return CgroupInfo(version, str(info.get("CgroupDriver") or "cgroupfs"))


def join_argv(cgroups: CgroupInfo, argv: list[str]) -> list[str]:
    """``argv``, run once the helper has joined the target's cgroup."""
    return ["python3", "-c", JOIN_PROGRAM, cgroups.version, HOST_ROOT, *argv]


def join_options(cgroups: CgroupInfo) -> dict[str, Any]:
    """Container options the join needs: the target's PID namespace is given by the
    caller; here the host's cgroup filesystem (read-write) and, under v2, the
    host's cgroup namespace (a private one would show the target's cgroup as ``/``)."""
    options: dict[str, Any] = {"volumes": {"/sys/fs/cgroup": {"bind": HOST_ROOT, "mode": "rw"}}}
    if cgroups.version == "2":
        options["cgroupns"] = "host"
    return options
