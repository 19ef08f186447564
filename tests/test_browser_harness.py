"""The browser harness (``tests/browser.py``) on pages these tests write: console
errors, network requests, screenshots, geometry and the phone size. No engine is
needed; the tests skip only where Chromium is absent."""

from __future__ import annotations

import contextlib
import http.server
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import browser as harness
from tests.browser import DESKTOP, PHONE, Browser

# a 1x1 transparent PNG, inline
PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def page(tmp_path: Path, body: str, name: str = "page.html", head: str = "") -> Path:
    path = tmp_path / name
    path.write_text(
        f'<!doctype html><html><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">{head}</head>'
        f"<body>{body}</body></html>"
    )
    return path


class Hits(http.server.BaseHTTPRequestHandler):
    paths: list[str]

    def do_GET(self) -> None:
        self.paths.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def loopback_server() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on 127.0.0.1 answering 404 and recording each path asked for."""
    paths: list[str] = []
    handler = type("Handler", (Hits,), {"paths": paths})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1], paths
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG, after checking its signature and every chunk's CRC."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    offset, chunks = 8, []
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in chunk {kind!r}"
        chunks.append(kind)
        offset += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and b"IDAT" in chunks
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_console_errors_and_warnings_are_reported(browser: Browser, tmp_path: Path) -> None:
    browser.open(
        page(
            tmp_path,
            "<p>hello</p><script>console.log('fine'); console.warn('careful');"
            "console.error('broken timeline');</script>",
        )
    )
    messages = browser.console()
    assert [(m.level, m.source) for m in messages] == [
        ("WARNING", "console-api"),
        ("SEVERE", "console-api"),
    ]
    assert "careful" in messages[0].message and "broken timeline" in messages[1].message
    assert any("fine" in m.message for m in browser.console({"INFO"}))

    # the next page starts afresh; an uncaught exception is an error too
    browser.open(page(tmp_path, "<script>null.x;</script>", name="throws.html"))
    [error] = browser.console()
    assert error.level == "SEVERE" and "TypeError" in error.message

    browser.open(page(tmp_path, "<p>quiet</p>", name="quiet.html"))
    assert browser.console() == []


def test_a_loopback_image_is_one_request(
    browser: Browser, tmp_path: Path, loopback_server: tuple[int, list[str]]
) -> None:
    port, hits = loopback_server
    browser.open(page(tmp_path, f'<img src="http://127.0.0.1:{port}/x.png" alt="x">'))
    assert browser.requests() == [f"http://127.0.0.1:{port}/x.png"]
    assert hits == ["/x.png"]  # it really went out (to loopback, not through the proxy)
    # the 404 is a failed load in the console
    assert any(m.source == "network" and "x.png" in m.message for m in browser.console())


def test_a_self_contained_page_makes_no_request(
    browser: Browser, tmp_path: Path, loopback_server: tuple[int, list[str]]
) -> None:
    body = (
        '<svg viewBox="0 0 100 20" width="300"><rect x="1" y="1" width="50" height="10"'
        ' fill="teal"/><text x="60" y="10">run</text></svg>'
        f'<img src="{PIXEL}" alt="pixel"><div class="bg">styled</div>'
    )
    style = f"<style>.bg {{ background: url('{PIXEL}'); color: #333; }}</style>"
    browser.open(page(tmp_path, body, head=style))
    assert browser.requests() == []
    assert browser.console() == []
    assert browser.script("return document.images[0].complete && document.images[0].naturalWidth")

    # a stylesheet beside the file is a request: the page is not self-contained
    (tmp_path / "extra.css").write_text("p { color: red; }")
    browser.open(
        page(
            tmp_path,
            "<p>x</p>",
            name="linked.html",
            head='<link rel="stylesheet" href="extra.css">',
        )
    )
    assert browser.requests() == [(tmp_path / "extra.css").as_uri()]
    assert loopback_server[1] == []


def test_a_screenshot_is_a_png_of_the_window(browser: Browser, tmp_path: Path) -> None:
    browser.open(page(tmp_path, "<h1>screenshot</h1>", head="<style>body{background:#fe0}</style>"))
    assert browser.viewport() == DESKTOP
    shot = browser.screenshot("desktop")
    assert shot.parent == browser.output_dir and shot.name == "desktop.png"
    assert png_size(shot) == DESKTOP


def test_svg_geometry_in_css_pixels(browser: Browser, tmp_path: Path) -> None:
    # a 200x100 user-unit drawing, scaled by CSS to 600 px wide: 3 px per unit
    body = (
        '<svg id="chart" viewBox="0 0 200 100" style="width:600px; display:block">'
        '<rect id="bar" x="20" y="10" width="50" height="30" fill="teal"/></svg>'
    )
    head = "<style>body { margin: 0; padding: 40px 0 0 25px; }</style>"
    browser.open(page(tmp_path, body, head=head))
    chart, bar = browser.rect("#chart"), browser.rect("#bar")
    assert (chart.x, chart.y, chart.width, chart.height) == pytest.approx((25, 40, 600, 300), abs=1)
    scale = chart.width / 200
    assert scale == pytest.approx(3, abs=0.01)
    expected = (chart.x + 20 * scale, chart.y + 10 * scale, 50 * scale, 30 * scale)
    assert (bar.x, bar.y, bar.width, bar.height) == pytest.approx(expected, abs=1)
    assert (bar.right, bar.bottom) == pytest.approx((25 + 210, 40 + 120), abs=1)
    assert len(browser.rects("rect")) == 1
    with pytest.raises(LookupError):
        browser.rect("circle")


def test_reopening_at_phone_size(browser: Browser, tmp_path: Path) -> None:
    path = page(
        tmp_path,
        '<svg id="chart" viewBox="0 0 200 100" style="width:100%; display:block"></svg>',
        head="<style>body { margin: 0 } @media (max-width: 480px) { body { background: #eee } }</style>",
    )
    phone = browser.reopen()
    phone.open(path)
    assert phone.viewport() == PHONE
    assert phone.script("return matchMedia('(max-width: 480px)').matches") is True
    assert phone.rect("#chart").width == pytest.approx(PHONE[0], abs=1)
    assert png_size(phone.screenshot("phone")) == PHONE
    assert phone.output_dir == browser.output_dir

    # the module's browser is still at desktop size
    browser.open(path)
    assert browser.viewport() == DESKTOP
    assert browser.rect("#chart").width == pytest.approx(DESKTOP[0], abs=1)


def test_only_local_pages_are_opened(browser: Browser) -> None:
    for url in ("http://example.com/", "https://127.0.0.1:1/", "ftp://127.0.0.1/"):
        with pytest.raises(ValueError):
            browser.open(url)


def test_nothing_but_loopback_leaves_the_browser(browser: Browser, tmp_path: Path) -> None:
    """Every request not to loopback goes to the proxy: here a listener of the test's
    own standing in for the dead one, which answers nothing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    asked: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(1)
                with contextlib.suppress(OSError):
                    asked.append(connection.recv(4096).split(b"\r\n", 1)[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    proxied = Browser.start(
        proxy=f"http://127.0.0.1:{listener.getsockname()[1]}", output_dir=tmp_path
    )
    try:
        proxied.open(
            page(
                tmp_path,
                '<img src="http://chaosdrill.invalid/a.png"><img src="https://chaosdrill.invalid/b.png">',
            )
        )
        assert proxied.requests() == [
            "http://chaosdrill.invalid/a.png",
            "https://chaosdrill.invalid/b.png",
        ]
    finally:
        proxied.quit()
        stop.set()
        thread.join(5)
        listener.close()
    assert b"GET http://chaosdrill.invalid/a.png HTTP/1.1" in asked
    assert b"CONNECT chaosdrill.invalid:443 HTTP/1.1" in asked


def test_only_an_absent_chromium_skips(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert harness.missing() is None or not harness.CHROMIUM.exists()
    monkeypatch.setattr(harness, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = harness.missing()
    assert reason is not None and "chromium" in reason and "scripts/setup.sh" in reason
