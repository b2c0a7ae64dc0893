"""Notification channels for the outbox: one per (contact, medium), rendered at delivery time.

Rendering late lets a customer notice carry the number of the ticket that the ticket channel
opened a moment before; if that ticket is not there yet, the notice waits up to `ticket_wait`
(retrying like any delivery) and then goes out with the incident key instead, so it is never lost.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

from watchd.core.errors import DeliveryError, http_status_retryable
from watchd.delivery import smtp as mail
from watchd.delivery.notify import shapes
from watchd.delivery.notify.contacts import Contact
from watchd.delivery.notify.messages import Message, render

Transport = Callable[[Message, str, dict[str, Any], int], Awaitable[None]]
# (incident id, action, contact, issued at, seed) -> an ack/resolve link URL (control.links.Links.url)
LinkMaker = Callable[[int, str, str, float, str], str]
LINKED_EVENTS = ("open", "raised", "renotify", "escalate", "resolution_breached")


class NotifyChannel:
    def __init__(
        self,
        contact: Contact,
        transport: Transport,
        db: sqlite3.Connection,
        ticket_wait: float = 30.0,
        now: Callable[[], float] = time.time,
        links: LinkMaker | None = None,
    ) -> None:
        self.contact = contact
        self.links = links if contact.kind == "oncall" else None  # customers do not act on incidents
        self.transport = transport
        self.db = db
        self.ticket_wait = ticket_wait
        self._now = now

    async def deliver_row(self, kind: str, payload: dict[str, Any], op_id: int, ref: str | None) -> str:
        facts = dict(payload["facts"])
        incident_id = payload.get("incident_id") or 0
        if incident_id:
            ticket = self._ticket(incident_id)
            if (
                ticket is None
                and self._now() - payload["queued_at"] < self.ticket_wait
                and self._ticket_pending(incident_id)
            ):
                raise DeliveryError("waiting for the ticket number", retryable=True)
            facts["ticket"] = ticket or facts.get("key", "")
            if self.links is not None and kind in LINKED_EVENTS:
                # Stable per outbox row: a re-sent page carries the same links.
                issued, seed = payload["queued_at"], str(op_id)
                facts["ack_url"] = self.links(incident_id, "ack", self.contact.name, issued, seed)
                facts["resolve_url"] = self.links(incident_id, "resolve", self.contact.name, issued, seed)
        facts.update(
            contact_name=self.contact.display_name or self.contact.name, timezone=self.contact.timezone
        )
        msg = render(kind, self.contact.kind, self.contact.language, facts)
        await self.transport(msg, kind, facts, op_id)
        return str(facts.get("ticket") or facts.get("key") or op_id)

    async def close(self) -> None:
        close = getattr(self.transport, "close", None)
        if close is not None:
            await close()

    def _ticket(self, incident_id: int) -> str | None:
        """The ticket number people know: an external ticket system's, else the builtin key."""
        rows = self.db.execute(
            "SELECT channel, ref FROM ticket_refs WHERE incident_id = ? AND channel LIKE 'ticket:%'",
            (incident_id,),
        ).fetchall()
        external = [ref for channel, ref in rows if channel != "ticket:builtin"]
        return external[0] if external else (rows[0][1] if rows else None)

    def _ticket_pending(self, incident_id: int) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM outbox WHERE incident_id = ? AND channel LIKE 'ticket:%' AND status = 'pending'"
            " AND kind IN ('open', 'reopen') LIMIT 1",
            (incident_id,),
        ).fetchone()
        return row is not None


def email_transport(settings: mail.SmtpSettings, sender: str, to: tuple[str, ...], domain: str) -> Transport:
    async def send(msg: Message, event: str, facts: dict[str, Any], op_id: int) -> None:
        from email.message import EmailMessage  # loaded with the first mail
        from email.policy import SMTP as SMTP_POLICY
        from email.utils import formatdate

        m = EmailMessage(policy=SMTP_POLICY)
        m["From"] = sender
        m["To"] = ", ".join(to)
        m["Subject"] = msg.subject
        m["Date"] = formatdate(usegmt=True)
        m["Message-ID"] = f"<watchd.notify.{op_id}@{domain}>"  # stable: a resend is recognisable
        m["Auto-Submitted"] = "auto-generated"
        m["X-Watchd-Event"] = event
        if facts.get("key"):
            m["X-Watchd-Key"] = str(facts["key"])
        m.set_content(msg.text)
        m.add_alternative(msg.html, subtype="html")
        await mail.send(settings, m, sender, to)

    return send


class MqttTransport:
    """Publishes the notification JSON on <prefix><host>/notify/<contact> through the daemon's bus.
    Delivered means the broker acknowledged it (QoS 1 PUBACK), not merely queued: a kill -9 before
    that leaves the outbox row pending, so nothing is lost."""

    def __init__(self, contact: str, bus: Callable[[], Any]) -> None:
        self.contact = contact
        self._bus = bus

    async def __call__(self, msg: Message, event: str, facts: dict[str, Any], op_id: int) -> None:
        bus = self._bus()
        if bus is None:
            raise DeliveryError("mqtt notification, but the MQTT bus is not configured", retryable=False)
        body = shapes.body("json", msg, event, facts) | {"op_id": op_id}
        if not await bus.notify(self.contact, json.dumps(body).encode()):
            raise DeliveryError("mqtt notification: the broker did not take it in time", retryable=True)


class WebhookTransport:
    """POSTs the chosen shape; one session per transport, closed by the daemon."""

    def __init__(self, url: str, fmt: str, timeout: float = 10.0) -> None:
        self.url = url
        self.fmt = fmt
        self.timeout = timeout
        self._session: Any = None  # aiohttp.ClientSession, imported on first use

    async def __call__(self, msg: Message, event: str, facts: dict[str, Any], op_id: int) -> None:
        import aiohttp  # only loaded when a webhook contact is actually notified

        from watchd.delivery import httpcall

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        data = json.dumps(shapes.body(self.fmt, msg, event, facts)).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"watchd-notify-{op_id}"}
        what = f"webhook {self.url}"
        answer = await httpcall.call(
            self._session,
            "POST",
            self.url,
            what=what,
            timeout=self.timeout,
            max_body=4096,
            data=data,
            headers=headers,
        )
        if answer.status >= 300:
            snippet = answer.body[:200].decode(errors="replace")
            raise DeliveryError(
                f"{what}: HTTP {answer.status} {snippet}", http_status_retryable(answer.status)
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
