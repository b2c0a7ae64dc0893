"""Finding the newest file among a glob's matches or in a directory tree (backups, marker files)."""

from __future__ import annotations

import fnmatch
import glob
import os
import stat
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    mtime: float
    size: int


@dataclass
class Found:
    newest: FileInfo | None = None
    count: int = 0
    errors: list[str] = field(default_factory=list)  # unreadable directories or vanished files


def _consider(found: Found, path: str) -> None:
    try:
        st = os.stat(path)  # follows symlinks: a "latest.sql.gz" link counts as its target
    except OSError as exc:
        found.errors.append(f"{path}: {exc.strerror}")
        return
    if not stat.S_ISREG(st.st_mode):
        return
    found.count += 1
    if found.newest is None or st.st_mtime > found.newest.mtime:
        found.newest = FileInfo(path, st.st_mtime, st.st_size)


def newest_by_glob(pattern: str) -> Found:
    """Regular files matching a shell glob (`**` recurses); dot files only when the pattern says so."""
    found = Found()
    for path in glob.iglob(pattern, recursive=True):
        _consider(found, path)
    return found


def newest_in_tree(top: str, name: str | None = None) -> Found:
    """Regular files anywhere under `top` (symlinked directories are not followed), optionally by name."""
    found = Found()

    def onerror(exc: OSError) -> None:
        found.errors.append(f"{exc.filename}: {exc.strerror}")

    for dirpath, _dirnames, filenames in os.walk(top, onerror=onerror):
        for filename in filenames:
            if name is None or fnmatch.fnmatchcase(filename, name):
                _consider(found, os.path.join(dirpath, filename))
    return found
