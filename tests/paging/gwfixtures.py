"""Fixtures for the gateway and apprise tests (imported by those test modules: pytest loads only
conftest.py by itself, and tests/paging/conftest.py belongs to the other paging channels).

Every stand-in is a real aiohttp server on 127.0.0.1 with a free port, stopped after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from watchd.delivery.notify.messages import Message

from .standins.messagebird import MessageBird
from .standins.push import Gotify, Ntfy
from .standins.twilio import Twilio

ACK_URL = "https://watchd.example.net/ack/tok_4f9a8b7c6d5e4f3a2b1c"


def page_facts(**over: Any) -> dict[str, Any]:
    """The facts of a P1 incident as the notify channel passes them."""
    facts: dict[str, Any] = {
        "key": "watchd-web01-shop-1",
        "host": "web01",
        "check": "shop",
        "description": "shop",
        "state": "CRITICAL",
        "summary": "HTTP 503 Service Unavailable",
        "priority": "P1",
        "impact": "high",
        "urgency": "high",
        "opened_at": 1760000000.0,
        "respond_by": 1760000900.0,
        "at": 1760000000.0,
        "acked_by": "",
        "ticket": "watchd-web01-shop-1",
        "contact_name": "Alice",
        "timezone": "Europe/Amsterdam",
        "ack_url": ACK_URL,
    }
    facts.update(over)
    return facts


def page_message(subject: str = "[P1] web01 shop CRITICAL", text: str = "web01 shop is CRITICAL") -> Message:
    return Message(subject=subject, text=text, html=f"<p>{text}</p>")


@pytest.fixture
async def twilio() -> AsyncIterator[Twilio]:
    server = Twilio()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def messagebird() -> AsyncIterator[MessageBird]:
    server = MessageBird()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def ntfy() -> AsyncIterator[Ntfy]:
    server = Ntfy()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def gotify() -> AsyncIterator[Gotify]:
    server = Gotify()
    await server.start()
    yield server
    await server.stop()
