"""PagerDuty Events API v2: one alert per incident, keyed by the incident key as `dedup_key`.

As documented at developer.pagerduty.com, "Send an Alert Event" (docs/events-API-v2/02-Trigger-Events.md)
and "Events API v2 Overview" (response codes and retry logic):
POST https://events.pagerduty.com/v2/enqueue with {routing_key, event_action: trigger|acknowledge|resolve,
dedup_key (<= 255 chars), payload: {summary (<= 1024), source, severity: critical|error|warning|info,
timestamp, component, group, class, custom_details}, links, client, client_url}. Answers: 202
{status: "success", message, dedup_key}; 400 {status: "invalid event", message, errors: [...]} (not
worth retrying); 429 and 5xx (retry after some time). The Events API does not document a
`Retry-After` on 429 (its rate-limit page suggests waiting ~30 s); one is honoured when sent, otherwise
the outbox's own backoff applies.

Every watchd event except ack and resolve is a `trigger` with the same dedup_key: PagerDuty adds it
to the open alert's log (no second incident, no new notification while it is acknowledged), so a
retried delivery is harmless. Once the alert is resolved in PagerDuty a later trigger opens a new
incident there, which is right: watchd still sees a problem.

A test page gets a dedup_key of its own (`<key>-test-<op_id>`, stable across retries) so that acking
it never touches a real incident, and it is *not* resolved right after: resolving at once could stop
the very notification being tested (PagerDuty's auto-pause of transient alerts holds alerts that
resolve within minutes), and the person acking it is the proof the path works.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from watchd.core.errors import DeliveryError
from watchd.delivery.httpcall import JsonApi
from watchd.delivery.notify.messages import Message

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
MAX_DETAIL = 8192  # the whole event may be 512 KB; a check's long output does not need that
SEVERITIES = ("critical", "error", "warning", "info")
BY_PRIORITY = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}
BY_STATE = {"CRITICAL": "critical", "UNKNOWN": "error", "WARNING": "warning", "OK": "info"}
TRIGGERS = ("open", "raised", "renotify", "escalate", "resolution_breached", "update", "test")
ACTIONS = {"ack": "acknowledge", "resolve": "resolve"} | {e: "trigger" for e in TRIGGERS}


@dataclass(frozen=True, slots=True)
class PagerDutySettings:
    routing_key: str  # the 32-character integration key of an Events API v2 integration
    url: str = EVENTS_URL
    timeout: float = 10.0
    source: str = ""  # payload.source; empty: the incident's host


def severity(facts: dict[str, Any]) -> str:
    """PagerDuty severity from the incident priority, else from the check state."""
    return BY_PRIORITY.get(str(facts.get("priority") or "")) or BY_STATE.get(
        str(facts.get("state") or ""), "error"
    )


def dedup_key(event: str, facts: dict[str, Any], op_id: int) -> str:
    key = str(facts.get("key") or "") or f"watchd-{op_id}"
    if event == "test":
        suffix = f"-test-{op_id}"
        return key[: MAX_DEDUP_KEY - len(suffix)] + suffix
    return key[:MAX_DEDUP_KEY]


def iso(ts: Any) -> str | None:
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def event_body(
    settings: PagerDutySettings, msg: Message, event: str, facts: dict[str, Any], op_id: int
) -> dict[str, Any]:
    """The Events API v2 document for one watchd event."""
    action = ACTIONS.get(event)
    if action is None:
        raise DeliveryError(f"pagerduty: no event action for watchd event {event!r}", retryable=False)
    body: dict[str, Any] = {
        "routing_key": settings.routing_key,
        "event_action": action,
        "dedup_key": dedup_key(event, facts, op_id),
    }
    if action != "trigger":
        return body  # acknowledge and resolve carry nothing else
    summary = msg.subject or str(facts.get("summary") or facts.get("key") or "watchd alert")
    details = {
        k: v
        for k, v in {
            "event": event,
            "priority": facts.get("priority"),
            "state": facts.get("state"),
            "impact": facts.get("impact"),
            "urgency": facts.get("urgency"),
            "opened_at": iso(facts.get("opened_at")),
            "respond_by": iso(facts.get("respond_by")),
            "resolve_by": iso(facts.get("resolve_by")),
            "acked_by": facts.get("acked_by"),
            "ticket": facts.get("ticket"),
            "why": facts.get("why"),
            "detail": str(facts.get("detail") or "")[:MAX_DETAIL],
            "text": msg.text[:MAX_DETAIL],
        }.items()
        if v not in (None, "")
    }
    payload: dict[str, Any] = {
        "summary": summary[:MAX_SUMMARY],
        "source": settings.source or str(facts.get("host") or "") or "watchd",
        "severity": severity(facts),
        "timestamp": iso(facts.get("at")) or datetime.now(UTC).isoformat(timespec="seconds"),
        "custom_details": details,
    }
    if facts.get("check"):
        payload["component"] = str(facts["check"])
    if facts.get("description"):
        payload["class"] = str(facts["description"])
    if facts.get("group"):
        payload["group"] = str(facts["group"])
    body["payload"] = payload
    body["client"] = "watchd"
    links = [
        {"href": str(facts[k]), "text": text}
        for k, text in (("ack_url", "Acknowledge in watchd"), ("resolve_url", "Resolve in watchd"))
        if facts.get(k)
    ]
    if links:
        body["links"] = links
        body["client_url"] = links[0]["href"]
    return body


class PagerDutyTransport:
    """Sends each watchd event as one Events API v2 event; a keep-alive session, closed by the daemon."""

    def __init__(self, settings: PagerDutySettings) -> None:
        self.settings = settings
        self._api = JsonApi(settings.url, "pagerduty", {}, timeout=settings.timeout, max_body=64 * 1024)

    async def __call__(self, msg: Message, event: str, facts: dict[str, Any], op_id: int) -> None:
        body = event_body(self.settings, msg, event, facts, op_id)
        # 4xx other than 408/429 are permanent (400: the event is invalid, e.g. a wrong routing key),
        # 429/5xx retryable with the server's Retry-After: JsonApi.request's shared rule.
        await self._api.request("POST", "", what=f"{body['event_action']} {body['dedup_key']}", json=body)

    async def close(self) -> None:
        await self._api.close()
