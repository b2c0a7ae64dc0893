"""Pending and security updates from apt's local data, without the network and without python-apt.

Inputs, all under a root directory (`/` in production, a temp dir in tests):

    var/lib/dpkg/status                  installed packages and versions (Status: install ok installed)
    var/lib/apt/lists/*_Packages[.gz]    what each configured archive offers
    var/lib/apt/lists/*_InRelease        which archive a Packages file belongs to (Suite, Label, ...)

An installed package has an update when a newer version is offered by an archive apt would upgrade from;
it has a security update when a newer version is offered by a security archive (Suite, Codename or Label
containing "security", e.g. bookworm-security or jammy-security). Simplifications, on purpose: apt
preferences (pins) are not evaluated; archives marked NotAutomatic (experimental, backports) count only
with ButAutomaticUpgrades and only for packages installed from them; held packages are reported apart.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from watchd.plugin.lib.debversion import DebVersion, compare

_OPENERS = {"": None, ".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}
# No lz4/zstd in the standard library; apt's own helper decompresses whatever apt wrote (containers often
# keep lists as .lz4 via Acquire::GzipIndexes).
_VIA_APT_HELPER = (".lz4", ".zst")
APT_HELPER = "/usr/lib/apt/apt-helper"


def stanzas(lines: Iterable[str], wanted: frozenset[str]) -> Iterator[dict[str, str]]:
    """deb822 paragraphs, keeping only the `wanted` single-line fields (fast on 100 MB Packages files)."""
    current: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            if current:
                yield current
                current = {}
            continue
        if line[0] in " \t":
            continue  # continuation line of a multi-line field (Description, Conffiles)
        key, sep, value = line.partition(":")
        if sep and key in wanted:
            current[key] = value.strip()
    if current:
        yield current


@dataclass(frozen=True, slots=True)
class Installed:
    name: str
    arch: str
    version: DebVersion
    held: bool


def read_installed(status: Path) -> dict[tuple[str, str], Installed]:
    """Installed packages from a dpkg status file, keyed by (name, architecture)."""
    out: dict[tuple[str, str], Installed] = {}
    with status.open(encoding="utf-8", errors="replace") as fh:
        for s in stanzas(fh, frozenset({"Package", "Status", "Version", "Architecture"})):
            # Status: want flag state, e.g. "install ok installed" or "hold ok installed".
            flags = s.get("Status", "").split()
            if len(flags) != 3 or flags[2] != "installed" or "Package" not in s or "Version" not in s:
                continue
            arch = s.get("Architecture", "")
            out[(s["Package"], arch)] = Installed(
                s["Package"], arch, DebVersion.parse(s["Version"]), held=flags[0] == "hold"
            )
    return out


@dataclass(frozen=True, slots=True)
class Archive:
    """One repository suite, as its Release/InRelease file describes it."""

    name: str  # lists file prefix, e.g. deb.debian.org_debian-security_dists_bookworm-security
    origin: str = ""
    label: str = ""
    suite: str = ""
    codename: str = ""
    not_automatic: bool = False
    but_automatic_upgrades: bool = False

    @property
    def security(self) -> bool:
        text = " ".join((self.suite, self.codename, self.label, self.name)).lower()
        return "security" in text

    @property
    def display(self) -> str:
        return self.codename or self.suite or self.name


def read_release(path: Path) -> Archive:
    """Parse a Release or (clear-signed) InRelease file's first paragraph."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    if lines and lines[0].startswith("-----BEGIN PGP SIGNED MESSAGE"):
        # Drop the armor header ("Hash: ...") up to its blank line; the signature block ends the data.
        blank = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
        lines = lines[blank + 1 :]
        end = next((i for i, line in enumerate(lines) if line.startswith("-----BEGIN PGP SIGNATURE")), None)
        lines = lines[:end]
    wanted = frozenset({"Origin", "Label", "Suite", "Codename", "NotAutomatic", "ButAutomaticUpgrades"})
    fields = next(stanzas(lines, wanted), {})
    name = path.name.rsplit("_", 1)[0]
    return Archive(
        name=name,
        origin=fields.get("Origin", ""),
        label=fields.get("Label", ""),
        suite=fields.get("Suite", ""),
        codename=fields.get("Codename", ""),
        not_automatic=fields.get("NotAutomatic", "").lower() == "yes",
        but_automatic_upgrades=fields.get("ButAutomaticUpgrades", "").lower() == "yes",
    )


@dataclass(frozen=True, slots=True)
class PackageList:
    path: Path
    archive: Archive


def find_lists(lists_dir: Path) -> tuple[list[PackageList], list[str]]:
    """The Packages files and the archive each belongs to, plus notes about files that were skipped.

    apt names list files after the URI, `_` for `/`: a Packages file belongs to the Release file with the
    longest name prefix (`..._dists_bookworm-security_InRelease` owns `..._dists_bookworm-security_main_
    binary-amd64_Packages`).
    """
    releases: dict[str, Archive] = {}
    packages: list[Path] = []
    notes: list[str] = []
    for entry in sorted(lists_dir.iterdir()):
        if not entry.is_file():
            continue
        prefix, _, kind = entry.name.rpartition("_")
        if kind == "InRelease" or (kind == "Release" and prefix not in releases):
            releases[prefix] = read_release(entry)
        elif kind.startswith("Packages"):
            suffix = kind[len("Packages") :]
            if suffix in _OPENERS or (suffix in _VIA_APT_HELPER and os.access(APT_HELPER, os.X_OK)):
                packages.append(entry)
            else:
                notes.append(f"skipped {entry.name}: cannot decompress {suffix[1:]}")
    out: list[PackageList] = []
    for path in packages:
        owner = max((p for p in releases if path.name.startswith(p + "_")), key=len, default=None)
        archive = releases[owner] if owner is not None else Archive(name=path.name.rpartition("_")[0])
        out.append(PackageList(path, archive))
    return out, notes


@contextlib.contextmanager
def _open(path: Path) -> Iterator[IO[str]]:
    suffix = path.name.rpartition("_")[2][len("Packages") :]
    if suffix in _VIA_APT_HELPER:
        with subprocess.Popen(
            [APT_HELPER, "cat-file", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            encoding="utf-8",
            errors="replace",
        ) as proc:
            assert proc.stdout is not None
            yield proc.stdout
            proc.stdout.close()
        if proc.returncode:
            raise OSError(f"{APT_HELPER} cat-file {path} exited {proc.returncode}")
        return
    opener = _OPENERS[suffix]
    if opener is None:
        with path.open(encoding="utf-8", errors="replace") as fh:
            yield fh
    else:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            yield fh


@dataclass(frozen=True, slots=True)
class Update:
    name: str
    arch: str
    installed: DebVersion
    candidate: DebVersion | None  # None when only a security archive that apt would not use offers it
    candidate_from: str
    security: DebVersion | None  # newest version from a security archive, when newer than installed
    security_from: str
    held: bool


@dataclass
class Report:
    installed: int = 0
    lists: int = 0
    updates: list[Update] = field(default_factory=list)  # held packages excluded
    security: list[Update] = field(default_factory=list)  # subset of `updates`
    held: list[Update] = field(default_factory=list)  # held packages with a newer version
    notes: list[str] = field(default_factory=list)


def pending_updates(root: Path) -> Report:
    """Compare installed versions with what the configured archives offer. OSError when inputs are missing."""
    installed = read_installed(root / "var/lib/dpkg/status")
    lists, notes = find_lists(root / "var/lib/apt/lists")
    report = Report(installed=len(installed), lists=len(lists), notes=notes)
    # (name, arch) -> offers from each archive; only installed packages are kept, to stay small.
    offers: dict[tuple[str, str], list[tuple[DebVersion, Archive]]] = {}
    for plist in lists:
        with _open(plist.path) as fh:
            for s in stanzas(fh, frozenset({"Package", "Version", "Architecture"})):
                key = (s.get("Package", ""), s.get("Architecture", ""))
                if key in installed and "Version" in s:
                    offers.setdefault(key, []).append((DebVersion.parse(s["Version"]), plist.archive))
    for key in sorted(offers):
        update = _evaluate(installed[key], offers[key])
        if update is None:
            continue
        if update.held:
            report.held.append(update)
            continue
        report.updates.append(update)
        if update.security is not None:
            report.security.append(update)
    return report


def _evaluate(pkg: Installed, offers: list[tuple[DebVersion, Archive]]) -> Update | None:
    from_installed_archive = {a.name for v, a in offers if compare(v, pkg.version) == 0}
    candidate: tuple[DebVersion, Archive] | None = None
    security: tuple[DebVersion, Archive] | None = None
    for version, archive in offers:
        if compare(version, pkg.version) <= 0:
            continue
        usable = not archive.not_automatic or (
            archive.but_automatic_upgrades and archive.name in from_installed_archive
        )
        if usable and (candidate is None or compare(version, candidate[0]) > 0):
            candidate = (version, archive)
        if archive.security and (security is None or compare(version, security[0]) > 0):
            security = (version, archive)
    if candidate is None and security is None:
        return None
    return Update(
        name=pkg.name,
        arch=pkg.arch,
        installed=pkg.version,
        candidate=candidate[0] if candidate else None,
        candidate_from=candidate[1].display if candidate else "",
        security=security[0] if security else None,
        security_from=security[1].display if security else "",
        held=pkg.held,
    )
