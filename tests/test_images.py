"""Where the Debian images come from: the host's apt sources, parsed (pure logic, sample
files in a temporary directory), and a debootstrap that checks signatures."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from chaos.errors import UsageError
from chaos.images import (
    DEBIAN_KEYRING,
    MIRROR_ENV,
    apt_sources,
    debian_mirror,
    debootstrap_command,
    host_release,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def os_release(tmp_path: Path, distribution: str, suite: str) -> Path:
    return write(tmp_path / "os-release", f'ID={distribution}\nVERSION_CODENAME="{suite}"\n')


def mirror(tmp_path: Path, distribution: str = "debian", suite: str = "bookworm") -> str:
    return debian_mirror(
        apt_dir=tmp_path / "apt", os_release=os_release(tmp_path, distribution, suite), environ={}
    )


def test_one_line_sources_with_options_comments_and_deb_src(tmp_path):
    write(
        tmp_path / "apt" / "sources.list",
        """
        # deb http://commented.example/debian bookworm main
        deb-src http://source.example/debian bookworm main
        deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://mirror.example/debian bookworm main contrib # note
        deb http://second.example/debian bookworm main
        """,
    )
    sources = apt_sources(tmp_path / "apt")
    assert [(s.uri, s.suites) for s in sources] == [
        ("http://mirror.example/debian", ("bookworm",)),
        ("http://second.example/debian", ("bookworm",)),
    ]
    assert mirror(tmp_path) == "http://mirror.example/debian"


def test_deb822_sources_skip_disabled_stanzas_and_other_suites(tmp_path):
    write(
        tmp_path / "apt" / "sources.list.d" / "debian.sources",
        """
        Types: deb
        URIs: http://disabled.example/debian
        Suites: bookworm
        Components: main
        Enabled: no

        # a comment between stanzas
        Types: deb deb-src
        URIs: http://security.example/debian-security
        Suites: bookworm-security
        Components: main

        Types: deb
        URIs: http://mirror.example/debian
          http://other.example/debian
        Suites: bookworm bookworm-updates
        Components: main
        Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
        """,
    )
    write(
        tmp_path / "apt" / "sources.list.d" / "vendor.list",
        "deb https://packages.example/apt cloud-sdk-bookworm main\n",
    )
    sources = apt_sources(tmp_path / "apt")
    assert [s.uri for s in sources] == [
        "http://security.example/debian-security",
        "http://mirror.example/debian",
        "http://other.example/debian",
        "https://packages.example/apt",
    ]
    assert mirror(tmp_path) == "http://mirror.example/debian"


def test_sources_list_comes_before_the_parts_directory_in_name_order(tmp_path):
    write(
        tmp_path / "apt" / "sources.list.d" / "b.list",
        "deb http://b.example/debian bookworm main\n",
    )
    write(
        tmp_path / "apt" / "sources.list.d" / "a.sources",
        "Types: deb\nURIs: http://a.example/debian\nSuites: bookworm\n",
    )
    assert mirror(tmp_path) == "http://a.example/debian"
    write(tmp_path / "apt" / "sources.list", "deb http://main.example/debian bookworm main\n")
    assert mirror(tmp_path) == "http://main.example/debian"


def test_the_host_suite_counts_on_a_debian_host_only(tmp_path):
    write(tmp_path / "apt" / "sources.list", "deb http://trixie.example/debian trixie main\n")
    assert mirror(tmp_path, "debian", "trixie") == "http://trixie.example/debian"
    # an Ubuntu archive does not carry Debian's releases
    with pytest.raises(UsageError, match=f"no Debian mirror for bookworm.*set {MIRROR_ENV}"):
        mirror(tmp_path, "ubuntu", "trixie")


def test_the_environment_overrides_and_is_checked(tmp_path):
    assert (
        debian_mirror(apt_dir=tmp_path, environ={MIRROR_ENV: "https://local.example/debian"})
        == "https://local.example/debian"
    )
    with pytest.raises(UsageError, match="is not a mirror URL"):
        debian_mirror(apt_dir=tmp_path, environ={MIRROR_ENV: "local.example/debian"})


def test_no_sources_at_all_is_a_clear_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no Debian mirror for bookworm in this host's apt"):
        mirror(tmp_path)


def test_host_release_reads_quoted_values(tmp_path):
    assert host_release(os_release(tmp_path, "debian", "bookworm")) == ("debian", "bookworm")
    assert host_release(tmp_path / "missing") == (None, None)


def test_debootstrap_checks_signatures_against_debians_keyring(tmp_path):
    command = debootstrap_command(("curl", "iptables"), tmp_path / "rootfs", "http://m.example/d")
    assert f"--keyring={DEBIAN_KEYRING}" in command
    assert "--force-check-gpg" in command
    assert "--include=curl,iptables" in command
    assert command[-3:] == ["bookworm", str(tmp_path / "rootfs"), "http://m.example/d"]
