"""Sizes and durations as people type and read them."""

from __future__ import annotations

import re

_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTP]?)(?:i?B)?\s*$", re.IGNORECASE)
_MAX_SIZE = 1024**6  # an exbibyte: more than any disk, file or log read
_POWERS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}


def parse_size(text: str) -> int:
    """`"1M"` -> 1048576. Suffixes K, M, G, T, P (optionally `B`/`iB`) are powers of 1024, as in `du -h`."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"invalid size {text[:40]!r} (expected e.g. 512, 10K, 1M, 2G)")
    size = float(m.group(1)) * 1024 ** _POWERS[m.group(2).upper()]  # float() of digits is inf at worst
    if size > _MAX_SIZE:
        raise ValueError(f"size {text[:40]!r} is too large (at most 1024P)")
    return int(size)


def format_size(n: float) -> str:
    """1536 -> `"1.5 KiB"`; bytes below 1 KiB stay exact."""
    if abs(n) < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if abs(n) < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} PiB"


def format_age(seconds: float) -> str:
    """A short human age: `"45 s"`, `"12 min"`, `"5.2 h"`, `"3.1 d"`."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
