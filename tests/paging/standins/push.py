"""Self-hosted push servers that apprise talks to: ntfy and Gotify.

ntfy, as documented at docs.ntfy.sh/publish: PUT/POST /<topic> with the message as the body and
Title / Priority / Tags headers (also X-Title, t, X-Priority, prio, p, ...), or PUT/POST / with a
JSON object {topic, message, title, priority (1-5), tags, click, ...} ("publish as JSON", which is
what apprise's ntfy plugin sends, with X-Priority as a header beside it). Topics are 1-64 of
[-_A-Za-z0-9]; priorities 1-5 or min, low, default, high, max/urgent. Access control: with a token
set, `Authorization: Bearer <token>` (or Basic user:password) is required: 403 (40301) without,
401 (40101) with wrong credentials. Answers 200 with the message JSON (id, time, expires, event
"message", topic, ...); errors as {code, http, error}; 429 (42901).

Gotify, as documented in its REST API (gotify.net/api-docs): POST /message with the application
token as `?token=`, `X-Gotify-Key` or `Authorization: Bearer`; JSON {message (required), title,
priority (int), extras}; answers 200 {id, appid, message, title, priority, date}; errors as
{error, errorCode, errorDescription}: 401, 400 for a missing message.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import time
from typing import Any

from aiohttp import web

from .twilio import StandIn

TOPIC = re.compile(r"[-_A-Za-z0-9]{1,64}")
PRIORITIES = {"min": 1, "low": 2, "default": 3, "high": 4, "max": 5, "urgent": 5}
JSON_FIELDS = {
    "topic", "message", "title", "tags", "priority", "actions", "click", "attach", "markdown", "icon",
    "filename", "delay", "email", "call", "cache", "firebase",
}  # fmt: skip


def header(request: web.Request, *names: str) -> str | None:
    for name in names:
        if name in request.headers:
            return request.headers[name]
    return None


class Ntfy(StandIn):
    name = "ntfy"

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token  # None: topics open to anyone, as on a default ntfy server
        self.messages: list[dict[str, Any]] = []

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/", self.publish_json),
            web.put("/", self.publish_json),
            web.post("/{topic}", self.publish),
            web.put("/{topic}", self.publish),
        ]

    @staticmethod
    def error(status: int, code: int, text: str, **headers: str) -> web.Response:
        return web.json_response(
            {"code": code, "http": status, "error": text}, status=status, headers=headers
        )

    def throttled(self) -> web.StreamResponse:
        return self.error(429, 42901, "limit reached: too many requests", **{"Retry-After": self.retry_after})

    def denied(self, request: web.Request) -> web.Response | None:
        if self.token is None:
            return None
        auth = request.headers.get("Authorization", "")
        if not auth:
            return self.error(403, 40301, "forbidden")
        if auth == f"Bearer {self.token}":
            return None
        if auth.startswith("Basic "):
            try:
                _, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                password = ""
            if password == self.token:
                return None
        return self.error(401, 40101, "unauthorized")

    def priority(self, value: Any) -> int | None:
        if value is None or value == "":
            return 3
        text = str(value).strip().lower()
        if text in PRIORITIES:
            return PRIORITIES[text]
        if text.isdigit() and 1 <= int(text) <= 5:
            return int(text)
        return None

    def accept(self, topic: str, message: str, title: str | None, prio: int, tags: list[str],
               via: str, request: web.Request) -> web.Response:  # fmt: skip
        doc: dict[str, Any] = {
            "id": secrets.token_urlsafe(9)[:12],
            "time": int(time.time()),
            "expires": int(time.time()) + 43200,
            "event": "message",
            "topic": topic,
            "message": message or "triggered",
        }
        if title:
            doc["title"] = title
        if prio != 3:
            doc["priority"] = prio
        if tags:
            doc["tags"] = tags
        self.messages.append(doc | {"via": via, "headers": dict(request.headers)})
        return web.json_response(doc)

    async def publish(self, request: web.Request) -> web.Response:
        topic = request.match_info["topic"]
        if not TOPIC.fullmatch(topic):
            self.violation(f"publish: invalid topic {topic!r}")
            return self.error(400, 40010, "invalid topic")
        if (bad := self.denied(request)) is not None:
            return bad
        prio = self.priority(header(request, "X-Priority", "Priority", "prio", "p"))
        if prio is None:
            self.violation(f"publish: invalid priority {header(request, 'X-Priority', 'Priority')!r}")
            return self.error(400, 40007, "invalid priority")
        tags = header(request, "X-Tags", "Tags", "tags", "ta")
        body = (await request.read()).decode("utf-8", "replace")
        title = header(request, "X-Title", "Title", "title", "ti", "t")
        tag_list = [t.strip() for t in (tags or "").split(",") if t.strip()]
        return self.accept(topic, body, title, prio, tag_list, "path", request)

    async def publish_json(self, request: web.Request) -> web.Response:
        try:
            doc = json.loads(await request.read())
        except ValueError:
            self.violation("publish as JSON: body is not JSON")
            return self.error(400, 40017, "invalid request: body must be JSON")
        if (
            not isinstance(doc, dict)
            or not isinstance(doc.get("topic"), str)
            or not TOPIC.fullmatch(doc["topic"])
        ):
            self.violation(f"publish as JSON: missing or invalid topic in {doc!r}")
            return self.error(400, 40010, "invalid topic")
        for key in doc:
            if key not in JSON_FIELDS:
                self.violation(f"publish as JSON: undocumented field {key!r}")
        if (bad := self.denied(request)) is not None:
            return bad
        raw_prio = doc.get("priority", header(request, "X-Priority", "Priority"))
        if "priority" in doc and not (isinstance(doc["priority"], int) and 1 <= doc["priority"] <= 5):
            self.violation(f"publish as JSON: priority {doc['priority']!r}, documented 1-5")
            return self.error(400, 40007, "invalid priority")
        prio = self.priority(raw_prio)
        if prio is None:
            self.violation(f"publish as JSON: invalid priority header {raw_prio!r}")
            return self.error(400, 40007, "invalid priority")
        tags = doc.get("tags") or []
        if not isinstance(tags, list):
            self.violation("publish as JSON: tags must be a list")
            tags = []
        return self.accept(doc["topic"], str(doc.get("message") or ""), doc.get("title"), prio,
                           [str(t) for t in tags], "json", request)  # fmt: skip


class Gotify(StandIn):
    name = "gotify"

    def __init__(self, token: str = "AgotifyAppToken1") -> None:
        super().__init__()
        self.token = token
        self.messages: list[dict[str, Any]] = []
        self.ids = itertools.count(1)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/message", self.create)]

    @staticmethod
    def error(status: int, text: str, description: str, **headers: str) -> web.Response:
        return web.json_response(
            {"error": text, "errorCode": status, "errorDescription": description},
            status=status,
            headers=headers,
        )

    def throttled(self) -> web.StreamResponse:
        return self.error(429, "Too Many Requests", "slow down", **{"Retry-After": self.retry_after})

    async def create(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        given = (
            request.query.get("token")
            or request.headers.get("X-Gotify-Key")
            or (auth[7:] if auth.startswith("Bearer ") else None)
        )
        if given != self.token:
            return self.error(
                401,
                "Unauthorized",
                "you need to provide a valid access token or user credentials to access this api",
            )
        if request.content_type != "application/json":
            self.violation(f"POST /message: Content-Type {request.content_type!r}")
        try:
            doc = json.loads(await request.read())
        except ValueError:
            self.violation("POST /message: body is not JSON")
            return self.error(400, "Bad Request", "invalid JSON")
        if not isinstance(doc, dict) or not isinstance(doc.get("message"), str) or not doc["message"]:
            self.violation(f"POST /message: no message in {doc!r}")
            return self.error(400, "Bad Request", "Field 'message' is required")
        for key in doc:
            if key not in ("message", "title", "priority", "extras"):
                self.violation(f"POST /message: undocumented field {key!r}")
        prio = doc.get("priority", 0)
        if isinstance(prio, bool) or not isinstance(prio, int):
            self.violation(f"POST /message: priority {prio!r} is not an integer")
            return self.error(400, "Bad Request", "Field 'priority' must be an integer")
        out = {
            "id": next(self.ids),
            "appid": 1,
            "message": doc["message"],
            "title": doc.get("title") or "watchd-app",
            "priority": prio,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self.messages.append(out | {"headers": dict(request.headers)})
        return web.json_response(out)
