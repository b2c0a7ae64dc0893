"""Performance data: `'label'=value[UOM];[warn];[crit];[min];[max]`, space separated.

Parsing never raises: a malformed item is skipped and counted, the others still parse.
"""

from __future__ import annotations

import math
import re

from watchd.core.model import PerfDatum

UOMS = frozenset({"", "s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c"})
_VALUE = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z%]*)$")
_PLAIN = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_THRESHOLD = re.compile(r"^@?(?:~|[+-]?[\d.eE+-]*)?(?::[+-]?[\d.eE+-]*)?$")


def parse_perfdata(text: str) -> list[PerfDatum]:
    """Parse perfdata, skipping malformed items. See `parse_perfdata_counted` for the skip count."""
    return parse_perfdata_counted(text)[0]


def parse_perfdata_counted(text: str) -> tuple[list[PerfDatum], int]:
    items: list[PerfDatum] = []
    errors = 0
    for token in _tokens(text):
        datum = _parse_item(token)
        if datum is None:
            errors += 1
        else:
            items.append(datum)
    return items, errors


def _tokens(text: str) -> list[str]:
    """Split on whitespace outside single quotes; `''` inside quotes is a literal quote."""
    tokens: list[str] = []
    buf: list[str] = []
    quoted = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quoted:
            if ch == "'":
                if i + 1 < n and text[i + 1] == "'":
                    buf.append("''")
                    i += 2
                    continue
                quoted = False
            buf.append(ch)
        elif ch == "'":
            quoted = True
            buf.append(ch)
        elif ch.isspace():
            if buf:
                tokens.append("".join(buf))
                buf = []
        else:
            buf.append(ch)
        i += 1
    if buf:
        tokens.append("".join(buf))
    return tokens


def _parse_item(token: str) -> PerfDatum | None:
    if token.startswith("'"):
        end = _closing_quote(token)
        if end < 0 or end + 1 >= len(token) or token[end + 1] != "=":
            return None
        label = token[1:end].replace("''", "'")
        rest = token[end + 2 :]
    else:
        label, eq, rest = token.partition("=")
        if not eq or "'" in label:
            return None
    if not label:
        return None
    fields = rest.split(";")
    if len(fields) > 5:
        return None
    fields += [""] * (5 - len(fields))
    raw_value, warn, crit, low, high = fields
    if raw_value == "U":
        value: float | None = None
        uom = ""
    else:
        m = _VALUE.match(raw_value)
        if not m or m.group(2) not in UOMS:
            return None
        value, uom = float(m.group(1)), m.group(2)
        if not math.isfinite(value):
            return None
    if not (_THRESHOLD.match(warn) and _THRESHOLD.match(crit)):
        return None
    try:
        lo, hi = _optional_number(low), _optional_number(high)
    except ValueError:
        return None
    return PerfDatum(label, value, uom, warn or None, crit or None, lo, hi)


def _closing_quote(token: str) -> int:
    i = 1
    while i < len(token):
        if token[i] == "'":
            if i + 1 < len(token) and token[i + 1] == "'":
                i += 2
                continue
            return i
        i += 1
    return -1


def _optional_number(text: str) -> float | None:
    """None when empty, the number when valid; ValueError when malformed."""
    if not text:
        return None
    if not _PLAIN.match(text):
        raise ValueError(text)
    return float(text)


def format_label(label: str) -> str:
    if any(c.isspace() or c in "'=" for c in label):
        return "'" + label.replace("'", "''") + "'"
    return label


def format_perfdatum(p: PerfDatum) -> str:
    value = "U" if p.value is None else f"{p.value:g}{p.uom}"
    parts = [value, p.warn or "", p.crit or "", _num(p.min), _num(p.max)]
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return f"{format_label(p.label)}={';'.join(parts)}"


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:g}"
