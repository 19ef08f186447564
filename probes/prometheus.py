"""``prometheus`` and ``prometheus.alert``: what a Prometheus server says.

``prometheus`` evaluates a PromQL query (``/api/v1/query``) and compares its
value(s) with ``expect``; ``prometheus.alert`` fails while a matching alert
fires (the ``ALERTS`` series). Both ask through ``prometheus-api-client``'s
``PrometheusConnect``, imported on the first check (``chaosdrill validate``
and ``--help`` never load it), given a ``requests`` session of their own:
no retries (``Retry(total=0)``: its default retries three times with
back-off), no redirects followed, a timeout on every request, and the
answer read within the timeout and up to :data:`MAX_BODY` bytes, so a
check never outlives its deadline.

A check that could not be made (unreachable, timed out, HTTP 4xx/5xx, a
PromQL error, an answer that is not Prometheus's) is a failed check with
``error`` set: before the method the run then ends ``error``, not ``failed``.
Secrets (``headers``, ``bearer``, ``basic.password``, a URL's userinfo) never
appear in a detail.
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator, model_validator

from chaos.plugin_api import Check, Params, Probe, Timeout, hookimpl

if TYPE_CHECKING:
    from chaos.plugin_api import Registry, Runtime, TargetRef

MAX_BODY = 4 * 1024 * 1024
"""Bytes of an answer read at most (a bigger answer is a failed check)."""
MAX_SERIES_SHOWN = 5
"""Series named in a detail (then ``and N more``)."""
MAX_LABELS_SHOWN = 80
"""Characters of a series' labels shown in a detail or the journal."""
MAX_BASELINE_SERIES = 20
"""Series whose baseline the journal shows (every one is compared)."""
MAX_WINDOW_SERIES = 10
MAX_WINDOW_POINTS = 120
"""What the journal keeps of a window evaluation's series."""
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
COMPARATORS = ("lt", "le", "gt", "ge", "eq", "ne")
SYMBOLS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


def _percent(value: Any) -> float:
    """``50%`` or ``50``: a percentage, not negative."""
    if isinstance(value, str):
        text = value.strip()
        text = text[:-1].strip() if text.endswith("%") else text
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected a percentage such as 50%, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a percentage such as 50%, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"expected a percentage of 0% or more, got {value!r}")
    return float(value)


class Expect(Params):
    """Exactly one expectation."""

    lt: float | None = None
    le: float | None = None
    gt: float | None = None
    ge: float | None = None
    eq: float | None = None
    ne: float | None = None
    between: tuple[float, float] | None = None
    """Inclusive bounds ``[low, high]``."""
    max_increase: float | None = None
    """At most this many percent above the baseline (``50%``)."""
    max_decrease: float | None = None
    """At most this many percent below the baseline (``20%``)."""

    @field_validator("max_increase", "max_decrease", mode="before")
    @classmethod
    def _percentage(cls, value: Any) -> Any:
        return None if value is None else _percent(value)

    @field_validator("lt", "le", "gt", "ge", "eq", "ne")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and math.isnan(value):
            raise ValueError("NaN never compares: give a number")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Expect:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of lt, le, gt, ge, eq, ne, between, max_increase, "
                f"max_decrease (got {', '.join(given) or 'none'})"
            )
        if self.between is not None:
            low, high = self.between
            if math.isnan(low) or math.isnan(high) or low > high:
                raise ValueError(f"between needs [low, high] with low <= high, got {[low, high]}")
        return self

    @property
    def relative(self) -> bool:
        return self.max_increase is not None or self.max_decrease is not None

    def describe(self) -> str:
        for name in COMPARATORS:
            bound = getattr(self, name)
            if bound is not None:
                return f"{SYMBOLS[name]} {bound:g}"
        if self.between is not None:
            return f"between {self.between[0]:g} and {self.between[1]:g}"
        if self.max_increase is not None:
            return f"at most {self.max_increase:g}% above the baseline"
        return f"at most {self.max_decrease:g}% below the baseline"

    def holds(self, value: float, baseline: float | None = None) -> bool:
        """Whether ``value`` meets the expectation; NaN never does."""
        if math.isnan(value):
            return False
        if self.lt is not None:
            return value < self.lt
        if self.le is not None:
            return value <= self.le
        if self.gt is not None:
            return value > self.gt
        if self.ge is not None:
            return value >= self.ge
        if self.eq is not None:
            return value == self.eq
        if self.ne is not None:
            return value != self.ne
        if self.between is not None:
            return self.between[0] <= value <= self.between[1]
        if baseline is None or math.isnan(baseline):
            return False
        if self.max_increase is not None:
            return value <= baseline + abs(baseline) * self.max_increase / 100
        assert self.max_decrease is not None
        return value >= baseline - abs(baseline) * self.max_decrease / 100


class Basic(Params):
    username: str
    password: str


class Connection(Params):
    """Where Prometheus is and how to reach it (both probes)."""

    url: str
    """The server's base URL (``http://prometheus:9090``); the API paths are added."""
    timeout: Timeout = 5.0
    """For the whole request and its answer; the engine gives up on a check at
    ``timeout`` + 1s whatever happens."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Sent with every request; their values never appear in any output."""
    bearer: str | None = None
    """A bearer token (``Authorization: Bearer ...``)."""
    basic: Basic | None = None
    """HTTP basic authentication: ``{username, password}``."""
    ca: str | None = None
    """A CA bundle (PEM file) to verify the server's certificate with."""
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL, got {_shown(value)!r}")
        if parts.query or parts.fragment:
            raise ValueError("the base URL takes no query or fragment")
        try:
            parts.port  # noqa: B018 - raises for a port out of range
        except ValueError as exc:
            raise ValueError(f"invalid URL {_shown(value)!r}: {exc}") from None
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_authorization(self) -> Connection:
        given = self.bearer is not None or self.basic is not None
        if given and any(k.lower() == "authorization" for k in self.headers):
            raise ValueError("give bearer, basic or an Authorization header, not several")
        if self.bearer is not None and self.basic is not None:
            raise ValueError("give bearer or basic, not both")
        return self

    def secrets(self) -> list[str]:
        values = [v for v in self.headers.values() if v]
        if self.bearer:
            values.append(self.bearer)
        if self.basic is not None and self.basic.password:
            values.append(self.basic.password)
        userinfo = urlsplit(self.url).password
        if userinfo:
            values.append(userinfo)
        return values


class PrometheusParams(Connection):
    query: str
    expect: Expect
    series: Literal["all", "any", "max", "min", "sum", "avg"] = "all"
    """Several series: ``all`` must meet the expectation, or ``any`` one, or
    their ``max``/``min``/``sum``/``avg`` must."""
    on_empty: Literal["fail", "pass", "error"] = "fail"
    """An empty result: a failed check, a passing one, or a check that could
    not be made (``error``: before the method the run ends ``error``)."""
    evaluate: Literal["samples", "window"] = "samples"
    """``window``: after recovery, also judge the whole method-to-recovery
    window with a range query (continuous probes only)."""

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is empty")
        return value


class AlertParams(Connection):
    alerts: list[str] = Field(default_factory=list)
    """Alert names (``alertname``) that must not fire; none: any name."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Labels a firing alert must carry to count (exact values)."""
    pending: bool = False
    """Count pending alerts (their ``for`` not yet elapsed) too."""

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not LABEL_NAME.match(name):
                raise ValueError(f"{name!r} is not a Prometheus label name")
        return value


# -- asking Prometheus ---------------------------------------------------------


class Unanswered(Exception):
    """The question could not be answered (the message names why, without secrets)."""


def _shown(url: str) -> str:
    """A URL without its userinfo, for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _scrub(text: str, params: Connection) -> str:
    for secret in sorted(params.secrets(), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def ask(params: Connection, path: str, query: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One API call through ``PrometheusConnect``: the ``data`` of a successful
    answer, or :class:`Unanswered` naming why (scrubbed of secrets)."""
    try:
        return _ask(params, path, query, timeout)
    except Unanswered as exc:
        raise Unanswered(_scrub(str(exc), params)) from None


def _ask(params: Connection, path: str, query: dict[str, Any], timeout: float) -> dict[str, Any]:
    # imported here: only a run that asks Prometheus pays for them
    import requests
    from prometheus_api_client import PrometheusConnect
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    where = _shown(params.url)
    deadline = time.monotonic() + timeout
    answers: list[Any] = []

    def read_within_deadline(response: Any, *args: Any, **kwargs: Any) -> Any:
        """Read the answer here (before requests would), bounded in time and size."""
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() > deadline:
                raise Unanswered(f"no answer from {where} within {timeout:g}s")
            chunk = response.raw.read(64 * 1024, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BODY:
                raise Unanswered(f"the answer from {where} is over {MAX_BODY} bytes")
            chunks.append(chunk)
        response._content = b"".join(chunks)
        answers.append(response)
        return response

    if not params.verify_tls:  # asked for: not a warning on every sample
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    session = requests.Session()
    session.max_redirects = 0
    session.trust_env = False  # no proxies or .netrc credentials from the environment
    session.verify = params.ca if params.ca and params.verify_tls else params.verify_tls
    session.hooks["response"].append(read_within_deadline)
    no_retry = Retry(total=0, connect=0, read=0, redirect=0, status=0, raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=no_retry))
    session.mount("https://", HTTPAdapter(max_retries=no_retry))
    headers = {"User-Agent": "chaosdrill", **params.headers}
    if params.bearer is not None:
        headers["Authorization"] = f"Bearer {params.bearer}"
    auth = (params.basic.username, params.basic.password) if params.basic else None
    try:
        client = PrometheusConnect(
            url=params.url, headers=headers, retry=no_retry, auth=auth, session=session
        )
        # connect and read each bounded by what is left of the timeout
        left = max(0.001, deadline - time.monotonic())
        if path == "query_range":
            from datetime import datetime, timezone

            client.custom_query_range(
                query["query"],
                datetime.fromtimestamp(query["start"], timezone.utc),
                datetime.fromtimestamp(query["end"], timezone.utc),
                step=query["step"],
                # the client rounds start and end to the second: these win over its own
                params={"start": f"{query['start']:.3f}", "end": f"{query['end']:.3f}"},
                timeout=left,
            )
        else:
            client.custom_query(query["query"], params=query.get("params"), timeout=left)
    except Unanswered:
        raise
    except requests.exceptions.Timeout:
        raise Unanswered(f"no answer from {where} within {timeout:g}s") from None
    except requests.exceptions.SSLError as exc:
        raise Unanswered(f"TLS with {where} failed: {_root(exc)}") from None
    except requests.exceptions.TooManyRedirects:
        raise Unanswered(f"{where} redirected the request: redirects are not followed") from None
    except requests.exceptions.ConnectionError as exc:
        if _root(exc) == "timed out":  # a read timeout, with retries off, comes as this
            raise Unanswered(f"no answer from {where} within {timeout:g}s") from None
        raise Unanswered(f"cannot reach Prometheus at {where}: {_root(exc)}") from None
    except requests.exceptions.RequestException as exc:
        raise Unanswered(f"request to {where} failed: {type(exc).__name__}") from None
    except OSError as exc:  # requests' own: a `ca` file that cannot be read
        if params.ca is None:
            raise
        raise Unanswered(f"ca {params.ca!r} cannot be used: {exc.strerror or exc}") from None
    except Exception:
        if not answers:
            raise
        # the client raises on any status but 200: the answer itself says why
    finally:
        session.close()
    if not answers:
        raise Unanswered(f"no answer from {where}")
    return _data(answers[-1], where, query["query"])


def _root(exc: BaseException) -> str:
    """The innermost cause, as a short phrase."""
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "name does not resolve"
    if "timed out" in text:
        return "timed out"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "certificate verify failed"
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return f"{type(exc).__name__}"


def _data(response: Any, where: str, query: str) -> dict[str, Any]:
    status = response.status_code
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    error = _snippet(str(error).encode(), 300) if error else None
    if status in (400, 422):
        said = error or _snippet(response.content)
        raise Unanswered(f"Prometheus rejected the query {query!r} (HTTP {status}): {said}")
    if status == 401 or status == 403:
        raise Unanswered(f"{where} refused the credentials (HTTP {status})")
    if status != 200:
        said = f": {error}" if error else ""
        raise Unanswered(f"Prometheus at {where} answered HTTP {status}{said}")
    if not isinstance(body, dict) or body.get("status") != "success":
        raise Unanswered(f"{where} did not answer like Prometheus (no successful JSON status)")
    data = body.get("data")
    if not isinstance(data, dict):
        raise Unanswered(f"{where} did not answer like Prometheus (no data)")
    return data


def _snippet(content: bytes, limit: int = 200) -> str:
    text = content.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else text[:limit] + "..."


# -- values --------------------------------------------------------------------


def _number(raw: Any) -> float:
    """A sample value as Prometheus writes it (``"1"``, ``"NaN"``, ``"+Inf"``)."""
    if isinstance(raw, str):
        text = raw.strip()
        if text in ("+Inf", "Inf"):
            return math.inf
        if text == "-Inf":
            return -math.inf
        if text == "NaN":
            return math.nan
        return float(text)
    raise ValueError(f"not a sample value: {raw!r}")


def labels_text(metric: dict[str, Any], limit: int | None = None) -> str:
    """``name{a="1",b="2"}``: a series' identity (bounded to ``limit`` for showing)."""
    name = str(metric.get("__name__", ""))
    pairs = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    text = f"{name}{{{pairs}}}" if pairs or not name else name
    return _bounded(text, limit) if limit is not None else text


def _bounded(text: str, limit: int = MAX_LABELS_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _value_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:g}"


def current_values(data: dict[str, Any]) -> list[tuple[str, float]]:
    """(labels, value) of each series of an instant query's result; a matrix
    gives each series' last value. Raises ValueError for what is not a number."""
    kind = data.get("resultType")
    result = data.get("result")
    try:
        if kind == "vector":
            return [(labels_text(s.get("metric") or {}), _number(s["value"][1])) for s in result]
        if kind == "matrix":
            return [
                (labels_text(s.get("metric") or {}), _number(s["values"][-1][1]))
                for s in result
                if s.get("values")
            ]
        if kind == "scalar":
            return [("scalar", _number(result[1]))]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise ValueError("the answer's values are not numbers") from None
    if kind == "string":
        raise ValueError("the query gives a string, not a number")
    raise ValueError(f"unknown result type {kind!r}")


def _aggregate(mode: str, values: list[float]) -> float:
    if any(math.isnan(v) for v in values):
        return math.nan  # explicit: min/max would otherwise depend on the order
    if mode == "max":
        return max(values)
    if mode == "min":
        return min(values)
    total = math.fsum(values) if all(math.isfinite(v) for v in values) else sum(values)
    return total if mode == "sum" else total / len(values)


def _listing(items: list[tuple[str, float]]) -> str:
    shown = ", ".join(f"{_bounded(name)}={_value_text(v)}" for name, v in items[:MAX_SERIES_SHOWN])
    more = len(items) - MAX_SERIES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def judge_values(
    params: PrometheusParams,
    values: list[tuple[str, float]],
    baseline: dict[str, float] | None = None,
) -> Check:
    """The expectation over the series' values (``baseline``: labels -> value,
    or ``"*"`` -> the aggregate, for a relative expectation)."""
    expect = params.expect
    if not values:
        said = f"no series for {params.query!r}"
        if params.on_empty == "pass":
            return Check(True, f"{said} (on_empty: pass)")
        return Check(False, said, error=params.on_empty == "error")
    wanted = expect.describe()
    nan_note = " (NaN never meets an expectation)"
    if params.series in ("all", "any"):
        verdicts = []
        for name, value in values:
            base = None
            if baseline is not None:
                base = baseline.get(name, baseline.get("*"))
            verdicts.append((name, value, expect.holds(value, base), base))
        passing = [(n, v) for n, v, ok, _ in verdicts if ok]
        failing = [(n, v) for n, v, ok, _ in verdicts if not ok]
        ok = not failing if params.series == "all" else bool(passing)
        nan = nan_note if any(math.isnan(v) for _n, v in failing) else ""
        base_note = _baseline_note(expect, [b for *_, b in verdicts])
        if ok:
            return Check(True, f"{_listing(values)} {wanted}{base_note}")
        head = "not" if params.series == "all" else "none"
        return Check(False, f"{head} {wanted}{base_note}: {_listing(failing)}{nan}")
    value = _aggregate(params.series, [v for _n, v in values])
    base = baseline.get("*") if baseline is not None else None
    ok = expect.holds(value, base)
    base_note = _baseline_note(expect, [base])
    said = f"{params.series} of {len(values)} series = {_value_text(value)}"
    if ok:
        return Check(True, f"{said}, {wanted}{base_note}")
    nan = nan_note if math.isnan(value) else ""
    return Check(False, f"{said}, not {wanted}{base_note} ({_listing(values)}){nan}")


def _baseline_note(expect: Expect, bases: list[float | None]) -> str:
    if not expect.relative:
        return ""
    known = [b for b in bases if b is not None]
    if not known:
        return " (no baseline for these series)"
    if len(set(map(_value_text, known))) == 1:
        return f" of {_value_text(known[0])}"
    return " of each series' baseline"


# -- the probes ----------------------------------------------------------------


class PrometheusProbe(Probe):
    name = "prometheus"
    summary = "a PromQL query's value meets an expectation (number, range, or baseline)"
    Params = PrometheusParams

    def __init__(self) -> None:
        self._baseline: dict[str, float] | None = None

    def _values(self, params: PrometheusParams) -> list[tuple[str, float]]:
        data = ask(params, "query", {"query": params.query}, params.timeout)
        try:
            return current_values(data)
        except ValueError as exc:
            raise Unanswered(f"query {params.query!r}: {exc}") from None

    def check(
        self, runtime: Runtime, params: PrometheusParams, targets: tuple[TargetRef, ...]
    ) -> Check:
        try:
            values = self._values(params)
        except Unanswered as exc:
            return Check(False, str(exc), error=True)
        if params.expect.relative and self._baseline is None:
            # outside a run (no baseline measured before a method): the first reading is it
            if not values:
                return judge_values(params, values)
            self._baseline = _baseline_of(params, values)
        return judge_values(params, values, self._baseline)

    def baseline(
        self, runtime: Runtime, params: PrometheusParams, targets: tuple[TargetRef, ...]
    ) -> Check | None:
        if not params.expect.relative:
            return None
        try:
            values = self._values(params)
        except Unanswered as exc:
            return Check(False, str(exc), error=True)
        if not values:
            return Check(False, f"no series for {params.query!r} to take a baseline from", True)
        self._baseline = _baseline_of(params, values)
        shown_values = {
            _bounded(k): v for k, v in list(self._baseline.items())[:MAX_BASELINE_SERIES]
        }
        data = {
            "query": params.query,
            "series": params.series,
            "values": shown_values,
            "series_total": len(self._baseline),
        }
        shown = _listing(list(self._baseline.items()))
        return Check(True, f"baseline {shown}", data=_finite_json(data))

    def preview(
        self, runtime: Runtime, params: PrometheusParams, targets: tuple[TargetRef, ...]
    ) -> Check | None:
        try:
            values = self._values(params)
        except Unanswered as exc:
            return Check(False, str(exc), error=True)
        if not values:
            return Check(params.on_empty == "pass", f"{params.query!r}: no series now")
        note = " (compared with the baseline taken before the method)" * params.expect.relative
        return Check(True, f"{params.query!r} = {_listing(values)}{note}")

    def evaluate_window(
        self,
        runtime: Runtime,
        params: PrometheusParams,
        targets: tuple[TargetRef, ...],
        start: float,
        end: float,
        step: float,
    ) -> Check | None:
        if params.evaluate != "window":
            return None
        step = max(step, (end - start) / 10000, 0.001)  # within Prometheus's 11000 points
        query = {"query": params.query, "start": start, "end": end, "step": f"{step:g}"}
        try:
            data = ask(params, "query_range", query, params.timeout)
        except Unanswered as exc:
            return Check(False, str(exc), error=True)
        result = data.get("result")
        if data.get("resultType") != "matrix" or not isinstance(result, list):
            return Check(False, f"query {params.query!r}: a range query gave no matrix", True)
        worst: list[tuple[str, float, float]] = []
        kept = []
        points = 0
        for series in result:
            name = labels_text(series.get("metric") or {})
            pairs = []
            try:
                pairs = [(float(t), _number(v)) for t, v in series.get("values") or []]
            except (TypeError, ValueError):
                return Check(False, f"query {params.query!r}: the window's values are not numbers")
            points += len(pairs)
            if len(kept) < MAX_WINDOW_SERIES:
                kept.append(
                    {
                        "series": _bounded(name),
                        "points": len(pairs),
                        "values": [[round(t, 3), _value_text(v)] for t, v in pairs][
                            -MAX_WINDOW_POINTS:
                        ],
                    }
                )
            for t, v in pairs:
                worst.append((name, t, v))
        data_out = {
            "query": params.query,
            "step": step,
            "series": kept,
            "series_total": len(result),
        }
        # judge every instant of the window as a sample would have been judged
        by_time: dict[float, list[tuple[str, float]]] = {}
        for name, t, v in worst:
            by_time.setdefault(t, []).append((name, v))
        if not by_time:
            check = judge_values(params, [], self._baseline)
            return Check(check.ok, f"over the window: {check.detail}", check.error, data_out)
        failing = []
        for t in sorted(by_time):
            check = judge_values(params, by_time[t], self._baseline)
            if not check.ok:
                failing.append((t, check.detail))
        data_out["failing_points"] = len(failing)
        if failing:
            t, detail = failing[0]
            moment = time.strftime("%H:%M:%S", time.gmtime(t))
            return Check(
                False,
                f"{len(failing)} of {len(by_time)} points of the window fail; "
                f"first at {moment} UTC: {detail}",
                data=data_out,
            )
        return Check(True, f"all {len(by_time)} points of the window pass", data=data_out)


def _baseline_of(params: PrometheusParams, values: list[tuple[str, float]]) -> dict[str, float]:
    if params.series in ("all", "any"):
        return dict(values)
    return {"*": _aggregate(params.series, [v for _n, v in values])}


def _finite_json(data: Any) -> Any:
    """JSON has no NaN or Inf: they are written as Prometheus writes them."""
    if isinstance(data, float) and not math.isfinite(data):
        return _value_text(data)
    if isinstance(data, dict):
        return {k: _finite_json(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_finite_json(v) for v in data]
    return data


def _quote(value: str) -> str:
    """A PromQL string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def alerts_query(params: AlertParams) -> str:
    state = 'alertstate=~"firing|pending"' if params.pending else 'alertstate="firing"'
    matchers = [state] + [f"{k}={_quote(v)}" for k, v in sorted(params.labels.items())]
    return "ALERTS{" + ",".join(matchers) + "}"


class AlertProbe(Probe):
    name = "prometheus.alert"
    summary = "no matching Prometheus alert is firing (a stop condition, as a guard)"
    Params = AlertParams

    def _firing(self, params: AlertParams) -> list[str]:
        data = ask(params, "query", {"query": alerts_query(params)}, params.timeout)
        if data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
            raise Unanswered("ALERTS did not give a vector")
        names = set(params.alerts)
        firing = []
        for series in data["result"]:
            metric = series.get("metric") or {} if isinstance(series, dict) else {}
            name = str(metric.get("alertname", ""))
            if names and name not in names:
                continue
            extra = {k: v for k, v in metric.items() if k in params.labels or k == "alertstate"}
            firing.append(labels_text({"__name__": name, **extra}, MAX_LABELS_SHOWN))
        return sorted(set(firing))

    def check(self, runtime: Runtime, params: AlertParams, targets: tuple[TargetRef, ...]) -> Check:
        try:
            firing = self._firing(params)
        except Unanswered as exc:
            return Check(False, str(exc), error=True)
        what = "firing or pending" if params.pending else "firing"
        if firing:
            shown = ", ".join(firing[:MAX_SERIES_SHOWN])
            more = len(firing) - MAX_SERIES_SHOWN
            return Check(False, f"{what}: {shown}" + (f" and {more} more" if more > 0 else ""))
        return Check(True, f"no matching alert {what}")

    def preview(
        self, runtime: Runtime, params: AlertParams, targets: tuple[TargetRef, ...]
    ) -> Check | None:
        return self.check(runtime, params, targets)


@hookimpl
def chaosdrill_register_probes(registry: Registry) -> None:
    registry.add_probe(PrometheusProbe)
    registry.add_probe(AlertProbe)
