"""What an import produces, whatever the source format: checks, macros, contacts, calendars, findings."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, order=True)
class Origin:
    """Where an object was defined."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(slots=True)
class Check:
    name: str
    command: tuple[str, ...]  # argv in watchd syntax: `$NAME$` macros, `$$` for a literal dollar
    origin: Origin
    description: str = ""
    interval: float | None = None  # None: watchd's default
    retry_interval: float | None = None
    max_attempts: int | None = None
    timeout: float | None = None
    timeout_state: str | None = None  # None: watchd's default (CRITICAL)
    enabled: bool = True
    flap_detection: bool | None = None
    flap_low: float | None = None
    flap_high: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    notify: tuple[str, ...] | None = None  # contacts; None: watchd's notify.default
    comments: list[str] = field(default_factory=list)  # written above the check


@dataclass(frozen=True, slots=True)
class Macro:
    name: str
    value: str
    origin: Origin
    comment: str = ""


@dataclass(frozen=True, slots=True)
class ContactOut:
    name: str
    origin: Origin
    display_name: str = ""
    email: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CalendarOut:
    name: str
    origin: Origin
    days: tuple[str, ...]  # mon..sun
    hours: str  # "09:00-17:00"
    holidays: tuple[dt.date, ...] = ()
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """Something the import could not translate (`skipped`), or translated with a difference (a note)."""

    origin: Origin | None
    subject: str  # the object: "service localhost/HTTP", "command[check_foo]"
    message: str
    skipped: bool = True

    def __str__(self) -> str:
        where = f"{self.origin}: " if self.origin else ""
        what = "not translated" if self.skipped else "note"
        return f"{where}{self.subject}: {what}: {self.message}"


OUTCOMES = ("imported", "not translatable", "not needed")


@dataclass(slots=True)
class Migration:
    source: str  # "nagios", "icinga2", "nrpe"
    inputs: tuple[str, ...] = ()
    host: str | None = None  # the host whose services were imported (--host), None: every host
    checks: list[Check] = field(default_factory=list)
    macros: dict[str, Macro] = field(default_factory=dict)
    contacts: list[ContactOut] = field(default_factory=list)
    calendars: list[CalendarOut] = field(default_factory=list)
    renotify_interval: float | None = None
    hosts: list[str] = field(default_factory=list)  # every host of the source, for a file per host
    timezone: str | None = None  # the source's own time zone setting (nagios.cfg use_timezone)
    findings: list[Finding] = field(default_factory=list)
    # object kind -> outcome -> count; "not needed": templates, unused commands, notification commands
    counts: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, kind: str, outcome: str, n: int = 1) -> None:
        assert outcome in OUTCOMES
        self.counts.setdefault(kind, Counter())[outcome] += n

    def skip(self, origin: Origin | None, subject: str, message: str) -> None:
        self.findings.append(Finding(origin, subject, message, skipped=True))

    def note(self, origin: Origin | None, subject: str, message: str) -> None:
        self.findings.append(Finding(origin, subject, message, skipped=False))

    def totals(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for c in self.counts.values():
            out.update(c)
        return out
