"""check_apt_updates: pending and security updates from a fake dpkg status and apt lists."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from checkhelpers import RunCheck

from watchd.core.model import State
from watchd.plugin.lib.apt import Archive, find_lists, pending_updates, read_release, stanzas

STATUS = """\
Package: openssl
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 3.0.11-1~deb12u1
Description: Secure Sockets Layer toolkit
 This package is part of the OpenSSL project.
 .
 Version: 9.9 inside a description must not count.

Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u3

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1

Package: curl
Status: install ok installed
Architecture: amd64
Version: 7.88.1-10+deb12u5

Package: nginx
Status: hold ok installed
Architecture: amd64
Version: 1.22.1-9

Package: removed-pkg
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: epochpkg
Status: install ok installed
Architecture: amd64
Version: 2:1.0-1

Package: rcpkg
Status: install ok installed
Architecture: amd64
Version: 1.0~rc1-1

Package: local-only
Status: install ok installed
Architecture: amd64
Version: 0.1

Package: i386lib
Status: install ok installed
Architecture: i386
Version: 1.0-1
"""

MAIN = """\
Package: openssl
Version: 3.0.11-1~deb12u1
Architecture: amd64

Package: libc6
Version: 2.36-9+deb12u4
Architecture: amd64

Package: tzdata
Version: 2024a-0+deb12u1
Architecture: all

Package: curl
Version: 7.88.1-10+deb12u5
Architecture: amd64

Package: nginx
Version: 1.22.1-9+deb12u1
Architecture: amd64

Package: removed-pkg
Version: 2.0-1
Architecture: amd64

Package: epochpkg
Version: 1:9.9-1
Architecture: amd64

Package: rcpkg
Version: 1.0-1
Architecture: amd64

Package: i386lib
Version: 9.0-1
Architecture: amd64
"""

SECURITY = """\
Package: openssl
Version: 3.0.11-1~deb12u2
Architecture: amd64

Package: tzdata
Version: 2024a-0+deb12u1
Architecture: all

Package: nginx
Version: 1.22.1-9+deb12u2
Architecture: amd64
"""

UPDATES = """\
Package: tzdata
Version: 2025b-0+deb12u1
Architecture: all
"""

BACKPORTS = """\
Package: curl
Version: 8.14.1-2~bpo12+1
Architecture: amd64
"""

INRELEASE = """\
-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA512

Origin: Debian
Label: {label}
Suite: {suite}
Codename: {codename}
Date: Sat, 10 Feb 2024 10:00:00 UTC
{extra}Architectures: amd64 arm64
Components: main
SHA256:
 0123456789abcdef 1234 main/binary-amd64/Packages
-----BEGIN PGP SIGNATURE-----

iQIzBAEBCgAdFiEE
-----END PGP SIGNATURE-----
"""

DEB = "deb.debian.org_debian_dists_"
SEC = "deb.debian.org_debian-security_dists_"


def make_root(tmp_path: Path, security: bool = True) -> Path:
    root = tmp_path / "root"
    (root / "var/lib/dpkg").mkdir(parents=True)
    lists = root / "var/lib/apt/lists"
    (lists / "partial").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(STATUS)

    def release(
        prefix: str, label: str, suite: str, codename: str, extra: str = "", signed: bool = True
    ) -> None:
        text = INRELEASE.format(label=label, suite=suite, codename=codename, extra=extra)
        if signed:
            (lists / f"{prefix}_InRelease").write_text(text)
        else:  # a plain Release file: just the paragraph
            body = text.split("\n\n", 1)[1].split("-----BEGIN PGP SIGNATURE")[0]
            (lists / f"{prefix}_Release").write_text(body)

    release(DEB + "bookworm", "Debian", "stable", "bookworm")
    (lists / f"{DEB}bookworm_main_binary-amd64_Packages").write_text(MAIN)
    release(DEB + "bookworm-updates", "Debian", "stable-updates", "bookworm-updates", signed=False)
    with gzip.open(lists / f"{DEB}bookworm-updates_main_binary-amd64_Packages.gz", "wt") as fh:
        fh.write(UPDATES)
    release(
        DEB + "bookworm-backports",
        "Debian Backports",
        "stable-backports",
        "bookworm-backports",
        extra="NotAutomatic: yes\nButAutomaticUpgrades: yes\n",
    )
    (lists / f"{DEB}bookworm-backports_main_binary-amd64_Packages").write_text(BACKPORTS)
    if security:
        release(SEC + "bookworm-security", "Debian-Security", "stable-security", "bookworm-security")
        (lists / f"{SEC}bookworm-security_main_binary-amd64_Packages").write_text(SECURITY)
    return root


def test_security_update_is_critical_by_default(tmp_path: Path, run_check: RunCheck) -> None:
    """Any pending security update is CRITICAL; counts, perfdata and long output name the packages."""
    run = run_check("check_apt_updates", "--root", make_root(tmp_path))
    assert run.state is State.CRITICAL
    # libc6 (point release), tzdata (updates, gz list), openssl (security), rcpkg (1.0~rc1 < 1.0).
    assert run.value("updates") == 4
    assert run.value("security_updates") == 1
    assert run.summary == "APT CRITICAL - 4 updates pending, 1 security (openssl), 1 held"
    assert (
        "security: openssl:amd64 3.0.11-1~deb12u1 -> 3.0.11-1~deb12u2 (bookworm-security)" in run.long_output
    )
    assert "held: nginx:amd64 1.22.1-9 -> 1.22.1-9+deb12u2 (bookworm-security)" in run.long_output
    assert run.perf["security_updates"].crit == "0"


def test_thresholds_on_counts(tmp_path: Path, run_check: RunCheck) -> None:
    """-w/-c apply to all updates, --security-* to security ones."""
    root = make_root(tmp_path)
    run = run_check("check_apt_updates", "--root", root, "--security-critical", "5", "-w", "3")
    assert run.state is State.WARNING
    run = run_check("check_apt_updates", "--root", root, "--security-critical", "5", "-w", "10", "-c", "20")
    assert run.state is State.OK
    assert run.perf["updates"].warn == "10"


def test_no_security_archive(tmp_path: Path, run_check: RunCheck) -> None:
    """Without a security list only regular updates remain, which alert only when asked to."""
    run = run_check("check_apt_updates", "--root", make_root(tmp_path, security=False))
    assert run.state is State.OK
    assert run.value("updates") == 3
    assert run.value("security_updates") == 0
    assert run.summary == "APT OK - 3 updates pending, 0 security, 1 held"
    assert "held: nginx:amd64 1.22.1-9 -> 1.22.1-9+deb12u1 (bookworm)" in run.long_output


def test_missing_inputs_are_unknown(tmp_path: Path, run_check: RunCheck) -> None:
    """No dpkg status or no lists at all: the check cannot tell, so UNKNOWN."""
    run = run_check("check_apt_updates", "--root", tmp_path)
    assert run.state is State.UNKNOWN
    assert "cannot read apt/dpkg data" in run.summary
    root = make_root(tmp_path)
    for f in (root / "var/lib/apt/lists").glob("*Packages*"):
        f.unlink()
    run = run_check("check_apt_updates", "--root", root)
    assert run.state is State.UNKNOWN
    assert "run apt-get update" in run.summary


def test_bad_arguments(run_check: RunCheck) -> None:
    """An invalid range exits 3 with usage."""
    run = run_check("check_apt_updates", "--security-critical", "x")
    assert run.state is State.UNKNOWN
    assert "usage: check_apt_updates" in run.stdout


def test_backports_only_for_packages_installed_from_there(tmp_path: Path) -> None:
    """A NotAutomatic archive upgrades only packages installed from it, not those from elsewhere."""
    root = make_root(tmp_path)
    report = pending_updates(root)
    assert "curl" not in {u.name for u in report.updates}
    status = root / "var/lib/dpkg/status"
    status.write_text(status.read_text().replace("7.88.1-10+deb12u5", "8.0-1~bpo12+1"))
    (root / "var/lib/apt/lists" / f"{DEB}bookworm-backports_main_binary-amd64_Packages").write_text(
        BACKPORTS + "\nPackage: curl\nVersion: 8.0-1~bpo12+1\nArchitecture: amd64\n"
    )
    curl = next(u for u in pending_updates(root).updates if u.name == "curl")
    assert (str(curl.candidate), curl.candidate_from) == ("8.14.1-2~bpo12+1", "bookworm-backports")


def test_security_fix_superseded_by_point_release_still_counts(tmp_path: Path) -> None:
    """A newer version in main does not hide that a security fix newer than the installed one exists."""
    root = make_root(tmp_path)
    lists = root / "var/lib/apt/lists"
    main = lists / f"{DEB}bookworm_main_binary-amd64_Packages"
    main.write_text(main.read_text().replace("3.0.11-1~deb12u1", "3.0.11-1~deb12u3", 1))
    openssl = next(u for u in pending_updates(root).security if u.name == "openssl")
    assert str(openssl.candidate) == "3.0.11-1~deb12u3"
    assert str(openssl.security) == "3.0.11-1~deb12u2"


def test_stanzas_skip_continuation_lines() -> None:
    """Only top-level fields are read: a 'Version:' inside a Description continuation is ignored."""
    paragraphs = list(stanzas(STATUS.splitlines(keepends=True), frozenset({"Package", "Version"})))
    assert paragraphs[0] == {"Package": "openssl", "Version": "3.0.11-1~deb12u1"}
    assert len(paragraphs) == 10


def test_read_release_strips_signature(tmp_path: Path) -> None:
    """A clear-signed InRelease is read past its armor header; the signature is not a field."""
    path = tmp_path / f"{SEC}bookworm-security_InRelease"
    path.write_text(
        INRELEASE.format(
            label="Debian-Security", suite="stable-security", codename="bookworm-security", extra=""
        )
    )
    archive = read_release(path)
    assert archive == Archive(
        name=f"{SEC}bookworm-security",
        origin="Debian",
        label="Debian-Security",
        suite="stable-security",
        codename="bookworm-security",
    )
    assert archive.security


@pytest.mark.parametrize(
    ("archive", "security"),
    [
        (Archive(name="x", suite="jammy-security", label="Ubuntu"), True),
        (Archive(name="x", suite="stable-security"), True),
        (Archive(name="security.debian.org_debian-security_dists_buster_updates"), True),
        (Archive(name="x", suite="jammy-updates", label="Ubuntu"), False),
        (Archive(name="x", suite="stable", codename="bookworm", label="Debian"), False),
    ],
    ids=["ubuntu pocket", "debian suite", "by list file name", "ubuntu updates", "debian main"],
)
def test_security_classification(archive: Archive, security: bool) -> None:
    """An archive is a security one by its Suite, Codename, Label or list file name."""
    assert archive.security is security


def test_lists_belong_to_longest_release_prefix(tmp_path: Path) -> None:
    """bookworm-security's Packages belongs to bookworm-security's Release, not bookworm's."""
    lists, notes = find_lists(make_root(tmp_path) / "var/lib/apt/lists")
    owners = {p.path.name: p.archive.codename for p in lists}
    assert owners[f"{SEC}bookworm-security_main_binary-amd64_Packages"] == "bookworm-security"
    assert owners[f"{DEB}bookworm-updates_main_binary-amd64_Packages.gz"] == "bookworm-updates"
    assert owners[f"{DEB}bookworm_main_binary-amd64_Packages"] == "bookworm"
    assert notes == []
