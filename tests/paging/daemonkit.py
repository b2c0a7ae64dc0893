"""What the paging tests that run a real daemon share: a real SMTP server (aiosmtpd), the PagerDuty
stand-in as a fixture, a free port, waiting for the outbox, and reading the store."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from .standins.pagerduty import PagerDutyStandIn


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), ready_timeout=10)
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
async def pagerduty() -> AsyncIterator[PagerDutyStandIn]:
    standin = PagerDutyStandIn()
    await standin.start()
    yield standin
    await standin.stop()


async def until(what: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait for the outbox (real time: it delivers on its own task) to make `what` true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not what():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        return await r.json()


def outbox(root: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(root / "data" / "watchd.db")
    try:
        return db.execute("SELECT channel, kind, status FROM outbox ORDER BY id").fetchall()
    finally:
        db.close()


def incident(root: Path) -> tuple[str | None, str]:
    db = sqlite3.connect(root / "data" / "watchd.db")
    try:
        return db.execute("SELECT acked_by, status FROM incidents ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        db.close()
