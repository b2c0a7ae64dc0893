"""What the ticket backends share: the text a human reads, UTC timestamps, and strict option reading.

`render_text`/`render_html` turn an intent into the ticket body (the intent's own text, then a
details block); `iso_utc` is the one timestamp format on the wire. `Options` reads a backend's
config mapping the way the rest of watchd does: every key is typed, unknown keys are errors, and
secrets come only from `<name>_file` (read and stripped) or `<name>_env` (an environment variable),
never inline.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from watchd.core.errors import ParamError
from watchd.delivery.tickets import TicketIntent, TwoWay

MAX_SECRET_BYTES = 64 * 1024


def iso_utc(ts: float | None) -> str | None:
    """Epoch seconds as ISO-8601 UTC with a `Z`, to the second: `2024-05-01T12:00:00Z`."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def details(intent: TicketIntent) -> list[tuple[str, str]]:
    """The facts under every ticket text, in a fixed order; missing deadlines are left out."""
    rows = [
        ("Host", intent.host),
        ("Check", intent.check),
        ("State", intent.state),
        ("Priority", intent.priority),
        ("Changed at", iso_utc(intent.at) or ""),
    ]
    if intent.respond_by is not None:
        rows.append(("Respond by", iso_utc(intent.respond_by) or ""))
    if intent.resolve_by is not None:
        rows.append(("Resolve by", iso_utc(intent.resolve_by) or ""))
    rows.append(("Incident", f"{intent.incident_id} ({intent.key})"))
    return rows


def render_text(intent: TicketIntent) -> str:
    """The intent's body, then a signature-separated details block (plain text)."""
    width = max(len(label) for label, _ in details(intent)) + 1
    lines = [f"{label + ':':<{width}} {value}" for label, value in details(intent)]
    return intent.body.rstrip() + "\n\n-- \nwatchd\n" + "\n".join(lines) + "\n"


def op_marker(op_id: int) -> str:
    """The line that ends every comment a backend without a last-op field writes: a retry finds it
    among the ticket's comments and does not comment twice."""
    return f"[watchd op {op_id}]"


def marked_text(intent: TicketIntent) -> str:
    """`render_text` plus the op marker line."""
    return render_text(intent) + op_marker(intent.op_id) + "\n"


def has_marker(texts: list[str], op_id: int) -> bool:
    marker = op_marker(op_id)
    return any(marker in t for t in texts)


def render_html(intent: TicketIntent) -> str:
    """The same content as `render_text`, as a minimal HTML document (body kept preformatted)."""
    rows = "".join(
        f'<tr><th align="left">{html.escape(label)}</th><td>{html.escape(value)}</td></tr>'
        for label, value in details(intent)
    )
    return (
        "<!DOCTYPE html><html><body>"
        f'<pre style="white-space: pre-wrap">{html.escape(intent.body.rstrip())}</pre>'
        f"<hr><table>{rows}</table>"
        "</body></html>\n"
    )


_MISSING: Any = object()
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


class Options:
    """A strict reader for one backend's mapping: typed getters, then `done()` rejects the rest."""

    def __init__(self, raw: Mapping[str, Any], base_dir: str | None = None) -> None:
        if not isinstance(raw, Mapping):
            raise ParamError("<params>", f"expected a mapping, got {type(raw).__name__}")
        self._raw = raw
        self._read: set[str] = set()
        self._base_dir = base_dir

    def _get(self, key: str) -> Any:
        self._read.add(key)
        value = self._raw.get(key, _MISSING)
        return _MISSING if value is None else value

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self._get(key)
        if value is _MISSING:
            if required:
                raise ParamError(key, "required")
            return default
        if not isinstance(value, str):
            raise ParamError(key, f"expected a string, got {type(value).__name__}")
        if not value.strip():
            raise ParamError(key, "must not be empty")
        return value

    def required(self, key: str) -> str:
        value = self.text(key, required=True)
        assert value is not None
        return value

    def text_list(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        """A list of non-empty strings; one string is a list of one."""
        value = self._get(key)
        if value is _MISSING:
            if required:
                raise ParamError(key, "required")
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not items:
            raise ParamError(key, "expected a string or a non-empty list of strings")
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise ParamError(f"{key}[{i}]", "expected a non-empty string")
        return tuple(items)

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        value = self._get(key)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(key, f"expected an integer, got {type(value).__name__}")
        if not low <= value <= high:
            raise ParamError(key, f"must be between {low} and {high}, got {value}")
        return value

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        value = self._get(key)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParamError(key, f"expected a number, got {type(value).__name__}")
        if not low <= value <= high:
            raise ParamError(key, f"must be between {low:g} and {high:g}, got {value:g}")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            raise ParamError(key, f"expected true or false, got {type(value).__name__}")
        return value

    def mapping(self, key: str) -> Mapping[str, Any] | None:
        value = self._get(key)
        if value is _MISSING:
            return None
        if not isinstance(value, Mapping):
            raise ParamError(key, f"expected a mapping, got {type(value).__name__}")
        return value

    def path(self, key: str) -> str | None:
        """A file path; relative paths are taken from `base_dir` (the config directory)."""
        value = self.text(key)
        if value is None or self._base_dir is None:
            return value
        return os.path.join(self._base_dir, value)

    def secret(self, name: str, *, required: bool) -> str | None:
        """The secret named by `<name>_file` or `<name>_env` (exactly one); an inline `<name>` is refused."""
        if name in self._raw:
            self._read.add(name)
            raise ParamError(name, f"inline secrets are not accepted: use {name}_file or {name}_env")
        path = self.path(f"{name}_file")
        env = self.text(f"{name}_env")
        if path is not None and env is not None:
            raise ParamError(f"{name}_env", f"give {name}_file or {name}_env, not both")
        if path is not None:
            try:
                with open(path, "rb") as f:
                    value = f.read(MAX_SECRET_BYTES).decode("utf-8").strip()
            except OSError as exc:
                raise ParamError(f"{name}_file", f"cannot read {path}: {exc.strerror}") from None
            except UnicodeDecodeError:
                raise ParamError(f"{name}_file", f"{path} is not UTF-8 text") from None
            if not value:
                raise ParamError(f"{name}_file", f"{path} is empty")
            return value
        if env is not None:
            value = os.environ.get(env, "").strip()
            if not value:
                raise ParamError(f"{name}_env", f"environment variable {env} is empty or not set")
            return value
        if required:
            raise ParamError(f"{name}_file", f"required (or {name}_env)")
        return None

    def duration(self, key: str, default: float, *, low: float, high: float) -> float:
        """Seconds as a number, or a string with a unit: `90`, `30s`, `5m`, `1h`."""
        value = self._get(key)
        if value is _MISSING:
            return default
        seconds: float
        if isinstance(value, str) and value.strip()[-1:] in _UNITS:
            try:
                seconds = float(value.strip()[:-1]) * _UNITS[value.strip()[-1]]
            except ValueError:
                raise ParamError(key, f"expected a duration such as 30s, 5m or 1h, got {value!r}") from None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        else:
            raise ParamError(key, f"expected a duration such as 30s, 5m or 1h, got {value!r}")
        if not low <= seconds <= high:
            raise ParamError(key, f"must be between {low:g}s and {high:g}s, got {seconds:g}s")
        return seconds

    def two_way(self, *, poll: bool, push: bool, default_poll: float = 60.0) -> TwoWay:
        """The `two_way` mapping: `poll` (interval, 0 = off), `ack`, `resolve`, and for systems that
        can push, `secret_file`/`secret_env` for the webhook route. Absent: polling at default_poll
        (if the backend can poll), acks on, resolves off, no pushes."""
        raw = self.mapping("two_way")
        if raw is None:
            return TwoWay(poll=default_poll if poll else 0.0)
        sub = Options(raw, self._base_dir)
        try:
            interval = sub.duration("poll", default_poll if poll else 0.0, low=0.0, high=86400.0)
            if interval and not poll:
                raise ParamError("poll", "this ticket system cannot be read back; leave poll out")
            if 0 < interval < 5:
                raise ParamError("poll", "poll at most every 5s (or 0 for never)")
            ack = sub.flag("ack", True)
            resolve = sub.flag("resolve", False)
            secret = sub.secret("secret", required=False) if push else None
            sub.done()
        except ParamError as exc:
            raise ParamError(f"two_way.{exc.key}", exc.message) from None
        return TwoWay(poll=interval, ack=ack, resolve=resolve, secret=secret)

    def done(self) -> None:
        """Reject keys nobody asked for: a typo must not pass silently."""
        for key in self._raw:
            if key not in self._read:
                raise ParamError(str(key), "unknown key")
