"""Pure: which Icinga 2 object a check's result goes to, the `process-check-result` body, and what
Icinga's answer means for the sender.

Icinga's REST API (`POST /v1/actions/process-check-result`) takes `type` Service or Host, the object
by name (`service: "host!service"` or `host: "host"`), `exit_status` (services: 0-3; hosts: 0 UP,
1 DOWN), `plugin_output` without perfdata, `performance_data` as a list of Nagios perfdata strings,
`check_source`, `execution_start`/`execution_end` and optionally `ttl`. It answers 200 with
`{"results": [{"code": 200, "status": "Successfully processed ..."}]}`, 404 `No objects found.` for an
object it does not have, 403 with a result for an object whose passive checks are off, 401 for bad
credentials and 403 without results for a missing permission.
"""

from __future__ import annotations

import enum
import fnmatch
import json
from dataclasses import dataclass
from typing import Any

from watchd.core.errors import http_status_retryable
from watchd.core.model import CheckResult, State
from watchd.delivery.icinga2.settings import Icinga2Settings
from watchd.nagios.perfdata import format_perfdatum

PLACEHOLDERS = ("{check}", "{host}")
MAX_OUTPUT = 64 * 1024  # Icinga stores what it gets; a runaway plugin's output is cut here


@dataclass(frozen=True, slots=True)
class Target:
    type: str  # "Service" or "Host"
    name: str  # "web-1!load" or "web-1"

    def __str__(self) -> str:
        return f"{self.type} {self.name}"


def service_name(template: str, check: str, host: str) -> str:
    return template.replace("{check}", check).replace("{host}", host)


def target_for(settings: Icinga2Settings, watchd_host: str, check: str) -> Target | None:
    """None when the check is not forwarded (no pattern in `checks` matches it)."""
    if not any(fnmatch.fnmatchcase(check, p) for p in settings.checks):
        return None
    if check == settings.host_check:
        return Target("Host", settings.host)
    service = settings.services.get(check) or service_name(settings.service, check, watchd_host)
    return Target("Service", f"{settings.host}!{service}")


def exit_status(target: Target, state: State) -> int:
    """Services take the Nagios state; a host is UP (0) while OK or WARNING, else DOWN (1)."""
    if target.type == "Host":
        return 0 if state in (State.OK, State.WARNING) else 1
    return int(state)


def body(settings: Icinga2Settings, watchd_host: str, target: Target, r: CheckResult) -> dict[str, Any]:
    output = r.summary
    if r.long_output:
        output += "\n" + r.long_output
    if r.reason:
        output += f"\n[watchd] {r.reason}"
    out: dict[str, Any] = {
        "type": target.type,
        target.type.lower(): target.name,
        "exit_status": exit_status(target, r.state),
        "plugin_output": output[:MAX_OUTPUT],
        "performance_data": [format_perfdatum(p) for p in r.perfdata],
        "check_source": settings.check_source or watchd_host,
    }
    if r.started_at > 0:
        out["execution_start"] = r.started_at
        out["execution_end"] = r.started_at + max(r.duration_s, 0.0)
    if settings.ttl > 0:
        out["ttl"] = settings.ttl
    return out


def encode(b: dict[str, Any]) -> bytes:
    return json.dumps(b, separators=(",", ":"), allow_nan=False).encode()


class Verdict(enum.Enum):
    SENT = "sent"
    REJECTED = "rejected"  # Icinga answered and will not take it: drop it (counted, logged once)
    RETRY = "retry"  # Icinga did not answer, or not yet usefully: keep it and back off


@dataclass(frozen=True, slots=True)
class Answer:
    verdict: Verdict
    why: str = ""


def judge_answer(status: int, raw: bytes) -> Answer:
    """What an HTTP answer to process-check-result means; never raises on a strange body.

    Icinga answers per object in `results` and takes the HTTP status from that result (403 "Passive
    checks are disabled for object ..." is a refusal of this result); an answer without `results`
    (`{"error": 403, "status": "No permission ..."}`) is about the request as such."""
    results = _results(raw)
    if results:
        code = results[0].get("code")
        if code == 200:
            return Answer(Verdict.SENT)
        why = str(results[0].get("status") or f"code {code}")
        retry = isinstance(code, int | float) and http_status_retryable(int(code))
        return Answer(Verdict.RETRY if retry else Verdict.REJECTED, why)
    text = _status_text(raw)
    if status == 200:
        return Answer(Verdict.REJECTED, f"200 without results: {text or raw[:200]!r}")
    if status in (401, 403):
        # Credentials or permissions: the same for every result, so it is an outage, not one bad result.
        return Answer(Verdict.RETRY, f"HTTP {status}: {text or 'refused'}")
    if http_status_retryable(status):
        return Answer(Verdict.RETRY, f"HTTP {status}: {text or 'server error'}")
    if status == 404:
        return Answer(Verdict.REJECTED, "Icinga has no such object (define it there, passive checks on)")
    return Answer(Verdict.REJECTED, f"HTTP {status}: {text or 'rejected'}")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError:
        return None


def _results(raw: bytes) -> list[dict[str, Any]]:
    doc = _json(raw)
    items = doc.get("results") if isinstance(doc, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _status_text(raw: bytes) -> str:
    doc = _json(raw)
    status = doc.get("status") if isinstance(doc, dict) else None
    return str(status)[:300] if status else ""
