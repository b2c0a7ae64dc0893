"""Fixtures for the ticket backends: intents, a real RT 5, a webhook receiver, SMTP servers.

Every server is real and bound to 127.0.0.1: RT 5 from Debian (once per session), an aiohttp app,
and aiosmtpd controllers (plain, STARTTLS with a throwaway certificate, SMTPS).
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from tickethelpers import (
    LIMITED_RT_USER,
    WEBHOOK_SECRET,
    Mailbox,
    MakeIntent,
    Receiver,
    SMTPFixture,
    authenticate,
    free_port,
    intent,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers.redmine import RedmineServer, RedmineUnavailable, start_redmine
from servers.redmine import ensure_installed as ensure_redmine
from servers.rt import RTServer, RTUnavailable, ensure_installed, start_rt


@pytest.fixture
def make_intent() -> MakeIntent:
    """Build a TicketIntent with realistic defaults: `make_intent("update", key=..., op_id=2)`."""
    return intent


# -- Request Tracker -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RTServer]:
    """A real RT 5 (installed from Debian when missing) on a free port, for the whole session."""
    try:
        ensure_installed()
    except RTUnavailable as exc:
        pytest.skip(f"Request Tracker 5 could not be installed: {exc}")
    with start_rt(tmp_path_factory.mktemp("rt"), users=[LIMITED_RT_USER]) as server:
        yield server


# -- Redmine -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redmine_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedmineServer]:
    """A real Redmine 5 (Debian's package, installed when missing) on a free port, for the session."""
    try:
        ensure_redmine()
    except RedmineUnavailable as exc:
        pytest.skip(f"Redmine could not be installed: {exc}")
    with start_redmine(tmp_path_factory.mktemp("redmine")) as server:
        yield server


# -- webhook receiver ------------------------------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on 127.0.0.1 that checks X-Watchd-Signature with WEBHOOK_SECRET."""
    rec = Receiver(WEBHOOK_SECRET)
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    rec.url = f"http://{host}:{port}/hook"
    yield rec
    rec.release.set()
    await runner.cleanup()


# -- SMTP ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl CLI): (cert, key)."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _controller(mailbox: Mailbox, **kwargs: Any) -> Controller:
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), ready_timeout=10, **kwargs)
    controller.start()
    return controller


@pytest.fixture
def smtp() -> Iterator[SMTPFixture]:
    """A plain SMTP server on 127.0.0.1 that accepts everything (set mailbox replies to refuse)."""
    mailbox = Mailbox()
    controller = _controller(mailbox)
    yield SMTPFixture("127.0.0.1", controller.port, mailbox)
    controller.stop()


@pytest.fixture
def smtp_starttls(tls_cert: tuple[Path, Path]) -> Iterator[SMTPFixture]:
    """An SMTP server that requires STARTTLS (self-signed cert) and AUTH (SMTP_USER/SMTP_PASSWORD)."""
    cert, key = tls_cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    controller = _controller(
        mailbox,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    yield SMTPFixture("127.0.0.1", controller.port, mailbox, cert)
    controller.stop()


@pytest.fixture
def smtps(tls_cert: tuple[Path, Path]) -> Iterator[SMTPFixture]:
    """An SMTPS server (TLS from the first byte, self-signed cert) that accepts everything."""
    cert, key = tls_cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    controller = _controller(mailbox, ssl_context=context)
    yield SMTPFixture("127.0.0.1", controller.port, mailbox, cert)
    controller.stop()
