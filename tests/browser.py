"""A headless Chromium for tests of the HTML pages chaosdrill writes.

Debian's ``chromium`` and ``chromium-driver`` packages (``scripts/setup.sh``
installs them), driven through selenium. A :class:`Browser` opens local files
(``file://``) or loopback URLs only, and reports what a test asserts on:

- :meth:`Browser.console`: the console messages (errors and warnings) and
  failed loads of the pages opened since the last :meth:`Browser.open`;
- :meth:`Browser.requests`: every network request those pages made, from the
  DevTools performance log, other than the opened file itself and ``data:``
  URIs (a self-contained page makes none);
- :meth:`Browser.screenshot`: a PNG of the viewport, in the test's folder;
- :meth:`Browser.rect`: an element's ``getBoundingClientRect()`` in CSS pixels.

The browser can reach nothing but loopback: background networking and updates
are off, every host name but ``127.0.0.1``/``localhost`` resolves to nothing,
and everything else is sent to a proxy that does not exist (``PROXY``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DESKTOP = (1280, 900)
PHONE = (390, 844)
ARTIFACTS_ENV = "CHAOSDRILL_BROWSER_ARTIFACTS"
"""When set, screenshots go to ``$CHAOSDRILL_BROWSER_ARTIFACTS/<test>/`` (kept
for CI artifacts) instead of the test's ``tmp_path``."""

ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",  # tests run as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--safebrowsing-disable-auto-update",
    "--disable-features=NetworkTimeServiceQuerying,Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,"
    "AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
    # no way out but loopback: names other than localhost resolve to nothing, and
    # everything else goes to PROXY (Chromium 156 still asks update.googleapis.com
    # and accounts.google.com at start, whatever the flags above say)
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--proxy-bypass-list=127.0.0.1;localhost",
)
PROXY = "http://127.0.0.1:9"
"""Where every request not to loopback goes: a port nothing listens on."""
CONSOLE_LEVELS = frozenset({"SEVERE", "WARNING"})
LOOPBACK_URL = re.compile(r"http://(127\.0\.0\.1|localhost):\d+/")


def missing() -> str | None:
    """Why no browser can start here, when the Chromium binary is absent; else None.

    Only an absent Chromium is a reason to skip: a missing driver or selenium
    with Chromium present is a broken setup, and the test fails on it.
    """
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        return (
            f"Chromium is not installed ({CHROMIUM} is absent): "
            "scripts/setup.sh installs the chromium and chromium-driver packages"
        )
    return None


@dataclass(frozen=True)
class Rect:
    """An element's box, from ``getBoundingClientRect()``: CSS pixels, viewport-relative."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height


@dataclass(frozen=True)
class ConsoleMessage:
    level: str  # SEVERE (errors, failed loads) or WARNING
    source: str  # console-api, network, javascript, ...
    message: str


class Browser:
    """One headless Chromium, its viewport exactly ``width`` x ``height`` CSS pixels."""

    def __init__(self, driver: Any, width: int, height: int, mobile: bool, output_dir: Path):
        self.driver = driver
        self.width = width
        self.height = height
        self.mobile = mobile
        self.output_dir = output_dir
        self.url: str | None = None
        self.started_in = 0.0  # seconds from start() to a ready browser
        self._console: list[ConsoleMessage] = []
        self._requests: list[str] = []
        self._opened: set[str] = set()
        self._others: list[Browser] = []

    @classmethod
    def start(
        cls,
        width: int = DESKTOP[0],
        height: int = DESKTOP[1],
        *,
        mobile: bool = False,
        output_dir: Path | None = None,
        proxy: str = PROXY,
    ) -> Browser:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        began = time.monotonic()
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium"))
        for argument in (*ARGUMENTS, f"--proxy-server={proxy}", f"--window-size={width},{height}"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            # the window size counts the (simulated) browser frame; the viewport is what
            # pages and screenshots see, so it is set exactly
            driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
            )
        except BaseException:
            driver.quit()
            raise
        browser = cls(driver, width, height, mobile, output_dir or Path.cwd())
        browser.started_in = time.monotonic() - began
        return browser

    # -- pages

    def open(self, target: str | Path) -> None:
        """Load a local file (a path or ``file://`` URL) or a ``http://127.0.0.1`` URL
        and wait for its load event. Console messages and requests start afresh."""
        url = str(target)
        if isinstance(target, Path) or "://" not in url:
            url = Path(target).resolve().as_uri()
        if not (url.startswith("file://") or LOOPBACK_URL.match(url)):
            raise ValueError(f"tests open local files and loopback URLs only, not {url}")
        self._collect()  # whatever came before belongs to the page before
        self._console.clear()
        self._requests.clear()
        self.url = url
        self._opened = {url.split("#", 1)[0]}
        self.driver.get(url)

    def console(self, levels: frozenset[str] | set[str] = CONSOLE_LEVELS) -> list[ConsoleMessage]:
        """Console messages at ``levels`` (default: errors and warnings) since :meth:`open`."""
        self._collect()
        return [message for message in self._console if message.level in levels]

    def requests(self) -> list[str]:
        """URLs the page requested since :meth:`open`: everything but the opened
        file itself and ``data:`` URIs, in order (a self-contained page: ``[]``)."""
        self._collect()
        return list(self._requests)

    def screenshot(self, name: str = "page") -> Path:
        """Save a PNG of the viewport (``width`` x ``height`` pixels) to the output folder."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / (name if name.endswith(".png") else f"{name}.png")
        if not self.driver.save_screenshot(str(path)):
            raise RuntimeError(f"no screenshot written to {path}")
        return path

    def script(self, source: str, *args: Any) -> Any:
        """Run JavaScript in the page (``execute_script``) and return its result."""
        return self.driver.execute_script(source, *args)

    def rects(self, selector: str) -> list[Rect]:
        """``getBoundingClientRect()`` of every element matching a CSS selector."""
        boxes = self.script(
            "return Array.from(document.querySelectorAll(arguments[0]), e => {"
            " const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; });",
            selector,
        )
        return [Rect(*map(float, box)) for box in boxes]

    def rect(self, selector: str) -> Rect:
        """The box of the one element matching ``selector`` (an error otherwise)."""
        found = self.rects(selector)
        if len(found) != 1:
            raise LookupError(f"{selector!r} matches {len(found)} elements, not one")
        return found[0]

    def viewport(self) -> tuple[int, int]:
        """The page's ``innerWidth`` x ``innerHeight``."""
        width, height = self.script("return [window.innerWidth, window.innerHeight];")
        return int(width), int(height)

    # -- lifetime

    def reopen(
        self, width: int = PHONE[0], height: int = PHONE[1], *, mobile: bool = True
    ) -> Browser:
        """Another browser at another size (a phone by default), writing to the same
        folder; this one stays as it is, and :meth:`quit` quits both."""
        other = Browser.start(width, height, mobile=mobile, output_dir=self.output_dir)
        self._others.append(other)
        return other

    def alive(self) -> bool:
        try:
            self.driver.execute_script("return 1;")
        except Exception:
            return False
        return True

    def quit_others(self) -> None:
        while self._others:
            self._others.pop().quit()

    def quit(self) -> None:
        try:
            self.quit_others()
        finally:
            self.driver.quit()

    # -- the logs (each read drains the driver's buffer)

    def _collect(self) -> None:
        for entry in self.driver.get_log("browser"):
            self._console.append(
                ConsoleMessage(entry.get("level", ""), entry.get("source", ""), entry["message"])
            )
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            method = message.get("method")
            if method == "Network.requestWillBeSent":
                url = message["params"]["request"]["url"]
            elif method == "Network.webSocketCreated":
                url = message["params"]["url"]
            else:
                continue
            if url.startswith("data:") or url.split("#", 1)[0] in self._opened:
                continue
            self._requests.append(url)


def output_dir(node_id: str, tmp_path: Path) -> Path:
    """Where a test's screenshots go: ``$CHAOSDRILL_BROWSER_ARTIFACTS/<test>`` when
    that is set, else the test's ``tmp_path``."""
    root = os.environ.get(ARTIFACTS_ENV)
    if not root:
        return tmp_path
    return Path(root) / re.sub(r"[^A-Za-z0-9_.-]+", "_", node_id).strip("_")[:150]
