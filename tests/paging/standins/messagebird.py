"""MessageBird REST API, as documented at developers.messagebird.com (API reference: authentication,
errors; SMS messaging "send outbound SMS"; Voice messaging "send a voice message"):
`Authorization: AccessKey <key>`, JSON bodies (Content-Type application/json), POST /messages with
originator (a number or up to 11 alphanumeric characters), recipients (a list of MSISDNs), body;
POST /voicemessages with recipients, body and optional originator, language, voice (male|female),
repeat (1-10), ifMachine (continue|delay|hangup). Answers 201 with the object (id, href,
recipients {totalCount, totalSentCount, items: [{recipient, status, statusDatetime}]}); errors as
{"errors": [{"code", "description", "parameter"}]}: 401 code 2 "Request not allowed (incorrect
access_key)", 422 code 9 (missing parameter) or 10 (invalid parameter), 429 with Retry-After."""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

from aiohttp import web

from .twilio import StandIn

ACCESS_KEY = "live_mb0123456789abcdefghijk"
ORIGINATOR = re.compile(r"\+?\d{1,17}|[A-Za-z0-9 ]{1,11}")
MSISDN = re.compile(r"\+?[1-9]\d{6,14}")
LANGUAGES = {
    "cy-gb", "da-dk", "de-de", "el-gr", "en-au", "en-gb", "en-gb-wls", "en-in", "en-us", "es-es",
    "es-mx", "es-us", "fr-ca", "fr-fr", "id-id", "is-is", "it-it", "ja-jp", "ko-kr", "ms-my", "nb-no",
    "nl-nl", "pl-pl", "pt-br", "pt-pt", "ro-ro", "ru-ru", "sv-se", "ta-in", "th-th", "tr-tr", "vi-vn",
    "zh-cn", "zh-hk",
}  # fmt: skip
SMS_FIELDS = {
    "originator", "recipients", "body", "type", "reference", "reportUrl", "validity", "gateway",
    "typeDetails", "datacoding", "mclass", "scheduledDatetime", "groupIds",
}  # fmt: skip
VOICE_FIELDS = {
    "originator", "recipients", "body", "reference", "language", "voice", "repeat", "ifMachine",
    "machineTimeout", "scheduledDatetime", "reportUrl",
}  # fmt: skip


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


class MessageBird(StandIn):
    name = "messagebird"

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []
        self.voicemessages: list[dict[str, Any]] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/messages", self.create_message), web.post("/voicemessages", self.create_voice)]

    @staticmethod
    def errors(status: int, code: int, description: str, parameter: str | None = None,
               **headers: str) -> web.Response:  # fmt: skip
        return web.json_response(
            {"errors": [{"code": code, "description": description, "parameter": parameter}]},
            status=status, headers=headers,
        )  # fmt: skip

    def throttled(self) -> web.StreamResponse:
        return self.errors(429, 429, "Too many requests", None, **{"Retry-After": self.retry_after})

    async def body(
        self, request: web.Request, allowed: set[str]
    ) -> tuple[dict[str, Any] | None, web.Response | None]:
        if request.headers.get("Authorization") != f"AccessKey {ACCESS_KEY}":
            if not request.headers.get("Authorization", "").startswith("AccessKey "):
                self.violation(f"{request.path}: Authorization is not 'AccessKey <key>'")
            return None, self.errors(401, 2, "Request not allowed (incorrect access_key)")
        if request.content_type != "application/json":
            self.violation(
                f"{request.path}: Content-Type {request.content_type!r}, documented application/json"
            )
            return None, self.errors(422, 21, "Bad request (the body must be JSON)")
        try:
            doc = json.loads(await request.read())
        except ValueError:
            self.violation(f"{request.path}: body is not JSON")
            return None, self.errors(422, 21, "Bad request (invalid JSON)")
        if not isinstance(doc, dict):
            self.violation(f"{request.path}: body is not a JSON object")
            return None, self.errors(422, 21, "Bad request")
        for key in doc:
            if key not in allowed:
                self.violation(f"{request.path}: undocumented field {key!r}")
        for key in ("recipients", "body"):
            if doc.get(key) in (None, "", []):
                return None, self.errors(422, 9, f"{key} is required", key)
        recipients = doc["recipients"] if isinstance(doc["recipients"], list) else [doc["recipients"]]
        if not all(isinstance(x, str | int) and MSISDN.fullmatch(str(x)) for x in recipients):
            return None, self.errors(422, 9, "no (correct) recipients found", "recipients")
        if not isinstance(doc["body"], str):
            return None, self.errors(422, 10, "body must be a string", "body")
        if "originator" in doc and not ORIGINATOR.fullmatch(str(doc["originator"])):
            return None, self.errors(422, 10, "originator is invalid", "originator")
        doc["recipients"] = [int(str(x).lstrip("+")) for x in recipients]
        return doc, None

    def answer(self, doc: dict[str, Any], kind: str) -> dict[str, Any]:
        ident = secrets.token_hex(16)
        return {
            "id": ident,
            "href": f"{self.url}/{kind}/{ident}",
            "originator": doc.get("originator"),
            "body": doc["body"],
            "reference": doc.get("reference"),
            "scheduledDatetime": None,
            "createdDatetime": now_iso(),
            "recipients": {
                "totalCount": len(doc["recipients"]),
                "totalSentCount": len(doc["recipients"]),
                "totalDeliveredCount": 0,
                "totalDeliveryFailedCount": 0,
                "items": [
                    {"recipient": r, "status": "sent", "statusDatetime": now_iso()} for r in doc["recipients"]
                ],
            },
        }

    async def create_message(self, request: web.Request) -> web.Response:
        doc, bad = await self.body(request, SMS_FIELDS)
        if doc is None:
            return bad  # type: ignore[return-value]
        if not doc.get("originator"):
            return self.errors(422, 9, "originator is required", "originator")
        out = self.answer(doc, "messages")
        unicode = any(ord(c) > 127 for c in doc["body"])
        out.update(direction="mt", type=doc.get("type", "sms"), validity=None, gateway=10, typeDetails={},
                   datacoding="unicode" if unicode else "plain", mclass=1)  # fmt: skip
        self.messages.append(doc | {"id": out["id"], "headers": dict(request.headers)})
        return web.json_response(out, status=201)

    async def create_voice(self, request: web.Request) -> web.Response:
        doc, bad = await self.body(request, VOICE_FIELDS)
        if doc is None:
            return bad  # type: ignore[return-value]
        if doc.get("language", "en-gb") not in LANGUAGES:
            return self.errors(422, 10, "language is invalid", "language")
        if doc.get("voice", "female") not in ("male", "female"):
            return self.errors(422, 10, "voice is invalid", "voice")
        repeat = doc.get("repeat", 1)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 10:
            return self.errors(422, 10, "repeat is invalid", "repeat")
        if doc.get("ifMachine", "continue") not in ("continue", "delay", "hangup"):
            return self.errors(422, 10, "ifMachine is invalid", "ifMachine")
        out = self.answer(doc, "voicemessages")
        out.update(language=doc.get("language", "en-gb"), voice=doc.get("voice", "female"), repeat=repeat,
                   ifMachine=doc.get("ifMachine", "continue"), machineTimeout=7000)  # fmt: skip
        self.voicemessages.append(doc | {"id": out["id"], "headers": dict(request.headers)})
        return web.json_response(out, status=201)
