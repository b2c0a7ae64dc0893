"""The outbox channels a config defines: ticket backends and each contact's media."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import structlog

from watchd.config import Config
from watchd.config.incidents import build_backend
from watchd.control import links
from watchd.core.clock import Clock
from watchd.delivery.notify.contacts import Contact
from watchd.delivery.outbox import Deliverable
from watchd.delivery.tickets.builtin import BuiltinBackend
from watchd.delivery.tickets.channel import TicketChannel
from watchd.store import Store

if TYPE_CHECKING:
    from watchd.delivery.notify.channel import Transport

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
    from watchd.delivery.notify.channel import NotifyChannel

    channels: dict[str, Deliverable] = {}
    n = config.notify
    link_maker = links.links(config)
    for name, contact in config.contacts.items():
        for medium, transport in contact_transports(config, contact, bus).items():
            channels[f"notify:{name}:{medium}"] = NotifyChannel(
                contact, transport, store.db, n.ticket_wait, clock.time,
                None if link_maker is None else link_maker.url,
            )  # fmt: skip
    return channels


def contact_transports(
    config: Config, contact: Contact, bus: Callable[[], object] = lambda: None
) -> dict[str, Transport]:
    """One contact's transports by medium, in the order of Contact.media (also `watchd notify test`)."""
    from watchd.delivery.notify.channel import MqttTransport, WebhookTransport, email_transport

    n = config.notify
    transports: dict[str, Transport] = {}
    if contact.email:
        transports["email"] = email_transport(n.smtp, n.sender, contact.email, n.domain)
    if contact.webhook_url:
        transports["webhook"] = WebhookTransport(contact.webhook_url, contact.webhook_format)
    if contact.mqtt:
        transports["mqtt"] = MqttTransport(contact.name, bus)
    transports.update(_paging_transports(config, contact))
    return transports


def _paging_transports(config: Config, contact: Contact) -> dict[str, Transport]:
    """The paging media of a contact; each client module loads only when some contact uses it."""
    out: dict[str, Transport] = {}
    gateways = config.notify.gateways
    for medium, gateway in (("sms", contact.sms), ("voice", contact.voice)):
        if gateway is not None:
            from watchd.delivery.paging.gateway import GatewayTransport

            out[medium] = GatewayTransport(gateways[gateway], contact.phone)
    if contact.pagerduty is not None:
        from watchd.delivery.paging.pagerduty import PagerDutyTransport

        out["pagerduty"] = PagerDutyTransport(contact.pagerduty)
    if contact.opsgenie is not None:
        from watchd.delivery.paging.opsgenie import OpsgenieTransport

        out["opsgenie"] = OpsgenieTransport(contact.opsgenie)
    if contact.apprise:
        from watchd.delivery.paging.apprise_channel import AppriseTransport

        out["apprise"] = AppriseTransport(contact.apprise)
    return out


async def close_channels(channels: Iterable[Deliverable]) -> None:
    for ch in channels:
        close = getattr(ch, "close", None)
        if close is None:
            continue
        try:
            await close()
        except Exception:
            log.exception("closing a delivery channel failed")
