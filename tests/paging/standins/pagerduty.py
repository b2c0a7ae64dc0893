"""PagerDuty Events API v2, as documented at developer.pagerduty.com (docs/events-API-v2/
02-Trigger-Events.md "Send an Alert Event", 01-Overview.md "Response Codes & Retry Logic",
05-Rate-Limits.md), plus the V3 webhook PagerDuty sends back (docs/webhooks/01-Overview.md,
04-Signatures.md).

POST /v2/enqueue takes {routing_key (32 characters), event_action: trigger|acknowledge|resolve,
dedup_key (<= 255), payload {summary <= 1024, source, severity, timestamp, component, group, class,
custom_details}, images, links, client, client_url} and answers 202 {status: "success", message:
"Event processed", dedup_key}, or 400 {status: "invalid event", message: "Event object is invalid",
errors: [...]}. Alerts are de-duplicated by dedup_key while open: a trigger for an open alert only adds
to its log; acknowledge/resolve of a key with no open alert are dropped (still 202); a trigger after
the resolve opens a new incident. `ack`/`resolve` play the person in PagerDuty and return the signed
V3 webhook PagerDuty would POST to watchd.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from servers.http import serve

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"  # 32 characters, like a real integration key
WEBHOOK_SECRET = "pd-webhook-secret"
SEVERITIES = {"critical", "error", "warning", "info"}
ACTIONS = {"trigger", "acknowledge", "resolve"}
TOP_KEYS = {"routing_key", "event_action", "dedup_key", "payload", "images", "links", "client", "client_url"}
PAYLOAD_KEYS = {"summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"}
MAX_EVENT = 512 * 1024


@dataclass
class Incident:
    number: int
    dedup_key: str
    status: str  # triggered, acknowledged, resolved
    summary: str
    severity: str
    payload: dict[str, Any]
    links: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # event actions applied, in order
    acked_by: str | None = None

    @property
    def id(self) -> str:
        return f"PINC{self.number:03d}"


class PagerDutyStandIn:
    def __init__(self) -> None:
        self.url = ""  # the enqueue URL once started
        self.routing_keys = {ROUTING_KEY}
        self.incidents: list[Incident] = []
        self.seen: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.dropped: list[tuple[str, str]] = []  # (event_action, dedup_key) with no open alert
        self.throttle_next = 0
        self.retry_after: str | None = None  # the Events API documents 429 without Retry-After
        self.fail_next = 0
        self._numbers = itertools.count(1)
        self._runner: web.AppRunner | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=4 * MAX_EVENT)
        app.router.add_post("/v2/enqueue", self.enqueue)
        self._runner, base = await serve(app)
        self.url = f"{base}/v2/enqueue"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- queries for tests ------------------------------------------------------------------------

    def by_key(self, key: str) -> list[Incident]:
        return [i for i in self.incidents if i.dedup_key == key]

    def open_incident(self, key: str) -> Incident | None:
        return next((i for i in self.by_key(key) if i.status != "resolved"), None)

    # -- the API ----------------------------------------------------------------------------------

    @staticmethod
    def invalid(*errors: str) -> web.Response:
        return web.json_response(
            {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)},
            status=400,
        )

    def violation(self, text: str) -> None:
        self.violations.append(text)

    async def enqueue(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.seen.append({"headers": dict(request.headers), "body": body})
        if self.throttle_next > 0:
            self.throttle_next -= 1
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return web.json_response(
                {
                    "status": "throttle event",
                    "message": "Requests for this service are arriving too quickly.",
                },
                status=429,
                headers=headers,
            )
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.json_response({"status": "error", "message": "internal error"}, status=500)
        if request.content_type != "application/json":
            self.violation(f"Content-Type {request.content_type!r}, not application/json")
        if len(raw) > MAX_EVENT:
            self.violation(f"event of {len(raw)} bytes, over 512 KB")
            return self.invalid("Event is too large")
        if not isinstance(body, dict):
            self.violation("body is not a JSON object")
            return self.invalid("Event object is not valid JSON")
        errors = self.check(body)
        if errors:
            self.violations.extend(errors)
            return self.invalid(*errors)
        if body["routing_key"] not in self.routing_keys:
            return self.invalid("Invalid routing key")  # a configuration error, not a client bug
        key = body.get("dedup_key") or uuid.uuid4().hex
        self.apply(body["event_action"], key, body)
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": key}, status=202
        )

    def check(self, body: dict[str, Any]) -> list[str]:
        """Everything the documentation says about an event, as error texts."""
        errors = [f"unknown field {k!r}" for k in body if k not in TOP_KEYS]
        key = body.get("routing_key")
        if not isinstance(key, str) or len(key) != 32:
            errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
        action = body.get("event_action")
        if action not in ACTIONS:
            errors.append(f"'event_action' is invalid (must be one of {sorted(ACTIONS)})")
        dedup = body.get("dedup_key")
        if dedup is not None and (not isinstance(dedup, str) or not dedup or len(dedup) > 255):
            errors.append("'dedup_key' must be a string of 1 to 255 characters")
        if action in ("acknowledge", "resolve"):
            if dedup is None:
                errors.append(f"'dedup_key' is required for {action}")
            extra = set(body) - {"routing_key", "event_action", "dedup_key"}
            if extra:
                errors.append(f"{action} events carry no {sorted(extra)}")
            return errors
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "'payload' is required for trigger events"]
        errors += [f"unknown payload field {k!r}" for k in payload if k not in PAYLOAD_KEYS]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) > 1024:
            errors.append("'payload.summary' must be a string of 1 to 1024 characters")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            errors.append("'payload.source' is required")
        if payload.get("severity") not in SEVERITIES:
            errors.append(f"'payload.severity' must be one of {sorted(SEVERITIES)}")
        if "timestamp" in payload:
            try:
                datetime.fromisoformat(str(payload["timestamp"]).replace("Z", "+00:00"))
            except ValueError:
                errors.append("'payload.timestamp' is not an ISO 8601 timestamp")
        for k in ("component", "group", "class"):
            if k in payload and not isinstance(payload[k], str):
                errors.append(f"'payload.{k}' must be a string")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            errors.append("'payload.custom_details' must be an object")
        for link in body.get("links", []) if isinstance(body.get("links", []), list) else [None]:
            if (
                not isinstance(link, dict)
                or not isinstance(link.get("href"), str)
                or set(link) - {"href", "text"}
            ):
                errors.append(f"a link needs href (and may have text): {link!r}")
        for image in body.get("images", []) if isinstance(body.get("images", []), list) else [None]:
            if not isinstance(image, dict) or not str(image.get("src", "")).startswith("https://"):
                errors.append(f"an image needs an https src: {image!r}")
        for k in ("client", "client_url"):
            if k in body and not isinstance(body[k], str):
                errors.append(f"'{k}' must be a string")
        return errors

    def apply(self, action: str, key: str, body: dict[str, Any]) -> None:
        open_ = self.open_incident(key)
        if action == "trigger":
            payload = body["payload"]
            if open_ is None:
                open_ = Incident(
                    next(self._numbers),
                    key,
                    "triggered",
                    payload["summary"],
                    payload["severity"],
                    payload,
                    list(body.get("links", [])),
                )
                self.incidents.append(open_)
            else:  # de-duplicated: the open alert is updated, no new incident
                open_.summary, open_.severity, open_.payload = (
                    payload["summary"],
                    payload["severity"],
                    payload,
                )
            open_.log.append("trigger")
        elif open_ is None:
            self.dropped.append((action, key))
        else:
            open_.log.append(action)
            open_.status = "acknowledged" if action == "acknowledge" else "resolved"

    # -- the person in PagerDuty, and the webhook it sends back -------------------------------------

    def person(
        self, key: str, action: str, who: str, secret: str = WEBHOOK_SECRET
    ) -> tuple[bytes, dict[str, str]]:
        """Ack or resolve the open incident with `key` as user `who`; the V3 webhook body and headers."""
        inc = self.open_incident(key)
        assert inc is not None, f"no open incident for {key}"
        inc.status = "acknowledged" if action == "acknowledge" else "resolved"
        inc.acked_by = who
        event_type = "incident.acknowledged" if action == "acknowledge" else "incident.resolved"
        return self.webhook(inc, event_type, who, secret)

    def webhook(self, inc: Incident, event_type: str, who: str, secret: str) -> tuple[bytes, dict[str, str]]:
        event = {
            "event": {
                "id": str(uuid.uuid4()),
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "agent": {
                    "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
                    "id": "PLH1HKV",
                    "self": "https://api.pagerduty.com/users/PLH1HKV",
                    "summary": who,
                    "type": "user_reference",
                },
                "client": {"name": "PagerDuty"},
                "data": {
                    "id": inc.id,
                    "type": "incident",
                    "self": f"https://api.pagerduty.com/incidents/{inc.id}",
                    "html_url": f"https://acme.pagerduty.com/incidents/{inc.id}",
                    "number": inc.number,
                    "status": inc.status,
                    "incident_key": inc.dedup_key,
                    "created_at": "2020-04-09T15:16:27Z",
                    "title": inc.summary,
                    "service": {"id": "PF9KMXH", "summary": "API Service", "type": "service_reference"},
                    "urgency": "high",
                    "resolve_reason": None,
                },
            }
        }
        body = json.dumps(event).encode()
        sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-PagerDuty-Signature": f"v1={sig}",
            "X-Webhook-Id": str(uuid.uuid4()),
        }
        return body, headers
