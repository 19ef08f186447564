"""The demo stack the example experiments run against.

Two small web services built from the local busybox image (no registry):

* ``demo-web`` on http://127.0.0.1:18080: ``restart: always`` and a
  HEALTHCHECK every second. It survives a crash.
* ``demo-api`` on http://127.0.0.1:18081: a HEALTHCHECK but **no restart
  policy**: the weakness the second example exposes.

``demo-web`` also serves ``/cgi-bin/status``, which asks ``demo-api`` by its
DNS name and reports ``degraded`` when it cannot reach it (always with 200),
and ``/cgi-bin/api``, the page users call: it answers with ``demo-api``'s page,
or with ``502 Bad Gateway`` when it cannot reach it.

Metrics: busybox httpd has none of its own, so the CGI pages count what they
answer. Each request appends one byte to ``/tmp/demo-metrics/<page>_<code>``
(an ``O_APPEND`` write of one byte: concurrent requests never lose a count),
and ``/cgi-bin/metrics`` prints the file sizes as the counter
``demo_http_requests_total{handler="/cgi-bin/<page>",code="<code>"}`` in
Prometheus' text format. The static files (``/``) are not counted. The known
series (``api`` 200 and 502, ``status`` 200) are printed from 0, so an error
ratio exists before the first error. busybox httpd cannot rewrite URLs, but
runs ``/cgi-bin/index.cgi`` for a directory without ``index.html``: the empty
``/metrics/`` directory makes ``/metrics`` (redirected to ``/metrics/``)
print the same.

``demo-traffic`` (busybox, no port) stands for the users: about five requests a
second to ``http://demo-web/cgi-bin/api`` on the demo network, until removed.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chaos.images import BUSYBOX_IMAGE, _add_bytes, ensure_busybox_image

if TYPE_CHECKING:
    import docker

DEMO_IMAGE = "chaosdrill/demo-web:2"
DEMO_NETWORK = "chaosdrill-demo"
DEMO_LABEL = "chaosdrill.demo"
SPEC_LABEL = "chaosdrill.demo.spec"
"""A digest of a container's image and options: a container whose digest
differs (an older demo) is replaced by ``up``."""
PROJECT = "chaosdrill-demo"

DEMO_DOCKERFILE = f"""\
FROM {BUSYBOX_IMAGE}
COPY www /www
RUN ["chmod", "755", "/www/cgi-bin/status", "/www/cgi-bin/api", "/www/cgi-bin/metrics", \
     "/www/cgi-bin/index.cgi"]
RUN ["mkdir", "-p", "/www/metrics", "/tmp/demo-metrics"]
HEALTHCHECK --interval=1s --timeout=1s --retries=2 --start-period=2s \\
  CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]
EXPOSE 80
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
"""

METRICS_DIR = "/tmp/demo-metrics"
METRIC = "demo_http_requests_total"
KNOWN_SERIES = (("api", "200"), ("api", "502"), ("status", "200"))
"""(page, code) pairs printed from 0 before their first request."""

RESOLVE = """\
# Names are resolved with busybox's own nslookup: the static busybox cannot
# resolve through glibc's NSS.
resolve() {
  timeout 1 nslookup "$1" 2>/dev/null | awk '/^Address/ && !/#53/ && !/:53$/ {a=$NF} END {print a}'
}
"""

COUNT = f"""\
# One byte appended per request: the file's size is the count.
count() {{ printf . >> "{METRICS_DIR}/$1_$2"; }}
"""

STATUS_CGI = f"""\
#!/bin/sh
# Reports whether the backend answers.
{RESOLVE}{COUNT}count status 200
echo "Content-Type: text/plain"
echo
backend="${{BACKEND:-demo-api}}"
ip=$(resolve "$backend")
if [ -z "$ip" ]; then
  echo "degraded: cannot resolve $backend"
elif printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 1 nc "$ip" 80 | head -n 1 | grep -q ' 200 '; then
  echo "ok: backend reachable"
else
  echo "degraded: backend unreachable"
fi
"""

API_CGI = f"""\
#!/bin/sh
# The page users call: the backend's answer, or 502 when it cannot be reached.
{RESOLVE}{COUNT}backend="${{BACKEND:-demo-api}}"
ip=$(resolve "$backend")
body=""
if [ -n "$ip" ]; then
  body=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 1 nc "$ip" 80 | awk 'NR == 1 && !/ 200 / {{exit 1}} f {{print}} /^\\r?$/ {{f = 1}}') || body=""
fi
if [ -n "$body" ]; then
  count api 200
  printf 'Content-Type: text/html\\r\\n\\r\\n%s\\n' "$body"
else
  count api 502
  printf 'Status: 502 Bad Gateway\\r\\nContent-Type: text/plain\\r\\n\\r\\n'
  echo "bad gateway: $backend does not answer"
fi
"""

METRICS_CGI = f"""\
#!/bin/sh
# The counters in Prometheus' text exposition format (version 0.0.4).
cd {METRICS_DIR} || exit 1
for f in {" ".join(f"{page}_{code}" for page, code in KNOWN_SERIES)}; do [ -e "$f" ] || : >> "$f"; done
printf 'Content-Type: text/plain; version=0.0.4\\r\\n\\r\\n'
echo "# HELP {METRIC} HTTP requests answered by the demo's CGI pages."
echo "# TYPE {METRIC} counter"
for f in *_*; do
  echo "{METRIC}{{handler=\\"/cgi-bin/${{f%_*}}\\",code=\\"${{f##*_}}\\"}} $(wc -c < "$f")"
done
"""

INDEX_CGI = """\
#!/bin/sh
# busybox httpd runs this for a directory without index.html: /metrics/ is the
# only one, so that /metrics prints the counters too.
case "$REQUEST_URI" in
  /metrics/*) exec /www/cgi-bin/metrics ;;
esac
printf 'Status: 404 Not Found\\r\\nContent-Type: text/plain\\r\\n\\r\\nnot found\\n'
"""

TRAFFIC_SCRIPT = """\
# The demo's users: about five requests a second to the web's api page, on the
# demo network only (busybox's nslookup: no NSS in the static busybox; `timeout`
# rather than wget's -T, which crashes busybox 1.35's wget).
while true; do
  ip=$(timeout 1 nslookup demo-web 2>/dev/null | awk '/^Address/ && !/#53/ && !/:53$/ {a=$NF} END {print a}')
  if [ -n "$ip" ]; then
    timeout 2 wget -q -O /dev/null "http://$ip/cgi-bin/api" 2>/dev/null
  fi
  sleep 0.2
done
"""
TRAFFIC = "demo-traffic"


@dataclass(frozen=True)
class DemoService:
    name: str
    service: str
    port: int
    restart: str | None
    env: dict[str, str] = field(default_factory=dict)


SERVICES = (
    DemoService("demo-web", "web", 18080, "always", {"BACKEND": "demo-api"}),
    DemoService("demo-api", "api", 18081, None),
)


def build_demo_image(client: docker.DockerClient) -> str:
    ensure_busybox_image(client)
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        _add_bytes(tar, "Dockerfile", DEMO_DOCKERFILE.encode())
        _add_bytes(tar, "www/index.html", b"<h1>chaosdrill demo</h1>\n")
        _add_bytes(tar, "www/cgi-bin/status", STATUS_CGI.encode())
        _add_bytes(tar, "www/cgi-bin/api", API_CGI.encode())
        _add_bytes(tar, "www/cgi-bin/metrics", METRICS_CGI.encode())
        _add_bytes(tar, "www/cgi-bin/index.cgi", INDEX_CGI.encode())
    context.seek(0)
    image, _ = client.images.build(fileobj=context, custom_context=True, tag=DEMO_IMAGE, rm=True)
    return image.id


def up(
    client: docker.DockerClient, wait: float = 30.0, extra_labels: dict[str, str] | None = None
) -> list[str]:
    """Create or start every demo container; wait until web and api are
    healthy, then start the traffic. A container made by an older chaosdrill
    (another image or other options) is replaced."""
    import docker.errors

    image_id = build_demo_image(client)
    busybox_id = ensure_busybox_image(client)
    try:
        client.networks.get(DEMO_NETWORK)
    except docker.errors.NotFound:
        client.networks.create(
            DEMO_NETWORK, driver="bridge", labels={DEMO_LABEL: "1", **(extra_labels or {})}
        )
    names = []
    for svc in SERVICES:
        _start_or_run(
            client,
            svc.name,
            image_id,
            dict(
                image=DEMO_IMAGE,
                hostname=svc.name,
                ports={"80/tcp": ("127.0.0.1", svc.port)},
                environment=svc.env,
                restart_policy={"Name": svc.restart} if svc.restart else None,
                labels=_labels(svc.name, svc.service, extra_labels),
            ),
        )
        names.append(svc.name)
    _wait_healthy(client, names, wait)
    _start_or_run(
        client,
        TRAFFIC,
        busybox_id,
        dict(
            image=BUSYBOX_IMAGE,
            command=["sh", "-c", TRAFFIC_SCRIPT],
            labels=_labels(TRAFFIC, "traffic", extra_labels),
        ),
    )
    return [*names, TRAFFIC]


def _labels(name: str, service: str, extra: dict[str, str] | None) -> dict[str, str]:
    return {
        **(extra or {}),
        DEMO_LABEL: "1",
        "app": name,
        "com.docker.compose.project": PROJECT,
        "com.docker.compose.service": service,
    }


def _start_or_run(
    client: docker.DockerClient, name: str, image_id: str, options: dict[str, Any]
) -> None:
    import docker.errors

    shape = sorted((k, v) for k, v in options.items() if k != "labels")
    spec = hashlib.sha256(repr((image_id, shape)).encode()).hexdigest()[:16]
    try:
        container = client.containers.get(name)
    except docker.errors.NotFound:
        container = None
    if container is not None and container.labels.get(SPEC_LABEL) != spec:
        container.remove(force=True)  # made by an older chaosdrill, or from an older image
        container = None
    if container is None:
        options["labels"] = {**options["labels"], SPEC_LABEL: spec}
        client.containers.run(name=name, detach=True, network=DEMO_NETWORK, **options)
    elif container.status != "running":
        container.start()


def down(client: docker.DockerClient) -> list[str]:
    """Remove every demo container and the demo network."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": DEMO_LABEL}):
        container.remove(force=True)
        removed.append(container.name)
    for network in client.networks.list(filters={"label": DEMO_LABEL}):
        network.remove()
    return removed


def status(client: docker.DockerClient) -> list[tuple[str, str]]:
    out = []
    for container in client.containers.list(all=True, filters={"label": DEMO_LABEL}):
        health = container.attrs["State"].get("Health", {}).get("Status", "none")
        out.append((container.name, f"{container.status}, health {health}"))
    return sorted(out)


def not_ready(client: docker.DockerClient) -> list[str]:
    """Each demo container that is missing or not running, as ``demo-api: exited``:
    an example run against such a stack would fail before its first fault."""
    found = {c.name: c for c in client.containers.list(all=True, filters={"label": DEMO_LABEL})}
    problems = []
    for name in [*(svc.name for svc in SERVICES), TRAFFIC]:
        container = found.get(name)
        if container is None:
            problems.append(f"{name}: missing")
        elif container.status != "running":
            problems.append(f"{name}: {container.status}")
    return problems


def _wait_healthy(client: docker.DockerClient, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            state = client.api.inspect_container(name)["State"]
            if (state.get("Health") or {}).get("Status") == "healthy":
                pending.discard(name)
        if pending:
            time.sleep(0.2)
    if pending:
        from chaos.errors import ChaosError

        raise ChaosError(
            f"demo containers not healthy after {timeout:g}s: {', '.join(sorted(pending))}"
        )
