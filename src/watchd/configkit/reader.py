"""A small typed reader over YAML mappings that collects every problem instead of stopping at the first.

r = Reader(mapping, "checks.load", problems)
interval = r.get("interval", duration, default=60.0)
r.finish()   # any key not read is reported as unknown
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from watchd.configkit.yamlfile import LineDict
from watchd.core import timespec
from watchd.core.errors import Problem
from watchd.core.model import State

T = TypeVar("T")
_MISSING: Any = object()
REQUIRED: Any = object()


class Reader:
    def __init__(
        self, data: Any, path: str, problems: list[Problem], file: str = "?", line: int | None = None
    ) -> None:
        """`line`: where the value was written, for values that do not know it (lists, scalars)."""
        self.path = path
        self.problems = problems
        self.file = getattr(data, "file", file)
        self.ok = isinstance(data, dict)
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        self._line: int | None = getattr(data, "line", None) or line
        self._read: set[str] = set()
        if not self.ok and data is not None:
            self.problem(None, f"must be a mapping, not {kind(data)}")

    def key_path(self, key: str | None) -> str:
        if key is None:
            return self.path
        return f"{self.path}.{key}" if self.path else key

    def line(self, key: str | None) -> int | None:
        """The line of `key`; for a key that is missing (required), the line of its mapping."""
        if key is not None and isinstance(self.data, LineDict) and key in self.data.lines:
            return self.data.lines[key]
        return self._line

    def problem(self, key: str | None, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(self.file, self.key_path(key), message, line or self.line(key)))

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, conv: Callable[[Any], T], default: Any = REQUIRED) -> T:
        """Convert data[key]; on a bad or missing value record a problem and return the default."""
        self._read.add(key)
        if key not in self.data or (self.data[key] is None and default is not REQUIRED):
            if default is REQUIRED:
                self.problem(key, "is required")
                return _MISSING  # type: ignore[no-any-return]
            return default  # type: ignore[no-any-return]
        try:
            return conv(self.data[key])
        except (ValueError, TypeError, ArithmeticError) as exc:  # a converter's overflow is bad input too
            self.problem(key, str(exc))
            return default if default is not REQUIRED else _MISSING  # type: ignore[no-any-return]

    def raw(self, key: str) -> Any:
        self._read.add(key)
        return self.data.get(key)

    def child(self, key: str) -> Reader:
        self._read.add(key)
        return Reader(self.data.get(key), self.key_path(key), self.problems, self.file, self.line(key))

    def names(self, allowed: Collection[str] | None = None, message: str | None = None) -> list[str]:
        """The keys of a mapping whose keys are names (checks, contacts, priorities), all marked read.
        With `allowed`, any other key is reported (`message`, default "expected one of ...") and left out."""
        out = []
        for key in list(self.data):
            self._read.add(key)
            if allowed is not None and key not in allowed:
                self.problem(key, message or f"expected one of {', '.join(allowed)}")
                continue
            out.append(str(key))
        return out

    def mark_read(self, *keys: str) -> None:
        self._read.update(keys)

    def unread(self) -> list[str]:
        return [k for k in self.data if k not in self._read]

    def finish(self) -> None:
        for key in self.unread():
            self.problem(key, "unknown key")


# -- converters: raise ValueError with a message that reads well after "key.path: " -------------------


def kind(value: Any) -> str:
    """What a YAML value is, in the words of the config reference."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    return type(value).__name__


def shown(value: Any, limit: int = 40) -> str:
    """A value for an error message: repr of text, digits of numbers, cut to `limit` characters."""
    try:
        text = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else repr(value)
    except ValueError:  # an int beyond Python's 4300-digit conversion limit
        return "a number too long to show"
    return text if len(text) <= limit else text[:limit] + "…"


def duration(value: Any) -> float:
    """Seconds from a number or a string like "30s", "5m", "2h", "1d": positive, finite, at most 366
    days. The grammar and bounds are core.timespec's, the same for config, API, CLI and MQTT."""
    return timespec.span(value)


def positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected a positive integer, not {value!r}")
    return value


def number(value: Any) -> float:
    """A finite number (YAML's .inf and .nan, and ints too large for a float, are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, not {shown(value)}")
    try:
        out = float(value)
    except OverflowError:
        out = math.inf
    if not math.isfinite(out):
        raise ValueError(f"expected a finite number, not {shown(value)}")
    return out


def string(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a string, not {kind(value)}")
    return str(value)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, not {value!r}")
    return value


def state(value: Any) -> State:
    return State.parse(str(value))


def string_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise ValueError(f"expected a list of strings, not {kind(value)}")
    return tuple(string(v) for v in value)


def string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping of strings, not {kind(value)}")
    return {str(k): string(v) for k, v in value.items()}


def member_list(names: tuple[str, ...], what: str) -> Callable[[Any], tuple[str, ...]]:
    """A list whose items must be among `names` (e.g. configured ticket backends)."""

    def conv(value: Any) -> tuple[str, ...]:
        items = string_list(value)
        for item in items:
            if item not in names:
                raise ValueError(f"unknown {what} {item!r} (configured: {', '.join(names)})")
        return items

    return conv


def timezone(value: Any) -> str:
    """An IANA time zone name, e.g. Europe/Berlin."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {shown(value)}") from None
    return str(value)


def one_of(*choices: str) -> Callable[[Any], str]:
    def conv(value: Any) -> str:
        text = str(value).lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, not {value!r}")
        return text

    return conv


def weekdays(value: Any) -> frozenset[int]:
    """mon-fri, "sat,sun", [mon, wed-fri], fri-mon (wrapping round the week); 0 is Monday."""
    from watchd.core.businesshours import parse_days

    days = parse_days(string_list(value))
    if not days:
        raise ValueError("expected weekdays like mon-fri")
    return days
