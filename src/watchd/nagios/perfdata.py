"""Performance data: `'label'=value[UOM];[warn];[crit];[min];[max]`, space separated.

Read as Icinga 2 reads it (Nagios Core 4 passes perfdata on unparsed): the unit of measurement is whatever
letters, `%`, `/` or `°` follow the number, kept as written (dBm, EUR, req/s, °C); numbers may have a sign
and an exponent. Parsing never raises, and one bad item never costs its neighbours:

- an item whose label or value cannot be read is skipped, and the tokenizer resumes at the next space
  (an unclosed quote does not swallow the rest of the line);
- an item whose warn, crit, min or max cannot be read is kept without that field (Icinga 2 does the same;
  warn and crit are ranges or plain numbers, min and max plain numbers).

Both are reported (`PerfdataReading.skipped`, `.trimmed`) so the check result can say so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from watchd.core.model import PerfDatum
from watchd.nagios.range import Range

_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_VALUE = re.compile(rf"({_NUMBER})(.*)", re.DOTALL)
_PLAIN = re.compile(_NUMBER)
_UOM_SIGNS = frozenset("%/°")
# Items are separated by ASCII whitespace (what plugins write); a label with any of it must be quoted.
_SPACE = frozenset(" \t\n\r\f\v")
_SHOWN = 3  # offending items quoted in a result's reason


@dataclass(frozen=True, slots=True)
class PerfdataReading:
    items: tuple[PerfDatum, ...]
    skipped: tuple[str, ...] = ()  # items whose label or value could not be read
    trimmed: tuple[str, ...] = ()  # items kept without a warn/crit/min/max that could not be read

    @property
    def errors(self) -> int:
        return len(self.skipped) + len(self.trimmed)

    def reason(self) -> str | None:
        """What went wrong, quoting the first few items, for a check result's reason; None if nothing."""
        parts = []
        if self.skipped:
            parts.append(f"{len(self.skipped)} malformed perfdata item(s) skipped: {_quote(self.skipped)}")
        if self.trimmed:
            parts.append(
                f"{len(self.trimmed)} perfdata item(s) kept without unreadable fields: {_quote(self.trimmed)}"
            )
        return "; ".join(parts) or None


def read_perfdata(text: str) -> PerfdataReading:
    """Every item of a perfdata string, and what could not be read. Never raises."""
    items: list[PerfDatum] = []
    skipped: list[str] = []
    trimmed: list[str] = []
    for token, datum, complete in _items(text):
        if datum is None:
            skipped.append(token)
            continue
        items.append(datum)
        if not complete:
            trimmed.append(token)
    return PerfdataReading(tuple(items), tuple(skipped), tuple(trimmed))


def parse_perfdata(text: str) -> list[PerfDatum]:
    """The readable items of a perfdata string. Never raises."""
    return list(read_perfdata(text).items)


def parse_perfdata_counted(text: str) -> tuple[list[PerfDatum], int]:
    """The readable items and how many items were malformed (skipped, or kept without a bad field)."""
    reading = read_perfdata(text)
    return list(reading.items), reading.errors


def _items(text: str) -> Iterator[tuple[str, PerfDatum | None, bool]]:
    """Each token, parsed. Tokens end at whitespace, except inside a quoted label (`'...'=`, with `''` for
    a quote). A quoted label that runs over whitespace must make a whole, valid item; if it does not, its
    quote was a stray one (`'oops a=1`): that token ends at the next whitespace and cannot swallow the
    items after it."""
    i, n = 0, len(text)
    while i < n:
        if text[i] in _SPACE:
            i += 1
            continue
        start = i
        end = _label_end(text, i) if text[i] == "'" else -1
        if end >= 0:
            i = _word_end(text, end + 1)
            token = text[start:i]
            datum, complete = _parse_item(token)
            if (datum is not None and complete) or not any(c in _SPACE for c in text[start:end]):
                yield token, datum, complete
                continue
        i = _word_end(text, start)
        token = text[start:i]
        yield (token, *_parse_item(token))


def _word_end(text: str, i: int) -> int:
    while i < len(text) and text[i] not in _SPACE:
        i += 1
    return i


def _label_end(text: str, start: int) -> int:
    """Index of the quote that closes the quoted label opened at `start` (it must be followed by `=`);
    -1 if there is none."""
    i, n = start + 1, len(text)
    while i < n:
        if text[i] == "'":
            if i + 1 < n and text[i + 1] == "'":
                i += 2
                continue
            return i if i + 1 < n and text[i + 1] == "=" else -1
        i += 1
    return -1


def _parse_item(token: str) -> tuple[PerfDatum | None, bool]:
    """The item, or None if its label or value is unreadable; and whether every field could be read."""
    if token.startswith("'"):
        end = _label_end(token, 0)
        if end < 0:
            return None, False
        label, rest = token[1:end].replace("''", "'"), token[end + 2 :]
    else:
        label, eq, rest = token.partition("=")
        if not eq or "'" in label:
            return None, False
    if not label:
        return None, False
    raw_value, *fields = rest.split(";")
    complete = not any(fields[4:])  # a trailing ';' is harmless, a sixth value is dropped
    fields = (fields + [""] * 4)[:4]
    if raw_value == "U":
        value: float | None = None
        uom = ""
    else:
        m = _VALUE.fullmatch(raw_value)
        if m is None or not all(c.isalpha() or c in _UOM_SIGNS for c in m.group(2)):
            return None, False
        value, uom = float(m.group(1)), m.group(2)
        if not math.isfinite(value):
            return None, False
    warn, crit = (_range_text(f) for f in fields[:2])
    low, high = (_plain(f) for f in fields[2:])
    for raw, got in zip(fields, (warn, crit, low, high), strict=True):
        if raw and got is None:
            complete = False
    return PerfDatum(label, value, uom, warn, crit, low, high), complete


def _range_text(text: str) -> str | None:
    """The threshold as written if it is a range or a plain number, else None. A plain number is kept even
    where the range syntax would refuse it (`-10` is 0:-10): Icinga 2 reads warn and crit as numbers."""
    if not text:
        return None
    if _plain(text) is not None:
        return text
    try:
        Range.parse(text)
    except ValueError:
        return None
    return text


def _plain(text: str) -> float | None:
    """A finite plain number (min/max), else None."""
    if not _PLAIN.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _quote(tokens: tuple[str, ...]) -> str:
    shown = ", ".join(repr(t if len(t) <= 40 else t[:40] + "\u2026") for t in tokens[:_SHOWN])
    return shown + (", \u2026" if len(tokens) > _SHOWN else "")


def format_label(label: str) -> str:
    if label.startswith("'") or any(c in _SPACE or c in "'=" for c in label):
        return "'" + label.replace("'", "''") + "'"
    return label


def format_number(v: float) -> str:
    """Exact and plain where it can be: integral values without a fraction or exponent, others as the
    shortest text that reads back to the same float (`:g` would print 1234567 as 1.23457e+06)."""
    if v == int(v) and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


def format_perfdatum(p: PerfDatum) -> str:
    """One item as plugins write it; a non-finite value is written as `U` (unknown)."""
    finite = p.value is not None and math.isfinite(p.value)
    value = f"{format_number(p.value)}{p.uom}" if finite and p.value is not None else "U"
    parts = [value, p.warn or "", p.crit or "", _num(p.min), _num(p.max)]
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return f"{format_label(p.label)}={';'.join(parts)}"


def _num(v: float | None) -> str:
    return "" if v is None or not math.isfinite(v) else format_number(v)
