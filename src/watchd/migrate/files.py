"""The file walking shared by the importers: read text, list a directory, keep file:line for errors."""

from __future__ import annotations

import os

from watchd.migrate.model import Finding, Origin


def read_text(path: str, origin: Origin | None, problems: list[Finding]) -> str | None:
    """A file's text (undecodable bytes replaced), or None with a finding that names who referred to it."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as exc:
        problems.append(Finding(origin, path, f"cannot read: {exc.strerror}"))
        return None


def files_in(directory: str, suffix: str, origin: Origin | None, problems: list[Finding]) -> list[str]:
    """Files ending in `suffix` below `directory`, recursively, hidden ones skipped, in name order."""
    out: list[str] = []
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        problems.append(Finding(origin, directory, f"cannot list: {exc.strerror}"))
        return out
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            out.extend(files_in(entry.path, suffix, origin, problems))
        elif entry.is_file() and entry.name.endswith(suffix) and len(entry.name) > len(suffix):
            out.append(entry.path)
    return out


def relative_to(base_file: str, path: str) -> str:
    """A path named in a config file: relative ones are relative to that file's directory."""
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(base_file)), path))
