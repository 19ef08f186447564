"""Images chaosdrill needs, built locally with no registry.

``chaosdrill/busybox`` is a static busybox (``sh``, ``httpd``, ``wget``,
``nc``, ``kill``...) on an empty base. It is the helper image for
``container.crash`` and the base of the demo stack. The build context is made
in memory from the host's busybox binary (Debian: ``busybox-static``), so it
works on a machine that cannot reach any registry.

``chaosdrill/netns-helper`` is a minimal Debian with iptables, iproute2 (tc)
and curl: network faults run it inside a target's network namespace, and
watchdogs use it to call the engine. It is made with ``debootstrap`` (root
needed) and imported, so no registry is needed either; with a registry,
``chaosdrill images dockerfile netns-helper | docker build -t chaosdrill/netns-helper:1 -``
gives the same image.
``debootstrap`` checks every package's signature against Debian's archive
keyring, and takes its mirror from this host's own apt configuration (the
first Debian source of the suite), or from ``$CHAOSDRILL_DEBIAN_MIRROR``.

``chaosdrill/fault-helper`` is the same kind of Debian with Python (the
proxy behind the ``proxy.*`` and ``http.*`` faults), stress-ng (the ``stress.*``
faults), iptables and procps: fault helpers run it in a target's namespaces
or cgroup.

``chaosdrill/swarm-node`` is the same kind of Debian with the Docker engine
(``docker.io``): the nodes of the Swarm lab (``chaosdrill lab up``) are
containers of it, each running its own ``dockerd``. One builder,
:func:`build_rootfs_image`, makes both Debian images from a
:class:`RootfsImage` description; the Dockerfiles that ship with the package
(:mod:`chaos.bundled`, ``images/*.Dockerfile`` in the repository) are the
registry equivalents.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.errors import UsageError

if TYPE_CHECKING:
    import docker

BUSYBOX_IMAGE = "chaosdrill/busybox:1"
NETNS_IMAGE = "chaosdrill/netns-helper:1"  # the default of Runtime.netns_image
NETNS_PACKAGES = ("iptables", "iproute2", "curl", "ca-certificates", "procps")
FAULT_HELPER_IMAGE = "chaosdrill/fault-helper:1"
FAULT_HELPER_PACKAGES = ("python3", "stress-ng", "iptables", "iproute2", "procps")
SWARM_NODE_IMAGE = "chaosdrill/swarm-node:1"  # the nodes of `chaosdrill lab`
SWARM_NODE_PACKAGES = ("docker.io", "iptables", "iproute2", "procps", "ca-certificates", "curl")
DEBIAN_SUITE = "bookworm"
MIRROR_ENV = "CHAOSDRILL_DEBIAN_MIRROR"
"""A Debian mirror URL for debootstrap, instead of the one in the host's apt sources."""
APT_DIR = Path("/etc/apt")
OS_RELEASE = Path("/etc/os-release")
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
MIRROR_SCHEMES = ("http://", "https://", "file:/")
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

    ``dockerfile`` names the equivalent build for machines with a registry (one
    of :data:`chaos.bundled.DOCKERFILES`, printed by ``chaosdrill images
    dockerfile NAME``), named in the error when ``debootstrap`` is missing.
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
    dockerfile="netns-helper",
)
FAULT_HELPER_ROOTFS = RootfsImage(
    tag=FAULT_HELPER_IMAGE,
    packages=FAULT_HELPER_PACKAGES,
    changes=('CMD ["sleep", "infinity"]', "LABEL chaosdrill.image=fault-helper"),
    dockerfile="fault-helper",
)
SWARM_NODE_ROOTFS = RootfsImage(
    tag=SWARM_NODE_IMAGE,
    packages=SWARM_NODE_PACKAGES,
    # No VOLUME /var/lib/docker: watchdogs run this image for its docker CLI, and
    # each run would leave an anonymous volume. Lab nodes mount a named one.
    changes=('CMD ["dockerd"]', "LABEL chaosdrill.image=swarm-node"),
    dockerfile="swarm-node",
)
ROOTFS_PRUNE = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man")


@dataclass(frozen=True)
class AptSource:
    """One ``deb`` source of the host's apt configuration."""

    uri: str
    suites: tuple[str, ...]
    origin: str
    """The file it was read from."""


def apt_sources(apt_dir: Path = APT_DIR) -> list[AptSource]:
    """The ``deb`` sources of ``sources.list``, ``sources.list.d/*.list`` (one-line
    format) and ``sources.list.d/*.sources`` (deb822), in apt's order. Unreadable
    files and malformed lines are skipped."""
    files = [apt_dir / "sources.list"]
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files += sorted(
            p for p in parts.iterdir() if p.suffix in (".list", ".sources") and p.is_file()
        )
    found: list[AptSource] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        parse = _deb822_sources if path.suffix == ".sources" else _one_line_sources
        found += [AptSource(uri, suites, str(path)) for uri, suites in parse(text)]
    return found


def _one_line_sources(text: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """``deb [options] URI SUITE [COMPONENT...]`` lines."""
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):  # options: [arch=amd64 signed-by=...]
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            yield words[0], (words[1],)


def _deb822_sources(text: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Stanzas of ``Types:``, ``URIs:``, ``Suites:`` (``Enabled: no`` skipped)."""
    for stanza in _deb822_stanzas(text):
        if stanza.get("enabled", "yes").strip().lower() == "no":
            continue
        if "deb" not in stanza.get("types", "").split():
            continue
        suites = tuple(stanza.get("suites", "").split())
        for uri in stanza.get("uris", "").split():
            if suites:
                yield uri, suites


def _deb822_stanzas(text: str) -> Iterator[dict[str, str]]:
    fields: dict[str, str] = {}
    last: str | None = None
    for raw in [*text.splitlines(), ""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if fields:
                yield fields
            fields, last = {}, None
            continue
        if raw[0] in " \t" and last is not None:  # a continuation line
            fields[last] += " " + raw.strip()
            continue
        name, sep, value = raw.partition(":")
        if sep:
            last = name.strip().lower()
            fields[last] = value.strip()


def host_release(os_release: Path = OS_RELEASE) -> tuple[str | None, str | None]:
    """This host's distribution id and suite (``debian``, ``bookworm``), if it says."""
    values: dict[str, str] = {}
    try:
        text = os_release.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None, None
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip("\"'")
    return values.get("ID"), values.get("VERSION_CODENAME")


def debian_mirror(
    suite: str = DEBIAN_SUITE,
    *,
    apt_dir: Path = APT_DIR,
    os_release: Path = OS_RELEASE,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The mirror debootstrap uses: ``$CHAOSDRILL_DEBIAN_MIRROR``, else the first ``deb``
    source of the host's apt configuration whose suites include ``suite`` (or, on a
    Debian host, the host's own suite: a Debian mirror carries every release).
    UsageError, saying how to set one, when there is none."""
    env = os.environ if environ is None else environ
    given = env.get(MIRROR_ENV, "").strip()
    if given:
        if not given.startswith(MIRROR_SCHEMES):
            raise UsageError(
                f"{MIRROR_ENV}={given!r} is not a mirror URL (http://, https:// or file:/)"
            )
        return given
    distribution, host_suite = host_release(os_release)
    wanted = {suite}
    if distribution == "debian" and host_suite:
        wanted.add(host_suite)
    for source in apt_sources(apt_dir):
        if wanted & set(source.suites) and source.uri.startswith(MIRROR_SCHEMES):
            return source.uri
    raise UsageError(
        f"no Debian mirror for {suite} in this host's apt sources ({apt_dir}/sources.list, "
        f"{apt_dir}/sources.list.d); set {MIRROR_ENV} to a Debian mirror URL"
    )


def debootstrap_command(packages: tuple[str, ...], rootfs: Path, mirror: str) -> list[str]:
    """debootstrap of a minimal Debian that checks every signature against Debian's keyring."""
    return [
        "debootstrap",
        "--variant=minbase",
        f"--keyring={DEBIAN_KEYRING}",
        "--force-check-gpg",
        f"--include={','.join(packages)}",
        DEBIAN_SUITE,
        str(rootfs),
        mirror,
    ]


def build_rootfs_image(
    client: docker.DockerClient,
    spec: RootfsImage,
    tag: str | None = None,
    mirror: str | None = None,
) -> str:
    """debootstrap a minimal Debian with ``spec.packages``, import it, return its id.

    ``mirror`` defaults to :func:`debian_mirror`."""
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
            f"`chaosdrill images dockerfile {spec.dockerfile} | docker build -t {tag} -`"
        )
    if not DEBIAN_KEYRING.is_file():
        raise UsageError(
            f"{DEBIAN_KEYRING} is needed to check the packages of {tag} "
            "(Debian/Ubuntu: apt-get install debian-archive-keyring)"
        )
    mirror = mirror or debian_mirror()
    with tempfile.TemporaryDirectory(prefix="chaosdrill-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        command = debootstrap_command(spec.packages, rootfs, mirror)
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise UsageError(f"debootstrap from {mirror} failed building {tag}: {' '.join(tail)}")
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
    client: docker.DockerClient, tag: str = NETNS_IMAGE, mirror: str | None = None
) -> str:
    """debootstrap a minimal Debian with the network tools and import it."""
    return build_rootfs_image(client, NETNS_ROOTFS, tag, mirror)


def build_fault_helper_image(
    client: docker.DockerClient, tag: str = FAULT_HELPER_IMAGE, mirror: str | None = None
) -> str:
    """debootstrap a minimal Debian with Python, stress-ng and iptables and import it."""
    return build_rootfs_image(client, FAULT_HELPER_ROOTFS, tag, mirror)


def build_swarm_node_image(
    client: docker.DockerClient, tag: str = SWARM_NODE_IMAGE, mirror: str | None = None
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


def ensure_fault_helper_image(client: docker.DockerClient, tag: str = FAULT_HELPER_IMAGE) -> str:
    """Build the fault helper image (proxy, stress-ng) only when it is not on the engine yet."""
    return _ensure(client, tag, lambda: build_fault_helper_image(client, tag))


def ensure_swarm_node_image(client: docker.DockerClient, tag: str = SWARM_NODE_IMAGE) -> str:
    """Build the lab node image only when it is not on the engine yet."""
    return _ensure(client, tag, lambda: build_swarm_node_image(client, tag))
