"""The outbox channels a config defines: ticket backends and each contact's media."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog

from watchd.config import Config
from watchd.config.incidents import build_backend
from watchd.core.clock import Clock
from watchd.delivery.outbox import Deliverable
from watchd.delivery.tickets.builtin import BuiltinBackend
from watchd.delivery.tickets.channel import TicketChannel
from watchd.store import Store

log = structlog.get_logger("watchd.channels")


def build_channels(
    config: Config, store: Store, clock: Clock, bus: Callable[[], object] = lambda: None
) -> dict[str, Deliverable]:
    channels: dict[str, Deliverable] = {"ticket:builtin": TicketChannel(BuiltinBackend(store))}
    for name, spec in config.tickets.backends.items():
        if name != "builtin":
            channels[f"ticket:{name}"] = TicketChannel(build_backend(spec.type, spec.params))
    if config.contacts:
        channels.update(_contact_channels(config, store, clock, bus))
    return channels


def _contact_channels(
    config: Config, store: Store, clock: Clock, bus: Callable[[], object]
) -> dict[str, Deliverable]:
    # Notifiers (templates, mail, webhooks) load only for a config with contacts.
    from watchd.delivery.notify.channel import (
        MqttTransport,
        NotifyChannel,
        Transport,
        WebhookTransport,
        email_transport,
    )

    channels: dict[str, Deliverable] = {}
    n = config.notify
    for name, contact in config.contacts.items():
        transports: dict[str, Transport] = {}
        if contact.email:
            transports["email"] = email_transport(n.smtp, n.sender, contact.email, n.domain)
        if contact.webhook_url:
            transports["webhook"] = WebhookTransport(contact.webhook_url, contact.webhook_format)
        if contact.mqtt:
            transports["mqtt"] = MqttTransport(name, bus)
        for medium, transport in transports.items():
            channels[f"notify:{name}:{medium}"] = NotifyChannel(
                contact, transport, store.db, n.ticket_wait, clock.time
            )
    return channels


async def close_channels(channels: Iterable[Deliverable]) -> None:
    for ch in channels:
        close = getattr(ch, "close", None)
        if close is None:
            continue
        try:
            await close()
        except Exception:
            log.exception("closing a delivery channel failed")
