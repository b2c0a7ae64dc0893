"""Opsgenie Alert API v2: one alert per incident, keyed by the incident key as the alert `alias`.

As documented at docs.opsgenie.com/docs/alert-api (Create Alert, Add Note, Acknowledge, Close, Get
Request Status), docs.opsgenie.com/docs/response (status codes) and /docs/api-rate-limiting:
`Authorization: GenieKey <key>`; base https://api.opsgenie.com (EU: https://api.eu.opsgenie.com).

    open, test   POST /v2/alerts {message <= 130, alias <= 512, description <= 15000, responders,
                 tags (<= 20 of <= 50 chars), details (string map, <= 8000 chars), entity <= 512,
                 source <= 100, priority P1..P5, user <= 100, note <= 25000}
    raised       PUT /v2/alerts/{alias}/priority?identifierType=alias {priority} (Update Alert
                 Priority: idempotent, so it goes first and a retry repeats no note), then the note
    raised, renotify, escalate, resolution_breached, update
                 POST /v2/alerts/{alias}/notes?identifierType=alias {note <= 25000, user, source}
    ack          POST /v2/alerts/{alias}/acknowledge?identifierType=alias {user, source, note}
    resolve      POST /v2/alerts/{alias}/close?identifierType=alias {user, source, note}

Valid requests are answered 202 {result: "Request will be processed", took, requestId}: Opsgenie
processes them *asynchronously*. A create with the alias of an open alert only raises its count (so
a retried create is harmless); a note, ack or close for an alias that does not exist (yet) is also
answered 202 and fails later, visible only through GET /v2/alerts/requests/{requestId} ("Alert does
not exist"). The outbox delivers a contact's rows in order, so the create is accepted before the
note; we do not poll the request status (that would hold the outbox for every page).

Failures: 400/401/402/403/404/422 are permanent (a wrong key, a disabled integration, an invalid
field); 429 (rate limited) and 5xx are retried. Opsgenie's 429 carries `X-RateLimit-State:
THROTTLED` and `X-RateLimit-Period-In-Sec` (1 or 60: which bucket overflowed), not a documented
`Retry-After`; we wait `Retry-After` when given, else the period.

A test page creates an alert with an alias of its own (`<key>-test-<op_id>`) and leaves it open: the
person closing it is the proof that paging works, and it never touches a real incident's alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from watchd.core.errors import DeliveryError
from watchd.delivery.httpcall import MAX_RETRY_AFTER, JsonApi, error_detail, parse_retry_after
from watchd.delivery.notify.messages import Message

US_URL = "https://api.opsgenie.com"
EU_URL = "https://api.eu.opsgenie.com"
LIMITS = {"message": 130, "alias": 512, "description": 15000, "entity": 512, "source": 100, "user": 100}
MAX_NOTE = 25000
MAX_TAGS, MAX_TAG = 20, 50
MAX_DETAILS_TOTAL = 8000
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
BY_STATE = {"CRITICAL": "P1", "UNKNOWN": "P2", "WARNING": "P3", "OK": "P5"}
NOTES = ("raised", "renotify", "escalate", "resolution_breached", "update")
WHO = "watchd"


@dataclass(frozen=True, slots=True)
class OpsgenieSettings:
    api_key: str  # an API integration's key
    url: str = US_URL
    responders: tuple[dict[str, str], ...] = ()  # {"type": team|user|escalation|schedule, id|name|username}
    tags: tuple[str, ...] = ()
    timeout: float = 10.0


def alias(event: str, facts: dict[str, Any], op_id: int) -> str:
    key = str(facts.get("key") or "") or f"watchd-{op_id}"
    if event == "test":
        suffix = f"-test-{op_id}"
        return key[: LIMITS["alias"] - len(suffix)] + suffix
    return key[: LIMITS["alias"]]


def priority(facts: dict[str, Any]) -> str:
    """Our P1..P4 are Opsgenie's; without one, the check state decides."""
    p = str(facts.get("priority") or "")
    return p if p in PRIORITIES else BY_STATE.get(str(facts.get("state") or ""), "P3")


def details(facts: dict[str, Any]) -> dict[str, str]:
    """Custom properties (strings only), cut to Opsgenie's 8000-character total."""
    out: dict[str, str] = {}
    used = 0
    for k in (
        "host",
        "check",
        "description",
        "state",
        "priority",
        "impact",
        "urgency",
        "ticket",
        "respond_by",
        "resolve_by",
        "ack_url",
        "resolve_url",
    ):
        v = facts.get(k)
        if v in (None, ""):
            continue
        text = str(v)
        if used + len(k) + len(text) > MAX_DETAILS_TOTAL:
            break
        out[k] = text
        used += len(k) + len(text)
    return out


def tags(settings: OpsgenieSettings, facts: dict[str, Any]) -> list[str]:
    wanted = [*settings.tags, "watchd", str(facts.get("priority") or ""), str(facts.get("state") or "")]
    out = [t[:MAX_TAG] for t in dict.fromkeys(wanted) if t]
    return out[:MAX_TAGS]


def create_body(
    settings: OpsgenieSettings, msg: Message, event: str, facts: dict[str, Any], op_id: int
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message": (msg.subject or str(facts.get("summary") or "watchd alert"))[: LIMITS["message"]],
        "alias": alias(event, facts, op_id),
        "description": msg.text[: LIMITS["description"]],
        "tags": tags(settings, facts),
        "details": details(facts),
        "entity": "/".join(str(facts[k]) for k in ("host", "check") if facts.get(k))[: LIMITS["entity"]],
        "source": WHO,
        "priority": priority(facts),
        "user": WHO,
    }
    if settings.responders:
        body["responders"] = [dict(r) for r in settings.responders]
    if event == "test":
        body["note"] = "Test page from watchd: close this alert to confirm paging works."
    return {k: v for k, v in body.items() if v not in ("", [], {})}


class OpsgenieTransport:
    """Creates, annotates, acknowledges and closes one Opsgenie alert per incident."""

    def __init__(self, settings: OpsgenieSettings) -> None:
        self.settings = settings
        self._api = JsonApi(
            settings.url,
            "opsgenie",
            {"Authorization": f"GenieKey {settings.api_key}"},
            timeout=settings.timeout,
            max_body=64 * 1024,
        )

    async def __call__(self, msg: Message, event: str, facts: dict[str, Any], op_id: int) -> None:
        name = alias(event, facts, op_id)
        if event in ("open", "test"):
            await self._post(
                "/v2/alerts", f"create {name}", create_body(self.settings, msg, event, facts, op_id)
            )
            return
        action = "notes" if event in NOTES else {"ack": "acknowledge", "resolve": "close"}.get(event)
        if action is None:
            raise DeliveryError(f"opsgenie: no alert action for watchd event {event!r}", retryable=False)
        path = f"/v2/alerts/{quote(name, safe='')}"
        if event == "raised":
            await self._post(f"{path}/priority", f"priority {name}", {"priority": priority(facts)}, "PUT")
        note = msg.text[:MAX_NOTE] or msg.subject or event
        body = {"note": note, "user": WHO, "source": WHO}  # the same three fields for all three actions
        await self._post(f"{path}/{action}", f"{action} {name}", body)

    async def _post(self, path: str, what: str, body: dict[str, Any], method: str = "POST") -> None:
        params = {"identifierType": "alias"} if path != "/v2/alerts" else None
        reply = await self._api.request(method, path, what=what, params=params, json=body, allow=(429,))
        if reply.status == 429:
            raise DeliveryError(
                f"opsgenie {what}: HTTP 429 rate limited ({reply.headers.get('x-ratelimit-reason', '?')}):"
                f" {error_detail(reply.body, b'')}",
                retryable=True,
                retry_after=throttle_wait(reply.headers),
            )

    async def close(self) -> None:
        await self._api.close()


def throttle_wait(headers: dict[str, str]) -> float | None:
    """Seconds to wait after a 429: Retry-After if sent, else the overflowed bucket's period."""
    wait = parse_retry_after(headers.get("retry-after"))
    if wait is not None:
        return wait
    period = headers.get("x-ratelimit-period-in-sec", "").strip()
    return min(float(period), MAX_RETRY_AFTER) if period.isdigit() else None
