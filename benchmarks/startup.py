"""How long the CLI takes to start, against bare-interpreter baselines.

Runs each command R times as a subprocess (round-robin, after one untimed
warm-up each, so a burst of load on a shared machine hits every command
alike) and prints the median wall time and its ratio to ``python -c pass``:

* ``python -c pass``: the interpreter alone (the unit of the ratios);
* ``python -c "import pydantic"``: the heaviest dependency every command needs;
* ``chaosdrill --help``: argument parsing only;
* ``chaosdrill validate experiments/web-survives-crash.yaml``: load plugins,
  parse and validate a file; never touches the engine.

``chaosdrill`` is the console script installed next to this interpreter (not a
pyenv shim, whose own start-up would be counted). Only medians and ratios are
reported: on a shared, noisy machine a mean or a minimum says little.

Side by side with Chaos Toolkit (unless ``--no-chaostoolkit``): two throwaway
virtual environments in a temporary directory, removed at the end, one with
``chaostoolkit==1.19.*`` and one with chaosdrill installed from this tree (not
editable), both with pip from the configured index. The same interpreter runs
both, with nothing else on their path, so neither pays for the other's
packages. An equivalent experiment is written for each (the Chaos Toolkit one
in JSON, with ``process`` and ``python`` providers: no network), and more
commands join the round-robin: ``chaosdrill --help`` and ``validate`` from its
environment, ``chaos --help`` and ``chaos validate`` from the other, and the
floor (``import yaml`` and one pydantic model, in chaosdrill's environment).
The ratios to ``chaos validate`` come from the same run. ``chaos`` is
run with ``--no-version-check`` (otherwise it asks releases.chaostoolkit.org
for a newer version on every command) and with its proxy variables pointed at
a closed local port, so it cannot reach the network even if it tried.

Bytecode: by default every command runs with a warm bytecode cache kept in a
temporary ``PYTHONPYCACHEPREFIX`` (and ``PYTHONDONTWRITEBYTECODE`` unset), as
on an ordinary install, without writing ``__pycache__`` into the source tree.
``--as-is`` keeps the caller's environment instead: with
``PYTHONDONTWRITEBYTECODE=1`` and an editable install, every chaosdrill module
is compiled from source on every start.

    python benchmarks/startup.py [--runs 15] [--imports] [--as-is] [--no-chaostoolkit]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = "experiments/web-survives-crash.yaml"
TIMEOUT = 30.0
INSTALL_TIMEOUT = 600.0
CHAOSTOOLKIT = "chaostoolkit==1.19.*"
CLOSED_PORT = "http://127.0.0.1:9"
"""Proxy for the ``chaos`` commands: nothing listens there, so a request fails at once."""

CTK_EXPERIMENT: dict[str, object] = {
    "version": "1.0.0",
    "title": "Web survives a crashed replica",
    "description": "Crash the demo web server's main process and check that it comes back.",
    "tags": ["demo", "web", "crash"],
    "configuration": {"base_url": "http://127.0.0.1:18080"},
    "steady-state-hypothesis": {
        "title": "web answers and is healthy",
        "probes": [
            {
                "type": "probe",
                "name": "web-ok",
                "tolerance": 0,
                "provider": {"type": "process", "path": "true", "arguments": []},
            },
            {
                "type": "probe",
                "name": "web-healthy",
                "tolerance": True,
                "provider": {
                    "type": "python",
                    "module": "os.path",
                    "func": "isdir",
                    "arguments": {"s": "/"},
                },
            },
        ],
    },
    "method": [
        {
            "type": "action",
            "name": "crash-web",
            "provider": {"type": "process", "path": "true", "arguments": []},
            "pauses": {"after": 5},
        },
        {
            "type": "probe",
            "name": "web-availability",
            "background": True,
            "provider": {
                "type": "python",
                "module": "os.path",
                "func": "exists",
                "arguments": {"path": "/"},
            },
        },
        {
            "type": "probe",
            "name": "api-up",
            "provider": {"type": "process", "path": "true", "arguments": []},
        },
    ],
    "rollbacks": [],
}
"""The chaostoolkit counterpart of EXPERIMENT: the same title, configuration and
tags; two steady-state probes, one action held 5 s, two probes during the
method. Its providers run ``true`` and ``os.path`` functions, so validating it
(which chaostoolkit does by importing each python provider's module and
checking the process path) touches nothing outside this machine."""


def chaosdrill_script() -> str:
    beside = Path(sys.executable).with_name("chaosdrill")
    if beside.is_file():
        return str(beside)
    found = shutil.which("chaosdrill")
    if found is None:
        raise SystemExit("chaosdrill is not installed (pip install -e .)")
    return found


def commands() -> dict[str, list[str]]:
    script = chaosdrill_script()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import pydantic'": [sys.executable, "-c", "import pydantic"],
        "chaosdrill --help": [script, "--help"],
        f"chaosdrill validate {EXPERIMENT}": [script, "validate", EXPERIMENT],
    }


VENV_PASS = "venv: python -c pass"
VENV_FLOOR = "venv: yaml + one pydantic model"
FLOOR = "import yaml\nfrom pydantic import BaseModel\nclass A(BaseModel):\n    x: int\nA(x=1)\n"
"""What any validator built on PyYAML and pydantic pays before its own code runs."""
VENV_HELP = "venv: chaosdrill --help"
VENV_VALIDATE = "venv: chaosdrill validate"
CTK_HELP = "venv: chaos --help"
CTK_VALIDATE = "venv: chaos validate"
CWD = "__cwd__"
"""Key in a command's extra environment naming its working directory instead."""


def make_venv(path: Path, *requirements: str) -> Path:
    """A virtual environment at ``path`` with ``requirements`` installed; its bin dir."""
    subprocess.run(
        [sys.executable, "-m", "venv", str(path)],
        check=True,
        capture_output=True,
        timeout=INSTALL_TIMEOUT,
    )
    bindir = path / "bin"
    proc = subprocess.run(
        [str(bindir / "python"), "-m", "pip", "install", "-q", *requirements],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_ROOT_USER_ACTION": "ignore"},
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"pip install {' '.join(requirements)} failed:\n{proc.stderr[-2000:]}")
    return bindir


def comparison_commands(workdir: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Install both tools in venvs under ``workdir``; their commands and extra env."""
    print(f"installing {CHAOSTOOLKIT} and chaosdrill in throwaway venvs...", file=sys.stderr)
    ctk = make_venv(workdir / "ctk", CHAOSTOOLKIT)
    # built from a copy: pip builds in the source directory and would leave
    # build/ and chaosdrill.egg-info/ in the tree
    source = workdir / "chaosdrill-src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("chaos", "probes"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    cd = make_venv(workdir / "cd", str(source))
    experiment = workdir / "web-survives-crash.json"
    experiment.write_text(json.dumps(CTK_EXPERIMENT, indent=2))
    log = str(workdir / "chaostoolkit.log")
    chaos = [str(ctk / "chaos"), "--no-version-check", "--log-file", log]
    offline = {
        "HTTP_PROXY": CLOSED_PORT,
        "HTTPS_PROXY": CLOSED_PORT,
        "NO_PROXY": "",
        CWD: str(workdir),  # chaos writes a chaostoolkit.log into its directory
    }
    return {
        VENV_PASS: ([str(cd / "python"), "-c", "pass"], {}),
        VENV_FLOOR: ([str(cd / "python"), "-c", FLOOR], {}),
        VENV_HELP: ([str(cd / "chaosdrill"), "--help"], {}),
        VENV_VALIDATE: ([str(cd / "chaosdrill"), "validate", str(ROOT / EXPERIMENT)], {}),
        CTK_HELP: ([*chaos, "--help"], offline),
        CTK_VALIDATE: ([*chaos, "validate", str(experiment)], offline),
    }


def run_once(argv: list[str], env: dict[str, str]) -> float:
    env = dict(env)
    cwd = env.pop(CWD, str(ROOT))
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=TIMEOUT, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} exited with {proc.returncode}:\n{proc.stderr.decode(errors='replace')}"
        )
    return elapsed


def measure(
    runs: int, env: dict[str, str], extra: dict[str, tuple[list[str], dict[str, str]]]
) -> dict[str, list[float]]:
    cmds = {name: (argv, env) for name, argv in commands().items()}
    cmds.update({name: (argv, {**env, **more}) for name, (argv, more) in extra.items()})
    for argv, cmd_env in cmds.values():  # warm-up: page cache, .pyc files
        run_once(argv, cmd_env)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, (argv, cmd_env) in cmds.items():
            times[name].append(run_once(argv, cmd_env))
    return times


def top_imports(argv: list[str], env: dict[str, str], count: int = 10) -> list[tuple[str, float]]:
    """The packages whose own modules take longest to import in one command.

    Each module's self time (its import minus its own imports) is added to its
    top-level package, so ``pydantic`` imported from ``chaos`` counts as pydantic.
    """
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    totals: dict[str, float] = {}
    pattern = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)")
    for line in proc.stderr.splitlines():
        match = pattern.match(line)
        if match:
            package = match.group(2).split(".")[0]
            totals[package] = totals.get(package, 0.0) + int(match.group(1)) / 1e6
    return sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command")
    parser.add_argument(
        "--imports",
        action="store_true",
        help="also show which packages validate spends its import time in",
    )
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="keep the caller's bytecode settings (PYTHONDONTWRITEBYTECODE...)",
    )
    parser.add_argument(
        "--no-chaostoolkit",
        action="store_true",
        help=f"skip the side-by-side with {CHAOSTOOLKIT} (no venvs, no pip)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 100:
        parser.error("--runs must be between 1 and 100")

    with tempfile.TemporaryDirectory(prefix="chaosdrill-startup-") as workdir:
        cache = Path(workdir) / "pycache"
        env = dict(os.environ)
        if not args.as_is:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(cache)
        extra = {} if args.no_chaostoolkit else comparison_commands(Path(workdir))
        report = benchmark(args.runs, args.imports, env, extra)
    report["bytecode"] = "as-is" if args.as_is else "warm cache"
    print(json.dumps(report, separators=(",", ":")))
    return 0


def benchmark(
    runs: int,
    imports: bool,
    env: dict[str, str],
    extra: dict[str, tuple[list[str], dict[str, str]]],
) -> dict[str, object]:
    times = measure(runs, env, extra)
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["python -c pass"]
    width = max(len(name) for name in medians)
    print(f"{'command':<{width}}  {'median':>9}  {'x python -c pass':>16}")
    # commands in a venv are compared with the venv's own interpreter start-up
    units = {n: medians[VENV_PASS] if n.startswith("venv: ") else base for n in medians}
    for name, median in medians.items():
        print(f"{name:<{width}}  {median * 1000:7.1f}ms  {median / units[name]:15.2f}x")

    report: dict[str, object] = {
        "benchmark": "startup",
        "runs": runs,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "median_ms": {name: round(m * 1000, 1) for name, m in medians.items()},
        "ratio_to_python": {name: round(m / units[name], 2) for name, m in medians.items()},
    }
    if extra:
        versus = {
            "validate": medians[VENV_VALIDATE] / medians[CTK_VALIDATE],
            "--help": medians[VENV_HELP] / medians[CTK_HELP],
            "floor/validate": medians[VENV_FLOOR] / medians[CTK_VALIDATE],
        }
        print(f"chaosdrill / {CHAOSTOOLKIT} (same run, medians):")
        for command, ratio in versus.items():
            print(f"  {command:<15} {ratio:5.2f}x")
        report["chaostoolkit"] = CHAOSTOOLKIT
        report["ratio_to_chaostoolkit"] = {c: round(r, 2) for c, r in versus.items()}
    if imports:
        script = chaosdrill_script()
        slowest = top_imports([script, "validate", EXPERIMENT], env)
        print("slowest packages to import in validate (self time, one run):")
        for package, seconds in slowest:
            print(f"  {package:<24} {seconds * 1000:7.1f}ms")
        report["validate_imports_ms"] = {p: round(s * 1000, 1) for p, s in slowest}
    return report


if __name__ == "__main__":
    sys.exit(main())
