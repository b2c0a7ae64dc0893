"""Debian version ordering, as `dpkg --compare-versions` (lib/dpkg/version.c) defines it.

A version is `[epoch:]upstream[-revision]`. Epochs compare as integers; upstream and revision compare by
alternating runs of non-digits (character by character: `~` before the end of the string, the end before
letters, letters before other characters) and digits (numerically). So `1.0~rc1 < 1.0 < 1.0a < 1.0+b1`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DebVersion:
    epoch: int
    upstream: str
    revision: str

    @classmethod
    def parse(cls, text: str) -> DebVersion:
        """Split a version; ValueError when it is empty or the epoch is not a number."""
        version = text.strip()
        if not version:
            raise ValueError("empty version")
        epoch = 0
        if ":" in version:
            head, _, version = version.partition(":")
            if not head or not all(map(_digit, head)):
                raise ValueError(f"invalid epoch in version {text!r}")
            epoch = int(head)
        upstream, dash, revision = version.rpartition("-")
        if not dash:
            upstream, revision = version, ""
        if not upstream:
            raise ValueError(f"empty upstream version in {text!r}")
        return cls(epoch, upstream, revision)

    def __str__(self) -> str:
        epoch = f"{self.epoch}:" if self.epoch else ""
        revision = f"-{self.revision}" if self.revision else ""
        return f"{epoch}{self.upstream}{revision}"


def _digit(c: str) -> bool:
    return "0" <= c <= "9"  # ASCII only, as dpkg's c_isdigit: str.isdigit() accepts "²"


def _order(c: str) -> int:
    """Weight of one non-digit character; "" is the end of the string."""
    if not c or _digit(c):
        return 0
    if c.isascii() and c.isalpha():
        return ord(c)
    if c == "~":
        return -1
    return ord(c) + 256


def _verrevcmp(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        # Non-digit prefix, character by character.
        while (i < len(a) and not _digit(a[i])) or (j < len(b) and not _digit(b[j])):
            ac = _order(a[i] if i < len(a) else "")
            bc = _order(b[j] if j < len(b) else "")
            if ac != bc:
                return -1 if ac < bc else 1
            i += 1
            j += 1
        # Digit run, numerically (leading zeros do not count).
        si = i
        while i < len(a) and _digit(a[i]):
            i += 1
        sj = j
        while j < len(b) and _digit(b[j]):
            j += 1
        na = int(a[si:i] or "0")
        nb = int(b[sj:j] or "0")
        if na != nb:
            return -1 if na < nb else 1
    return 0


def compare(a: str | DebVersion, b: str | DebVersion) -> int:
    """-1, 0 or 1 as `a` sorts before, equal to or after `b` (dpkg's `lt`, `eq`, `gt`)."""
    va = a if isinstance(a, DebVersion) else DebVersion.parse(a)
    vb = b if isinstance(b, DebVersion) else DebVersion.parse(b)
    if va.epoch != vb.epoch:
        return -1 if va.epoch < vb.epoch else 1
    return _verrevcmp(va.upstream, vb.upstream) or _verrevcmp(va.revision, vb.revision)


sort_key = functools.cmp_to_key(compare)
"""`sorted(versions, key=sort_key)` orders version strings as dpkg does."""
