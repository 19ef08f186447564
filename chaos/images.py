"""Images chaosdrill needs, built locally with no registry.

``chaosdrill/busybox`` is a static busybox (``sh``, ``httpd``, ``wget``,
``nc``, ``kill``...) on an empty base. It is the helper image for
``container.crash`` and the base of the demo stack. The build context is made
in memory from the host's busybox binary (Debian: ``busybox-static``), so it
works on a machine that cannot reach any registry.

``chaosdrill/netns-helper`` is a minimal Debian with iptables, iproute2 (tc)
and curl: network faults run it inside a target's network namespace, and
watchdogs use it to call the engine. It is made with ``debootstrap`` from
Debian's package mirror (root needed) and imported, so no registry is needed
either; with a registry, ``docker build -f images/netns-helper.Dockerfile``
gives the same image.

``chaosdrill/swarm-node`` is the same kind of Debian with the Docker engine
(``docker.io``): the nodes of the Swarm lab (``chaosdrill lab up``) are
containers of it, each running its own ``dockerd``. One builder,
:func:`build_rootfs_image`, makes both Debian images from a
:class:`RootfsImage` description; ``images/*.Dockerfile`` are the registry
equivalents.
"""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.errors import UsageError

if TYPE_CHECKING:
    import docker

BUSYBOX_IMAGE = "chaosdrill/busybox:1"
NETNS_IMAGE = "chaosdrill/netns-helper:1"  # the default of Runtime.netns_image
NETNS_PACKAGES = ("iptables", "iproute2", "curl", "ca-certificates", "procps")
SWARM_NODE_IMAGE = "chaosdrill/swarm-node:1"  # the nodes of `chaosdrill lab`
SWARM_NODE_PACKAGES = ("docker.io", "iptables", "iproute2", "procps", "ca-certificates", "curl")
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox")

BUSYBOX_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/sh", "-c", "mkdir -p /tmp /www /etc && chmod 1777 /tmp && echo 'root:x:0:0:root:/:/bin/sh' > /etc/passwd"]
ENV PATH=/bin
LABEL org.opencontainers.image.title="chaosdrill busybox" chaosdrill.image="busybox"
CMD ["sh"]
"""


def find_static_busybox() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        path = Path(candidate)
        if path.is_file():
            with path.open("rb") as fh:
                head = fh.read(4096)
            if b"ld-linux" not in head and b".so." not in head:
                return path
    found = shutil.which("busybox")
    if found:
        return Path(found)
    raise UsageError(
        "a static busybox binary is needed to build images: install it "
        "(Debian/Ubuntu: apt-get install busybox-static)"
    )


def build_busybox_image(client: docker.DockerClient, tag: str = BUSYBOX_IMAGE) -> str:
    """Build (or rebuild from cache) the busybox image; return its id."""
    binary = find_static_busybox()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        _add_bytes(tar, "Dockerfile", BUSYBOX_DOCKERFILE.encode())
        tar.add(str(binary), arcname="busybox")
    context.seek(0)
    image, _logs = client.images.build(
        fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True, pull=False
    )
    return image.id


def ensure_busybox_image(client: docker.DockerClient, tag: str = BUSYBOX_IMAGE) -> str:
    """Build the image only when it is not on the engine yet."""
    import docker.errors

    try:
        return client.images.get(tag).id
    except docker.errors.ImageNotFound:
        return build_busybox_image(client, tag)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


@dataclass(frozen=True)
class RootfsImage:
    """An image made by ``debootstrap`` from Debian's mirror and imported.

    ``dockerfile`` is the equivalent build for machines with a registry (in
    ``images/``), named in the error when ``debootstrap`` is missing.
    """

    tag: str
    packages: tuple[str, ...]
    changes: tuple[str, ...]
    """Dockerfile instructions applied on import (``CMD``, ``LABEL``...)."""
    dockerfile: str


NETNS_ROOTFS = RootfsImage(
    tag=NETNS_IMAGE,
    packages=NETNS_PACKAGES,
    changes=('CMD ["sleep", "infinity"]', "LABEL chaosdrill.image=netns-helper"),
    dockerfile="images/netns-helper.Dockerfile",
)
SWARM_NODE_ROOTFS = RootfsImage(
    tag=SWARM_NODE_IMAGE,
    packages=SWARM_NODE_PACKAGES,
    # No VOLUME /var/lib/docker: watchdogs run this image for its docker CLI, and
    # each run would leave an anonymous volume. Lab nodes mount a named one.
    changes=('CMD ["dockerd"]', "LABEL chaosdrill.image=swarm-node"),
    dockerfile="images/swarm-node.Dockerfile",
)
ROOTFS_PRUNE = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man")


def build_rootfs_image(
    client: docker.DockerClient,
    spec: RootfsImage,
    tag: str | None = None,
    mirror: str = DEBIAN_MIRROR,
) -> str:
    """debootstrap a minimal Debian with ``spec.packages``, import it, return its id."""
    import subprocess
    import tempfile

    tag = tag or spec.tag
    repository, _, version = tag.rpartition(":")
    if not repository or "/" in version:
        repository, version = tag, "latest"
    if shutil.which("debootstrap") is None:
        raise UsageError(
            f"debootstrap is needed to build {tag} with no registry "
            "(Debian/Ubuntu: apt-get install debootstrap); with a registry use "
            f"docker build -t {tag} -f {spec.dockerfile} images"
        )
    with tempfile.TemporaryDirectory(prefix="chaosdrill-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        command = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(spec.packages)}",
            DEBIAN_SUITE,
            str(rootfs),
            mirror,
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise UsageError(f"debootstrap failed building {tag}: {' '.join(tail)}")
        for path in ROOTFS_PRUNE:
            shutil.rmtree(rootfs / path, ignore_errors=True)
        archive = Path(tmp) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(str(rootfs), arcname=".")
        shutil.rmtree(rootfs, ignore_errors=True)
        with archive.open("rb") as fh:
            client.api.import_image_from_data(
                fh, repository=repository, tag=version, changes=list(spec.changes)
            )
    return client.images.get(tag).id


def build_netns_image(
    client: docker.DockerClient, tag: str = NETNS_IMAGE, mirror: str = DEBIAN_MIRROR
) -> str:
    """debootstrap a minimal Debian with the network tools and import it."""
    return build_rootfs_image(client, NETNS_ROOTFS, tag, mirror)


def build_swarm_node_image(
    client: docker.DockerClient, tag: str = SWARM_NODE_IMAGE, mirror: str = DEBIAN_MIRROR
) -> str:
    """debootstrap a minimal Debian with the Docker engine (a lab node) and import it."""
    return build_rootfs_image(client, SWARM_NODE_ROOTFS, tag, mirror)


def _ensure(client: docker.DockerClient, tag: str, build: Callable[[], str]) -> str:
    import docker.errors

    try:
        return client.images.get(tag).id
    except docker.errors.ImageNotFound:
        return build()


def ensure_netns_image(client: docker.DockerClient, tag: str = NETNS_IMAGE) -> str:
    """Build the network helper image only when it is not on the engine yet."""
    return _ensure(client, tag, lambda: build_netns_image(client, tag))


def ensure_swarm_node_image(client: docker.DockerClient, tag: str = SWARM_NODE_IMAGE) -> str:
    """Build the lab node image only when it is not on the engine yet."""
    return _ensure(client, tag, lambda: build_swarm_node_image(client, tag))
