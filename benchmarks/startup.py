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

Bytecode: by default every command runs with a warm bytecode cache kept in a
temporary ``PYTHONPYCACHEPREFIX`` (and ``PYTHONDONTWRITEBYTECODE`` unset), as
on an ordinary install, without writing ``__pycache__`` into the source tree.
``--as-is`` keeps the caller's environment instead: with
``PYTHONDONTWRITEBYTECODE=1`` and an editable install, every chaosdrill module
is compiled from source on every start.

    python benchmarks/startup.py [--runs 15] [--imports] [--as-is]
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


def run_once(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, timeout=TIMEOUT, check=False
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} exited with {proc.returncode}:\n{proc.stderr.decode(errors='replace')}"
        )
    return elapsed


def measure(runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    cmds = commands()
    for argv in cmds.values():  # warm-up: page cache, .pyc files
        run_once(argv, env)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, argv in cmds.items():
            times[name].append(run_once(argv, env))
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
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 100:
        parser.error("--runs must be between 1 and 100")

    with tempfile.TemporaryDirectory(prefix="chaosdrill-pycache-") as cache:
        env = dict(os.environ)
        if not args.as_is:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = cache
        report = benchmark(args.runs, args.imports, env)
    report["bytecode"] = "as-is" if args.as_is else "warm cache"
    print(json.dumps(report, separators=(",", ":")))
    return 0


def benchmark(runs: int, imports: bool, env: dict[str, str]) -> dict[str, object]:
    times = measure(runs, env)
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["python -c pass"]
    width = max(len(name) for name in medians)
    print(f"{'command':<{width}}  {'median':>9}  {'x python -c pass':>16}")
    for name, median in medians.items():
        print(f"{name:<{width}}  {median * 1000:7.1f}ms  {median / base:15.2f}x")

    report: dict[str, object] = {
        "benchmark": "startup",
        "runs": runs,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "median_ms": {name: round(m * 1000, 1) for name, m in medians.items()},
        "ratio_to_python": {name: round(m / base, 2) for name, m in medians.items()},
    }
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
