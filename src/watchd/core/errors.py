"""Exceptions that cross module boundaries.

    WatchdError
    ├── ConfigError        one or more config problems, each with file, line, key path and message
    ├── ParamError         a built-in source's parameters are wrong (raised by source factories,
    │                      turned into ConfigError problems by `config`)
    └── DeliveryError      an outbox delivery (ticket, notification) failed; `retryable` says whether
                           to back off and retry or to fail the row and raise an alert

A check that cannot run is never an exception: it is an UNKNOWN/CRITICAL CheckResult with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass


class WatchdError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    path: str  # dotted key path, e.g. "checks.load.interval"
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        return f"{where}: {self.path or '<top>'}: {self.message}"


class ConfigError(WatchdError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ParamError(WatchdError):
    """Raised by a source factory: `key` is relative to the check's own mapping."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


class DeliveryError(WatchdError):
    """An outbox delivery failed. `retryable` decides between backoff-and-retry and a permanent failure
    that is surfaced (alert) instead of retried forever. `retry_after` (seconds) is the wait the far
    side asked for (HTTP 429/503 `Retry-After`): the outbox waits at least that long."""

    def __init__(self, reason: str, retryable: bool = True, retry_after: float | None = None) -> None:
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(reason)


def http_status_retryable(status: int) -> bool:
    """One rule for every HTTP backend: 5xx, 408 and 429 are worth retrying; other 4xx are not."""
    return status >= 500 or status in (408, 429)
