"""Strict reading of a built-in check's parameters.

Shared by `resources` and `probes` (it lives here only because this package is the lower layer of
the two). Every getter marks its key as read; `done()` then rejects whatever is left, so a typo in a
config file is an error naming the key instead of a silently ignored option.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from watchd.core.errors import ParamError
from watchd.nagios.range import Range, Thresholds

_MISSING: Any = object()


class Params:
    """A check's type-specific keys; `prefix` names a nested mapping in error messages."""

    def __init__(self, raw: Mapping[str, Any] | None, prefix: str = "") -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ParamError(prefix.rstrip(".") or "<params>", f"expected a mapping, got {_kind(raw)}")
        for key in raw:
            if not isinstance(key, str):
                raise ParamError(f"{prefix}{key}", "keys must be strings")
        self._raw = raw
        self._prefix = prefix
        self._read: set[str] = set()

    def key(self, key: str) -> str:
        """The key as error messages spell it (with the nested prefix)."""
        return f"{self._prefix}{key}"

    def has(self, key: str) -> bool:
        return key in self._raw

    def error(self, key: str, message: str) -> ParamError:
        return ParamError(self.key(key), message)

    def _get(self, key: str) -> Any:
        self._read.add(key)
        value = self._raw.get(key, _MISSING)
        return _MISSING if value is None else value

    def raw(self, key: str) -> Any:
        """The value as given (None when absent), for shapes the typed getters do not cover."""
        value = self._get(key)
        return None if value is _MISSING else value

    def text(
        self,
        key: str,
        default: str | None = None,
        *,
        required: bool = False,
        choices: tuple[str, ...] | None = None,
    ) -> str | None:
        value = self._get(key)
        if value is _MISSING:
            if required:
                raise self.error(key, "required")
            return default
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_kind(value)}")
        if not value.strip():
            raise self.error(key, "must not be empty")
        if choices is not None and value not in choices:
            raise self.error(key, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def required_text(self, key: str, choices: tuple[str, ...] | None = None) -> str:
        value = self.text(key, required=True, choices=choices)
        assert value is not None
        return value

    def integer(self, key: str, default: int, *, min: int | None = None, max: int | None = None) -> int:
        value = self._get(key)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {_kind(value)}")
        _bounds(self, key, value, min, max)
        return value

    def number(
        self, key: str, default: float, *, min: float | None = None, max: float | None = None
    ) -> float:
        value = self._get(key)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, got {_kind(value)}")
        _bounds(self, key, value, min, max)
        return float(value)

    def optional_number(
        self, key: str, *, min: float | None = None, max: float | None = None
    ) -> float | None:
        if self._get(key) is _MISSING:
            return None
        return self.number(key, 0.0, min=min, max=max)

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_kind(value)}")
        return value

    def text_list(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """A list of non-empty strings; a single string is accepted as a list of one."""
        value = self._get(key)
        if value is _MISSING:
            return default
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise self.error(key, f"expected a list of strings, got {_kind(value)}")
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise self.error(f"{key}[{i}]", f"expected a non-empty string, got {_kind(item)}")
        return tuple(items)

    def nagios_range(self, key: str, default: str | None = None) -> Range | None:
        """A Nagios range (`10`, `10:`, `~:10`, `10:20`, `@10:20`); numbers are accepted too."""
        value = self._get(key)
        if value is _MISSING:
            value = default
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(key, f'expected a Nagios range such as "80" or "10:", got {_kind(value)}')
        try:
            return Range.parse(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def thresholds(
        self, warn_key: str, crit_key: str, warn_default: str | None = None, crit_default: str | None = None
    ) -> Thresholds:
        return Thresholds(
            self.nagios_range(warn_key, warn_default), self.nagios_range(crit_key, crit_default)
        )

    def regex(self, key: str) -> re.Pattern[str] | None:
        text = self.text(key)
        if text is None:
            return None
        try:
            return re.compile(text)
        except re.error as exc:
            raise self.error(key, f"invalid regular expression: {exc}") from None

    def mapping(self, key: str) -> Params | None:
        """A nested mapping, read with its own strict Params (call its `done()` too)."""
        value = self._get(key)
        if value is _MISSING:
            return None
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a mapping, got {_kind(value)}")
        return Params(value, prefix=f"{self.key(key)}.")

    def text_mapping(self, key: str) -> dict[str, str]:
        """A mapping of strings to strings (e.g. HTTP headers); numbers are turned into strings."""
        value = self._get(key)
        if value is _MISSING:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a mapping, got {_kind(value)}")
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(k, str) or not k:
                raise self.error(key, f"keys must be non-empty strings, got {k!r}")
            if isinstance(v, bool) or not isinstance(v, str | int | float):
                raise self.error(f"{key}.{k}", f"expected a string, got {_kind(v)}")
            out[k] = str(v)
        return out

    def done(self) -> None:
        """Reject keys nobody asked for: typos must not pass silently."""
        for key in self._raw:
            if key not in self._read:
                raise self.error(key, "unknown key")


def _bounds(p: Params, key: str, value: float, low: float | None, high: float | None) -> None:
    if low is not None and value < low:
        raise p.error(key, f"must be at least {low:g}, got {value:g}")
    if high is not None and value > high:
        raise p.error(key, f"must be at most {high:g}, got {value:g}")


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__
