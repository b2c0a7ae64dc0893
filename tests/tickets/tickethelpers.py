"""Shared by the ticket tests and their fixtures: intents, the webhook receiver, the SMTP mailbox."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import json
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from watchd.delivery.tickets import IntentKind, TicketIntent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers.rt import RTUser

AT = 1714564800.0  # 2024-05-01T12:00:00Z
WEBHOOK_SECRET = "s3cret-for-tests"
SMTP_USER = "watchd"
SMTP_PASSWORD = "mail-pass"

# An RT user allowed to create and comment but not to change tickets (no ModifyTicket): RT then
# answers a status change with 201 and "Permission Denied" in its message list.
LIMITED_RT_USER = RTUser(
    "watchd-limited",
    "limited-pass",
    ("SeeQueue", "ShowTicket", "CreateTicket", "CommentOnTicket", "SeeCustomField", "ModifyCustomField"),
)

MakeIntent = Callable[..., TicketIntent]


def intent(
    kind: IntentKind = "open", key: str = "watchd-web01-disk_root-17", op_id: int = 1, **kw: Any
) -> TicketIntent:
    values: dict[str, Any] = {
        "incident_id": 17,
        "host": "web01",
        "check": "disk_root",
        "priority": "P2",
        "state": "CRITICAL",
        "subject": "disk / is 97% full",
        "body": "DISK CRITICAL - / 97% used (2.1 GiB free)",
        "at": AT,
        "respond_by": AT + 3600,
        "resolve_by": None,
    }
    values.update(kw)
    return TicketIntent(kind=kind, key=key, op_id=op_id, **values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Reply:
    status: int = 200
    body: str = ""
    content_type: str = "application/json"
    hang: bool = False  # wait until the test ends (to provoke a client timeout)


@dataclass
class Received:
    headers: dict[str, str]
    raw: bytes
    document: Any
    verified: bool
    client_port: int


@dataclass
class Receiver:
    """Verifies each POST's signature on its own (hmac.compare_digest), records it, answers from `replies`."""

    secret: str
    url: str = ""
    replies: list[Reply] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        timestamp = request.headers.get("X-Watchd-Timestamp", "")
        expected = (
            "sha256="
            + hmac.new(self.secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
        )
        verified = hmac.compare_digest(expected, request.headers.get("X-Watchd-Signature", ""))
        try:
            document = json.loads(raw)
        except ValueError:
            document = None
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.received.append(Received(dict(request.headers), raw, document, verified, peer[1] if peer else 0))
        if not verified:
            return web.json_response({"error": "bad signature"}, status=401)
        reply = self.replies.pop(0) if self.replies else Reply()
        if reply.hang:
            await self.release.wait()
        return web.Response(status=reply.status, text=reply.body, content_type=reply.content_type)


class Mailbox:
    """An aiosmtpd handler that records what it accepts; `rcpt_reply`/`data_reply` make it refuse."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        with self.lock:
            self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            envelopes = list(self.envelopes)
        raw = [e.original_content or b"" for e in envelopes]
        return [email.message_from_bytes(r, policy=email.policy.default) for r in raw]


@dataclass
class SMTPFixture:
    host: str
    port: int
    mailbox: Mailbox
    cert: Path | None = None


def authenticate(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 itself
