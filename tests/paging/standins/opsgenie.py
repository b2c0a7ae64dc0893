"""Opsgenie Alert API v2, as documented at docs.opsgenie.com/docs/alert-api (Create Alert, Add Note,
Acknowledge Alert, Close Alert, Get Request Status), /docs/response (status codes, the {result, took,
requestId} envelope) and /docs/api-rate-limiting (429 with X-RateLimit-State, X-RateLimit-Reason,
X-RateLimit-Period-In-Sec); and the outgoing Webhook integration's payload.

Field limits checked: message 1..130, alias 512, description 15000, responders (type team|user|
escalation|schedule; users by id or username, the rest by id or name), visibleTo, actions 10 x 50,
tags 20 x 50, details a string map of <= 8000 characters, entity 512, source 100, priority P1..P5,
user 100, note 25000. Actions on an alert take identifierType=id|alias|tiny (default id).

Requests are processed as Opsgenie does, asynchronously: every valid request is answered 202 and its
outcome ("Created alert", "Alert does not exist", ...) is kept for GET /v2/alerts/requests/{id}. A
create whose alias names an open alert only raises its count. `person` plays the responder in
Opsgenie and returns the webhook POST that the Webhook integration would send to watchd.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from servers.http import serve

API_KEY = "eb243592-faa2-4ba2-a551-1afdf565c889"
WEBHOOK_TOKEN = "og-webhook-token"
PRIORITIES = {"P1", "P2", "P3", "P4", "P5"}
RESPONDER_TYPES = {"team", "user", "escalation", "schedule"}
LIMITS = {
    "message": 130,
    "alias": 512,
    "description": 15000,
    "entity": 512,
    "source": 100,
    "user": 100,
    "note": 25000,
}
CREATE_KEYS = {*LIMITS, "responders", "visibleTo", "actions", "tags", "details", "priority"}
ACTION_KEYS = {"user", "source", "note"}


@dataclass
class Alert:
    id: str
    tiny_id: str
    alias: str
    message: str
    priority: str
    body: dict[str, Any]
    status: str = "open"  # open, closed
    acknowledged: bool = False
    count: int = 1
    notes: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    owner: str = ""


class OpsgenieStandIn:
    def __init__(self) -> None:
        self.url = ""
        self.api_keys = {API_KEY}
        self.alerts: list[Alert] = []
        self.requests: dict[str, dict[str, Any]] = {}
        self.seen: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.throttle_next = 0
        self.retry_after: str | None = None  # not documented by Opsgenie; a test may ask for one
        self.period = "60"
        self.fail_next = 0
        self._tiny = itertools.count(1)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(middlewares=[self.middleware])
        app.router.add_post("/v2/alerts", self.create)
        app.router.add_post("/v2/alerts/{identifier}/notes", self.note)
        app.router.add_post("/v2/alerts/{identifier}/acknowledge", self.acknowledge)
        app.router.add_post("/v2/alerts/{identifier}/close", self.close)
        app.router.add_put("/v2/alerts/{identifier}/priority", self.set_priority)
        app.router.add_get("/v2/alerts/requests/{request_id}", self.request_status)
        self._runner, self.url = await serve(app)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- queries for tests ------------------------------------------------------------------------

    def by_alias(self, alias: str) -> list[Alert]:
        return [a for a in self.alerts if a.alias == alias]

    def open_alert(self, alias: str) -> Alert | None:
        return next((a for a in self.by_alias(alias) if a.status == "open"), None)

    # -- shared -----------------------------------------------------------------------------------

    def violation(self, text: str) -> None:
        self.violations.append(text)

    @staticmethod
    def answer(status: int, **fields: Any) -> web.Response:
        return web.json_response({**fields, "took": 0.01, "requestId": str(uuid.uuid4())}, status=status)

    def unprocessable(self, errors: dict[str, str]) -> web.Response:
        self.violations.extend(f"{k}: {v}" for k, v in errors.items())
        return self.answer(
            422, message="Request body is not processable. Please check the errors.", errors=errors
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.seen.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "body": body,
            }
        )
        if self.throttle_next > 0:
            self.throttle_next -= 1
            headers = {
                "X-RateLimit-State": "THROTTLED",
                "X-RateLimit-Reason": "INTEGRATION",
                "X-RateLimit-Period-In-Sec": self.period,
            }
            if self.retry_after is not None:
                headers["Retry-After"] = self.retry_after
            response = self.answer(429, message="TooManyRequests")
            response.headers.update(headers)
            return response
        if self.fail_next > 0:
            self.fail_next -= 1
            return self.answer(500, message="Internal Server Error")
        auth = request.headers.get("Authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme != "GenieKey":
            self.violation(f"Authorization scheme {scheme!r}, not GenieKey")
        if scheme != "GenieKey" or key not in self.api_keys:
            return self.answer(401, message="Could not authenticate")
        if request.method == "POST":
            if request.content_type != "application/json":
                self.violation(f"{request.path}: Content-Type {request.content_type!r}")
            if not isinstance(body, dict):
                self.violation(f"{request.path}: body is not a JSON object")
                return self.answer(400, message="Invalid JSON body")
        return await handler(request)

    def accepted(self, action: str, ok: bool, status: str, alert: Alert | None, alias: str) -> web.Response:
        request_id = str(uuid.uuid4())
        self.requests[request_id] = {
            "success": ok,
            "action": action,
            "isSuccess": ok,
            "status": status,
            "alertId": alert.id if alert else "",
            "alias": alert.alias if alert else alias,
            "processedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        return web.json_response(
            {"result": "Request will be processed", "took": 0.02, "requestId": request_id}, status=202
        )

    # -- Create Alert -----------------------------------------------------------------------------

    def check_responders(self, field_name: str, value: Any) -> dict[str, str]:
        if not isinstance(value, list):
            return {field_name: "must be a list"}
        if len(value) > 50:
            return {field_name: "at most 50"}
        for r in value:
            if not isinstance(r, dict) or r.get("type") not in RESPONDER_TYPES:
                return {field_name: f"invalid responder {r!r}"}
            names = ("id", "username") if r["type"] == "user" else ("id", "name")
            given = [k for k in r if k != "type"]
            if len(given) != 1 or given[0] not in names or not isinstance(r[given[0]], str):
                return {field_name: f"a {r['type']} responder needs one of {names}: {r!r}"}
        return {}

    def check_create(self, body: dict[str, Any]) -> dict[str, str]:
        errors = {k: "unknown field" for k in body if k not in CREATE_KEYS}
        message = body.get("message")
        if not isinstance(message, str) or not message.strip():
            errors["message"] = "Message can not be empty."
        for k, limit in LIMITS.items():
            if k in body and (not isinstance(body[k], str) or len(body[k]) > limit):
                errors[k] = f"must be a string of at most {limit} characters"
        if "priority" in body and body["priority"] not in PRIORITIES:
            errors["priority"] = "must be one of P1..P5"
        for k in ("responders", "visibleTo"):
            if k in body:
                errors.update(self.check_responders(k, body[k]))
        for k, count in (("tags", 20), ("actions", 10)):
            v = body.get(k, [])
            if (
                not isinstance(v, list)
                or len(v) > count
                or any(not isinstance(t, str) or len(t) > 50 for t in v)
            ):
                errors[k] = f"at most {count} strings of at most 50 characters"
        details = body.get("details", {})
        if not isinstance(details, dict) or any(not isinstance(v, str) for v in details.values()):
            errors["details"] = "must be a map of strings"
        elif sum(len(k) + len(v) for k, v in details.items()) > 8000:
            errors["details"] = "at most 8000 characters in total"
        return errors

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()  # the middleware made sure it is a JSON object
        errors = self.check_create(body)
        if errors:
            return self.unprocessable(errors)
        alias = body.get("alias") or str(uuid.uuid4())
        alert = self.open_alert(alias)
        if alert is not None:  # de-duplicated: the open alert's count goes up, nothing else
            alert.count += 1
            alert.log.append("create (deduplicated)")
            return self.accepted("Create", True, "Alert deduplicated", alert, alias)
        alert = Alert(
            str(uuid.uuid4()), str(next(self._tiny)), alias, body["message"], body.get("priority", "P3"), body
        )
        alert.log.append("create")
        if body.get("note"):
            alert.notes.append(body["note"])
        self.alerts.append(alert)
        return self.accepted("Create", True, "Created alert", alert, alias)

    # -- actions on an alert ----------------------------------------------------------------------

    def target(self, request: web.Request) -> tuple[str, Alert | None]:
        identifier = request.match_info["identifier"]
        kind = request.query.get("identifierType", "id")
        if kind not in ("id", "alias", "tiny"):
            self.violation(f"identifierType {kind!r}")
        for a in reversed(self.alerts):
            if (
                (kind == "id" and a.id == identifier)
                or (kind == "alias" and a.alias == identifier and a.status == "open")
                or (kind == "tiny" and a.tiny_id == identifier)
            ):
                return identifier, a
        return identifier, None

    def check_action(self, body: dict[str, Any], note_required: bool) -> dict[str, str]:
        errors = {k: "unknown field" for k in body if k not in ACTION_KEYS}
        for k in ACTION_KEYS & set(body):
            if not isinstance(body[k], str) or len(body[k]) > LIMITS[k]:
                errors[k] = f"must be a string of at most {LIMITS[k]} characters"
        if note_required and not (isinstance(body.get("note"), str) and body["note"].strip()):
            errors["note"] = "Note can not be empty."
        return errors

    async def act(self, request: web.Request, action: str) -> web.Response:
        body = await request.json()
        errors = self.check_action(body, note_required=action == "AddNote")
        if errors:
            return self.unprocessable(errors)
        identifier, alert = self.target(request)
        if alert is None:  # asynchronous: accepted now, fails in processing
            return self.accepted(action, False, "Alert does not exist", None, identifier)
        alert.log.append(action)
        if body.get("note"):
            alert.notes.append(body["note"])
        if action == "Acknowledge":
            alert.acknowledged = True
        elif action == "Close":
            alert.status = "closed"
        return self.accepted(action, True, f"{action} done", alert, alert.alias)

    async def note(self, request: web.Request) -> web.Response:
        return await self.act(request, "AddNote")

    async def acknowledge(self, request: web.Request) -> web.Response:
        return await self.act(request, "Acknowledge")

    async def close(self, request: web.Request) -> web.Response:
        return await self.act(request, "Close")

    async def set_priority(self, request: web.Request) -> web.Response:
        """Update Alert Priority: the body is {"priority": P1..P5} and nothing else."""
        body = await request.json()
        if set(body) != {"priority"} or body["priority"] not in PRIORITIES:
            self.violation(f"update priority body {body!r}")
            return self.unprocessable({"priority": "must be one of P1..P5, and the only field"})
        identifier, alert = self.target(request)
        if alert is None:
            return self.accepted("UpdatePriority", False, "Alert does not exist", None, identifier)
        alert.log.append("UpdatePriority")
        alert.priority = body["priority"]
        return self.accepted("UpdatePriority", True, "Update priority done", alert, alert.alias)

    async def request_status(self, request: web.Request) -> web.Response:
        status = self.requests.get(request.match_info["request_id"])
        if status is None:
            return self.answer(404, message="Request not found. It might not be processed, yet.")
        return self.answer(200, data=status)

    # -- the responder in Opsgenie, and the Webhook integration's POST -----------------------------

    def person(
        self, alias: str, action: str, who: str, token: str = WEBHOOK_TOKEN
    ) -> tuple[bytes, dict[str, str]]:
        """Acknowledge or Close the open alert as `who` in the web UI; the webhook body and headers."""
        alert = self.open_alert(alias)
        assert alert is not None, f"no open alert {alias}"
        if action == "Acknowledge":
            alert.acknowledged, alert.owner = True, who
        else:
            alert.status = "closed"
        now_ms = int(time.time() * 1000)
        doc = {
            "action": action,
            "alert": {
                "alertId": alert.id,
                "message": alert.message,
                "tags": alert.body.get("tags", []),
                "tinyId": alert.tiny_id,
                "entity": alert.body.get("entity", ""),
                "alias": alert.alias,
                "createdAt": now_ms - 60_000,
                "updatedAt": now_ms,
                "username": who,
                "userId": str(uuid.uuid4()),
            },
            "source": {"name": "", "type": "web"},
            "integrationName": "Webhook",
            "integrationId": str(uuid.uuid4()),
            "integrationType": "Webhook",
        }
        return json.dumps(doc).encode(), {"Content-Type": "application/json", "X-Watchd-Token": token}
