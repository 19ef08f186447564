"""The demo stack the example experiments run against.

Two small web services built from the local busybox image (no registry):

* ``demo-web`` on http://127.0.0.1:18080: ``restart: always`` and a
  HEALTHCHECK every second. It survives a crash.
* ``demo-api`` on http://127.0.0.1:18081: a HEALTHCHECK but **no restart
  policy**: the weakness the second example exposes.

``demo-web`` also serves ``/cgi-bin/status``, which asks ``demo-api`` by its
DNS name and reports ``degraded`` when it cannot reach it.
"""

from __future__ import annotations

import io
import tarfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chaos.images import BUSYBOX_IMAGE, _add_bytes, ensure_busybox_image

if TYPE_CHECKING:
    import docker

DEMO_IMAGE = "chaosdrill/demo-web:1"
DEMO_NETWORK = "chaosdrill-demo"
DEMO_LABEL = "chaosdrill.demo"
PROJECT = "chaosdrill-demo"

DEMO_DOCKERFILE = f"""\
FROM {BUSYBOX_IMAGE}
COPY www /www
RUN ["chmod", "755", "/www/cgi-bin/status"]
HEALTHCHECK --interval=1s --timeout=1s --retries=2 --start-period=2s \\
  CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]
EXPOSE 80
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
"""

STATUS_CGI = """\
#!/bin/sh
# Reports whether the backend answers. Names are resolved with busybox's own
# nslookup: the static busybox cannot resolve through glibc's NSS.
echo "Content-Type: text/plain"
echo
backend="${BACKEND:-demo-api}"
ip=$(timeout 1 nslookup "$backend" 2>/dev/null | awk '/^Address/ && !/#53/ && !/:53$/ {a=$NF} END {print a}')
if [ -z "$ip" ]; then
  echo "degraded: cannot resolve $backend"
elif printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 1 nc "$ip" 80 | head -n 1 | grep -q ' 200 '; then
  echo "ok: backend reachable"
else
  echo "degraded: backend unreachable"
fi
"""


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
    context.seek(0)
    image, _ = client.images.build(fileobj=context, custom_context=True, tag=DEMO_IMAGE, rm=True)
    return image.id


def up(
    client: docker.DockerClient, wait: float = 30.0, extra_labels: dict[str, str] | None = None
) -> list[str]:
    """Create or start every demo container; wait until each is healthy."""
    import docker.errors

    build_demo_image(client)
    try:
        client.networks.get(DEMO_NETWORK)
    except docker.errors.NotFound:
        client.networks.create(
            DEMO_NETWORK, driver="bridge", labels={DEMO_LABEL: "1", **(extra_labels or {})}
        )
    names = []
    for svc in SERVICES:
        try:
            container = client.containers.get(svc.name)
            if container.status != "running":
                container.start()
        except docker.errors.NotFound:
            client.containers.run(
                DEMO_IMAGE,
                name=svc.name,
                detach=True,
                hostname=svc.name,
                network=DEMO_NETWORK,
                ports={"80/tcp": ("127.0.0.1", svc.port)},
                environment=svc.env,
                restart_policy={"Name": svc.restart} if svc.restart else None,
                labels={
                    **(extra_labels or {}),
                    DEMO_LABEL: "1",
                    "app": svc.name,
                    "com.docker.compose.project": PROJECT,
                    "com.docker.compose.service": svc.service,
                },
            )
        names.append(svc.name)
    _wait_healthy(client, names, wait)
    return names


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
