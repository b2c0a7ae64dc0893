"""Twilio Programmable Messaging and Voice, as documented at twilio.com/docs: the Message resource
(POST /2010-04-01/Accounts/{AccountSid}/Messages.json: To, From or MessagingServiceSid, Body <= 1600
characters), the Call resource (POST .../Calls.json: To, From, and one of Url, Twiml (<= 4000
characters of TwiML), ApplicationSid), HTTP basic auth with AccountSid:AuthToken, form-encoded
parameters, E.164 numbers. Answers 201 with the resource's JSON (sid SM.../CA..., status queued);
errors as {code, message, more_info, status}: 401/20003 "Authenticate", 400/21604, 21603, 21602,
21211, 21617 (messages), 21200 (calls), 12100 (TwiML parse failure), 429/20429 with Retry-After.

`StandIn` (the recording, throttling and the 127.0.0.1:0 runner) is shared by the other paging
gateway stand-ins (messagebird, push)."""

from __future__ import annotations

import base64
import email.utils
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from servers.http import serve

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
E164 = re.compile(r"\+[1-9]\d{1,14}")


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class StandIn:
    """Records every request; answers `throttle_next` requests with the service's 429 (with
    Retry-After) and `fail_next` with 503 before looking at them."""

    name = "standin"

    def __init__(self) -> None:
        self.url = ""
        self.seen: list[Seen] = []
        self.violations: list[str] = []
        self.throttle_next = 0
        self.retry_after = "7"
        self.fail_next = 0
        self._runner: web.AppRunner | None = None

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    def throttled(self) -> web.StreamResponse:
        return web.json_response(
            {"error": "rate limited"}, status=429, headers={"Retry-After": self.retry_after}
        )

    def violation(self, text: str) -> None:
        self.violations.append(text)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = await request.read()
        self.seen.append(Seen(request.method, request.path, dict(request.query), dict(request.headers), raw))
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return self.throttled()
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503, text="service unavailable")
        return await handler(request)

    async def start(self) -> None:
        app = web.Application(middlewares=[self.middleware])
        app.add_routes(self.routes())

        async def unknown(request: web.Request) -> web.StreamResponse:
            self.violation(f"{request.method} {request.path}: not a documented endpoint")
            return web.json_response({"error": "not found"}, status=404)

        app.router.add_route("*", "/{tail:.*}", unknown)
        self._runner, self.url = await serve(app, access_log=None)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-auth-token-0123456789"
MESSAGE_PARAMS = {
    "To", "From", "MessagingServiceSid", "Body", "MediaUrl", "ContentSid", "ContentVariables",
    "StatusCallback", "ApplicationSid", "MaxPrice", "ProvideFeedback", "Attempt", "ValidityPeriod",
    "ForceDelivery", "SmartEncoded", "PersistentAction", "ShortenUrls", "ScheduleType", "SendAt",
    "SendAsMms", "AddressRetention", "ContentRetention", "RiskCheck",
}  # fmt: skip
CALL_PARAMS = {
    "To", "From", "Url", "Twiml", "ApplicationSid", "Method", "FallbackUrl", "FallbackMethod",
    "StatusCallback", "StatusCallbackEvent", "StatusCallbackMethod", "SendDigits", "Timeout", "Record",
    "MachineDetection", "MachineDetectionTimeout", "CallerId", "TimeLimit", "Trim",
}  # fmt: skip


class Twilio(StandIn):
    name = "twilio"

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []  # accepted: the form fields plus "sid", "idempotency"
        self.calls: list[dict[str, Any]] = []

    def base(self) -> str:
        return f"{self.url}/2010-04-01/Accounts/{ACCOUNT_SID}"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/2010-04-01/Accounts/{sid}/Messages.json", self.create_message),
            web.post("/2010-04-01/Accounts/{sid}/Calls.json", self.create_call),
        ]

    @staticmethod
    def error(status: int, code: int, message: str, **headers: str) -> web.Response:
        return web.json_response(
            {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
             "status": status},
            status=status, headers=headers,
        )  # fmt: skip

    def throttled(self) -> web.StreamResponse:
        return self.error(429, 20429, "Too Many Requests", **{"Retry-After": self.retry_after})

    async def form(
        self, request: web.Request, allowed: set[str]
    ) -> tuple[dict[str, str] | None, web.Response | None]:
        creds = basic_credentials(request)
        if creds != (ACCOUNT_SID, AUTH_TOKEN) or request.match_info["sid"] != ACCOUNT_SID:
            if creds is None:
                self.violation(f"{request.path}: no HTTP basic auth")
            return None, self.error(401, 20003, "Authenticate")
        if request.content_type != "application/x-www-form-urlencoded":
            self.violation(f"{request.path}: Content-Type {request.content_type!r}, documented form-encoded")
            return None, self.error(400, 21200, "Request parameters must be form-encoded")
        post = await request.post()
        fields = {k: str(v) for k, v in post.items()}
        for key in fields:
            if key not in allowed:
                self.violation(f"{request.path}: undocumented parameter {key!r}")
        for key in ("To", "From"):
            if key in fields and not E164.fullmatch(fields[key]):
                if key == "To":
                    return None, self.error(400, 21211, f"Invalid 'To' Phone Number: {fields[key]}")
                return None, self.error(400, 21212, f"Invalid From Number (caller ID): {fields[key]}")
        return fields, None

    def resource(self, prefix: str, fields: dict[str, str], request: web.Request) -> dict[str, Any]:
        sid = prefix + secrets.token_hex(16)
        kind = "Messages" if prefix == "SM" else "Calls"
        return {
            "sid": sid,
            "account_sid": ACCOUNT_SID,
            "to": fields.get("To"),
            "from": fields.get("From"),
            "status": "queued",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "date_created": email.utils.formatdate(usegmt=False),
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/{kind}/{sid}.json",
        }

    async def create_message(self, request: web.Request) -> web.Response:
        fields, bad = await self.form(request, MESSAGE_PARAMS)
        if fields is None:
            return bad  # type: ignore[return-value]
        if not fields.get("To"):
            return self.error(400, 21604, "A 'To' phone number is required.")
        if not fields.get("From") and not fields.get("MessagingServiceSid"):
            return self.error(400, 21603, "A 'From' phone number is required.")
        if not fields.get("Body") and not fields.get("MediaUrl") and not fields.get("ContentSid"):
            return self.error(400, 21602, "Message body is required.")
        if len(fields.get("Body", "")) > 1600:
            return self.error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        doc = self.resource("SM", fields, request)
        doc.update(body=fields.get("Body", ""), num_segments=str(1 + len(fields.get("Body", "")) // 161),
                   error_code=None, error_message=None, price=None)  # fmt: skip
        self.messages.append(fields | {"sid": doc["sid"], "idempotency": self._idem(request)})
        return web.json_response(doc, status=201)

    async def create_call(self, request: web.Request) -> web.Response:
        fields, bad = await self.form(request, CALL_PARAMS)
        if fields is None:
            return bad  # type: ignore[return-value]
        if not fields.get("To") or not fields.get("From"):
            return self.error(400, 21200, "Calls resource: To and From are required")
        given = [k for k in ("Url", "Twiml", "ApplicationSid") if fields.get(k)]
        if len(given) != 1:
            return self.error(400, 21200, "Calls resource: provide one of Url, Twiml, ApplicationSid")
        if "Twiml" in given:
            twiml = fields["Twiml"]
            if len(twiml) > 4000:
                return self.error(400, 21200, "Twiml exceeds 4000 characters")
            try:
                root = ET.fromstring(twiml)
            except ET.ParseError as exc:
                self.violation(f"Calls.json: Twiml is not well-formed XML: {exc}")
                return self.error(400, 12100, "Document parse failure")
            if root.tag != "Response":
                self.violation(f"Calls.json: TwiML root is <{root.tag}>, documented <Response>")
                return self.error(400, 12100, "Document parse failure")
            fields["spoken"] = " ".join((el.text or "") for el in root.iter("Say"))
        doc = self.resource("CA", fields, request)
        self.calls.append(fields | {"sid": doc["sid"], "idempotency": self._idem(request)})
        return web.json_response(doc, status=201)

    @staticmethod
    def _idem(request: web.Request) -> str | None:
        return request.headers.get("I-Twilio-Idempotency-Token") or request.headers.get("Idempotency-Key")
