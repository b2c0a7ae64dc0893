"""Ticket systems that push: `POST /api/v1/tickets/{backend}/events`.

A ticket system that can call a webhook when a ticket changes (Zammad and Zendesk triggers,
Freshdesk and GLPI automations, Jira webhooks, a Znuny invoker) calls this route instead of being
polled. The request only names the ticket; watchd then reads that ticket's changes through the
backend's own `changes()` (the path polling uses), so what a push says is never trusted beyond
"look at ticket N now", and a repeated or forged-but-authenticated push changes nothing twice.

Authentication is the backend's `two_way.secret`, accepted in any of the forms ticket systems can
send: `Authorization: Bearer <secret>` or `X-Watchd-Secret: <secret>` (a custom header), an HMAC
of the raw body in `X-Hub-Signature: sha1=...|sha256=...` (Zammad, Jira), or Zendesk's
`X-Zendesk-Webhook-Signature` (base64 HMAC-SHA256 of timestamp + body). Not behind the API token:
ticket systems cannot send it. The answer (202) comes before the ticket is read, so a slow ticket
system never holds the API.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import structlog
from aiohttp import web

from watchd.api.app import ApiError, api_of, json_response, operation
from watchd.api.schemas import BOOL, STR, err, json_body, obj, path_param
from watchd.core.errors import DeliveryError
from watchd.delivery.tickets import Polled
from watchd.store import ticketsync

log = structlog.get_logger("watchd.api.tickets")
routes = web.RouteTableDef()
_READS: set[asyncio.Task[None]] = set()  # background reads; kept so they are not collected mid-way

REF_PATHS = (
    ("ticket",),
    ("ticket_id",),
    ("ticket", "id"),
    ("issue", "key"),
    ("issue", "id"),
    ("id",),
    ("TicketID",),
    ("Event", "TicketID"),
    ("items_id",),
)


def authentic(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """True when the request carries the secret in one of the accepted forms (constant-time)."""
    key = secret.encode()
    offered = headers.get("Authorization", "")
    if offered.startswith("Bearer ") and hmac.compare_digest(offered[7:].encode(), key):
        return True
    if hmac.compare_digest(headers.get("X-Watchd-Secret", "").encode(), key):
        return True
    hub = headers.get("X-Hub-Signature", "")
    for name, algo in (("sha1=", hashlib.sha1), ("sha256=", hashlib.sha256)):
        if hub.startswith(name):
            mac = hmac.new(key, body, algo).hexdigest()
            if hmac.compare_digest(hub[len(name) :].encode(), mac.encode()):
                return True
    zendesk = headers.get("X-Zendesk-Webhook-Signature", "")
    if zendesk:
        stamp = headers.get("X-Zendesk-Webhook-Signature-Timestamp", "")
        mac = base64.b64encode(hmac.new(key, stamp.encode() + body, hashlib.sha256).digest()).decode()
        if hmac.compare_digest(zendesk.encode(), mac.encode()):
            return True
    return False


def ticket_ref(document: Any) -> str | None:
    """The ticket the push is about, from the shapes ticket systems send (`{"ticket": 12}`,
    `{"ticket": {"id": 12}}`, Jira's `{"issue": {"key": "OPS-7"}}`, Znuny's `TicketID`, ...)."""
    for path in REF_PATHS:
        value = document
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, int | str) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


@routes.post("/api/v1/tickets/{backend}/events")
@operation(
    "A ticket system says a ticket changed (two-way push)",
    "tickets",
    {
        "202": json_body(obj({"ticket": STR, "known": BOOL}), "accepted; the ticket is read back now"),
        "400": err("the body names no ticket"),
        "401": err("the secret or signature does not match"),
        "404": err("no such ticket backend, or it accepts no pushes (no two_way.secret)"),
    },
    params=[path_param("backend", "string", "ticket backend name from tickets.backends")],
    request_body={"type": "object", "additionalProperties": True},
    body_required=True,
)
async def ticket_event(request: web.Request) -> web.Response:
    """Verify, name the ticket, answer 202 and read that ticket's changes in the background."""
    api = api_of(request)
    name = request.match_info["backend"]
    channel = f"ticket:{name}"
    parts = api.daemon.parts
    backend = getattr(parts.deliverer.channels.get(channel), "backend", None) if parts is not None else None
    secret = getattr(getattr(backend, "two_way", None), "secret", None)
    if not isinstance(backend, Polled) or not secret:
        raise ApiError(404, f"ticket backend {name!r} does not exist or accepts no pushes (two_way.secret)")
    raw = await request.read()
    if not authentic(secret, request.headers, raw):
        raise ApiError(401, "the secret or signature does not match")
    try:
        ref = ticket_ref(json.loads(raw))
    except ValueError:
        ref = None
    if ref is None:
        raise ApiError(400, 'the body names no ticket (expected e.g. {"ticket": "<id>"})')
    incident = ticketsync.incident_for_ref(api.daemon.store.db, channel, ref)
    if incident is not None:
        task = asyncio.get_running_loop().create_task(_read(api.daemon, backend, channel, ref, incident))
        _READS.add(task)
        task.add_done_callback(_READS.discard)
    return json_response({"ticket": ref, "known": incident is not None}, 202)


async def _read(daemon: Any, backend: Polled, channel: str, ref: str, incident: int) -> None:
    followup = getattr(daemon, "followup", None)
    if followup is None:
        return
    try:
        since = ticketsync.cursor(daemon.store.db, channel, ref)
        changes = await backend.changes(ref, since)
        followup.record_changes(channel, ref, incident, changes)
        followup.apply_ticket_changes()
    except DeliveryError as exc:  # the next poll (or push) tries again
        log.warning("reading a pushed ticket failed", channel=channel, ref=ref, error=exc.reason)
    except Exception:
        log.exception("reading a pushed ticket failed", channel=channel, ref=ref)
