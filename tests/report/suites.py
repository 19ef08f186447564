"""A suite of two experiments on one container, run through ``chaosdrill suite
--html``: the page the report tests read back and open in a browser."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import chaosdrill


def suite_page(tmp_path: Path, group: str, port: int) -> Path:
    """Write ``tmp_path/experiments`` with ``ok`` (an http probe on ``port``) and
    ``down`` (a probe on a closed port), both pausing the container labelled
    ``grp=group`` for 200 ms, run the suite (it fails: exit 1) and return the
    HTML page it wrote, ``tmp_path/suite.html``."""
    folder = tmp_path / "experiments"
    folder.mkdir()
    for name, url in (("ok", f"http://127.0.0.1:{port}/"), ("down", "http://127.0.0.1:1/")):
        (folder / f"{name}.yaml").write_text(
            f"version: 1\ntitle: {name}\n"
            f"targets:\n  web: {{select: {{labels: {{grp: {group}}}}}}}\nsteady_state:\n"
            f"  - {{name: up, probe: http, url: '{url}', timeout: 300ms}}\n"
            "method:\n  - {name: freeze, fault: container.pause, target: web, duration: 200ms}\n"
        )
    out = tmp_path / "suite.html"
    done = chaosdrill(
        "suite", str(folder), "--report-dir", str(tmp_path / "reports"), "--html", str(out)
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return out
