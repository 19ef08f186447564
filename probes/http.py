"""``http``: a request answers with the expected status, body and latency.

A refused connection, a timeout or an unexpected status is a failed check,
never an engine error: that is what the probe is there to notice.

By default the request is made from this process. With ``from: <container>``
it is made from inside that container's network namespace instead, by
``curl`` in a short-lived ``chaosdrill/netns-helper:1`` container
(``network_mode: container:<id>``, no extra capability): container names and
aliases resolve through Docker's embedded DNS, and unpublished ports and
network faults on that container apply, exactly as for the container's own
requests. The helper costs about 0.3 s per sample (keep the ``interval``
above that); ``max_latency`` is judged on curl's own ``time_total``, so the
helper's start-up does not count against it. The URL, the method, the headers
and the body reach curl as a config on its standard input, never as
arguments (a helper's arguments are visible to anyone who runs ``docker
inspect`` or ``ps``), and never through a shell.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from chaos.plugin_api import (
    HTTP_MAX_BODY,
    Check,
    Duration,
    HttpRequest,
    Probe,
    RequestFailed,
    hookimpl,
    search,
    send_http,
)
from probes._containers import (
    HelperUnavailable,
    run_from,
    seconds,
    within_helper_timeout,
)

if TYPE_CHECKING:
    from chaos.plugin_api import Registry, Runtime, TargetRef


class HttpParams(HttpRequest):
    max_latency: Duration | None = None
    """A response slower than this is a failed check."""
    from_: str | None = Field(default=None, alias="from")
    """Container name or id to make the request from (its network namespace),
    through a helper container; by default the request comes from this process."""

    model_config = {**HttpRequest.model_config, "populate_by_name": True}

    @model_validator(mode="after")
    def _helper_timeout(self) -> HttpParams:
        if self.from_ is not None:
            within_helper_timeout(self.timeout, "an http probe with `from`")
        return self


class HttpProbe(Probe):
    name = "http"
    summary = "an HTTP request answers with the expected status, body and latency"
    Params = HttpParams

    def check(self, runtime: Runtime, params: HttpParams, targets: tuple[TargetRef, ...]) -> Check:
        if params.from_ is not None:
            return check_from(runtime, params, params.from_)
        try:
            answer = send_http(params)
        except RequestFailed as exc:
            return Check(False, str(exc))
        return judge(params, answer.status, answer.body.decode("utf-8", "replace"), answer.elapsed)


def judge(params: HttpParams, status: int, body: str | None, elapsed: float) -> Check:
    """Status, body and latency against the expectations (``body`` None: not read)."""
    if not params.expect.accepts(status):
        return Check(False, f"status {status}")
    if params.expect.body_regex and not search(params.expect.body_regex, body or ""):
        return Check(False, f"status {status}, body does not match {params.expect.body_regex!r}")
    if params.max_latency is not None and elapsed > params.max_latency:
        return Check(
            False,
            f"status {status} in {elapsed * 1000:.0f}ms, over {params.max_latency * 1000:.0f}ms",
        )
    return Check(True, f"status {status}")


TRAILER = "\n@chaosdrill-http@ %{http_code} %{time_total}\n"
"""Written by curl after the body: the status and the request's own duration."""
TRAILER_LINE = re.compile(r"\n@chaosdrill-http@ (\d{3}) (\d+(?:\.\d+)?)\n")
CURL_TIMED_OUT = 28


def curl_command(params: HttpParams) -> tuple[list[str], str]:
    """The curl command for ``params``: its argv, and a curl config that curl
    reads from standard input (``-K -``) holding the URL, the method, the
    headers and the body, which may be secret: ``docker inspect`` and ``ps``
    show a helper's argv to anyone. One argument per value, no shell, no URL
    globbing, no ``.curlrc``, no redirects followed, and a body is sent as is
    (``data-raw``: a leading ``@`` is not a file to read)."""
    argv = ["curl", "-q", "-sS", "--globoff", "--proto", "=http,https"]
    argv += ["--max-time", seconds(params.timeout), "-w", TRAILER]
    if not params.verify_tls:
        argv.append("--insecure")
    # the body is only needed (and only sent back) for a body_regex
    argv += ["-o", "-" if params.expect.body_regex else "/dev/null", "-K", "-"]
    config = [f"url = {_quoted(params.url)}"]
    if params.method.upper() == "HEAD":
        config.append("head")
    else:
        config.append(f"request = {_quoted(params.method)}")
    headers = {"User-Agent": "chaosdrill", "Connection": "close", **params.headers}
    for key, value in headers.items():
        config.append(f"header = {_quoted(f'{key}: {value}' if value else f'{key};')}")
    if params.body is not None:
        config.append(f"data-raw = {_quoted(params.body)}")
    return argv, "\n".join(config) + "\n"


def _quoted(value: str) -> str:
    """A value for a curl config file: double-quoted, with curl's escapes."""
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
        .replace("\v", "\\v")
    )
    return f'"{escaped}"'


def check_from(runtime: Runtime, params: HttpParams, container: str) -> Check:
    """Make the request with curl inside ``container``'s network namespace."""
    try:
        argv, config = curl_command(params)
        code, output = run_from(
            runtime, container, argv, f"http probe from {container}", stdin=config.encode()
        )
    except HelperUnavailable as exc:
        return Check(False, str(exc))
    trailers = list(TRAILER_LINE.finditer(output))  # a body may hold one too: curl's is last
    trailer = trailers[-1] if trailers else None
    if code != 0 or trailer is None or trailer.group(1) == "000":
        return Check(False, f"{_curl_failure(code, output, params)} (from {container})")
    body = output[: min(trailer.start(), HTTP_MAX_BODY)] if params.expect.body_regex else None
    result = judge(params, int(trailer.group(1)), body, float(trailer.group(2)))
    return Check(result.ok, f"{result.detail} (from {container})")


def _curl_failure(code: int, output: str, params: HttpParams) -> str:
    if code == CURL_TIMED_OUT:
        return f"timed out after {params.timeout:g}s"
    for line in reversed(output.splitlines()):
        if line.startswith("curl: ("):  # curl: (7) Failed to connect to db port 81 ...
            return line.partition(") ")[2] or line
    return f"curl exit {code}"


@hookimpl
def chaosdrill_register_probes(registry: Registry) -> None:
    registry.add_probe(HttpProbe)
