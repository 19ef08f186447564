"""Make the README's screenshot of a run page from a real run.

Starts a throwaway web container from the demo image (``chaosdrill/demo-web``,
built locally when missing), published on a free 127.0.0.1 port and labelled
``chaosdrill.screenshot``; runs an experiment that pauses it for 1.5 s under a
100 ms HTTP probe whose tolerance the pause breaks (so the page shows a failed
verdict, its reason and the outage); renders the run page; opens it in
headless Chromium (the tests' harness, ``tests/browser.py``: no request can
leave the machine) and saves ``docs/images/report-run.png`` and the page
itself as ``docs/images/report-run.html``. The container is removed at the
end, also on failure.

    python scripts/report_screenshot.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXPERIMENT = """\
version: 1
title: The web survives a freeze (it does not)
description: Pause the web container for 1.5 s while users keep calling it.
tags: [demo, screenshot]
targets:
  web: {{select: {{labels: {{chaosdrill.screenshot: "{label}"}}}}}}
steady_state:
  - {{name: up, probe: http, url: "http://127.0.0.1:{port}/", timeout: 300ms}}
method:
  - {{name: freeze, fault: container.pause, target: web, at: 500ms, duration: 1500ms}}
probes:
  - {{name: users, probe: http, url: "http://127.0.0.1:{port}/", interval: 100ms,
     timeout: 200ms, tolerance: {{max_outage: 500ms}}}}
recovery: {{within: 10s}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


def main() -> int:
    from chaos import api
    from chaos.demo import DEMO_IMAGE, build_demo_image
    from chaos.docker_client import connect
    from chaos.report.html import run_page
    from tests.browser import Browser

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()

    client = connect()
    build_demo_image(client)
    label = f"shot-{int(time.time())}"
    port = _free_port()
    container = client.containers.run(
        DEMO_IMAGE,
        detach=True,
        labels={"chaosdrill.screenshot": label},
        ports={"80/tcp": ("127.0.0.1", port)},
    )
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"http://127.0.0.1:{port}/"):
            if time.monotonic() > deadline:
                raise RuntimeError("the web container never answered")
            time.sleep(0.2)
        with tempfile.TemporaryDirectory(prefix="chaosdrill-shot-") as tmp:
            path = Path(tmp) / "experiment.yaml"
            path.write_text(EXPERIMENT.format(label=label, port=port))
            result = api.run(api.load(path), report_dir=Path(tmp) / "reports")
        args.out.mkdir(parents=True, exist_ok=True)
        page = args.out / "report-run.html"
        page.write_text(run_page(result.journal))
        browser = Browser.start(1280, 1600, output_dir=args.out)
        try:
            browser.open(page)
            if browser.requests():
                raise RuntimeError(f"the page made requests: {browser.requests()}")
            shot = browser.screenshot("report-run")
        finally:
            browser.quit()
    finally:
        container.remove(force=True)
    print(f"{result.verdict.value}: {shot} and {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
