"""The email backend against real aiosmtpd servers: threading headers, TLS, AUTH and error mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tickethelpers import SMTP_PASSWORD, SMTP_USER, MakeIntent, SMTPFixture, free_port

from watchd.core.errors import DeliveryError, ParamError
from watchd.delivery.tickets.email import EmailBackend, msgid_token

KEY = "watchd-web01-disk_root-17"
ROOT = f"<watchd.{KEY}@watchd.example>"
BASE = {"to": "h@example.com", "from": "w@example.com"}


def backend(server: SMTPFixture, **kw: Any) -> EmailBackend:
    return EmailBackend(["helpdesk@example.com"], "watchd <watchd@example.com>", host=server.host,
                        port=server.port, domain="watchd.example", timeout=5, **kw)  # fmt: skip


async def test_thread_open_update_resolve_reopen(smtp: SMTPFixture, make_intent: MakeIntent) -> None:
    """The open mail is the thread root; every later mail has its own ID and points at the root."""
    b = backend(smtp)
    for kind, op_id in (("open", 1), ("update", 2), ("resolve", 3), ("reopen", 4)):
        assert await b.deliver(make_intent(kind, op_id=op_id, subject=f"{kind} it"), None) == KEY
    opened, updated, resolved, reopened = smtp.mailbox.messages()
    assert opened["Message-ID"] == ROOT
    assert opened["In-Reply-To"] is None
    assert opened["References"] is None
    for msg, op_id in ((updated, 2), (resolved, 3), (reopened, 4)):
        assert msg["Message-ID"] == f"<watchd.{KEY}.{op_id}@watchd.example>"
        assert msg["In-Reply-To"] == ROOT
        assert msg["References"] == ROOT
    assert [m["Subject"] for m in (opened, resolved)] == [
        f"[watchd #{KEY}] open it",
        f"[watchd #{KEY}] resolve it",
    ]
    assert {m["X-Watchd-Key"] for m in smtp.mailbox.messages()} == {KEY}
    assert [m["X-Watchd-Kind"] for m in smtp.mailbox.messages()] == ["open", "update", "resolve", "reopen"]


async def test_envelope_and_body(smtp: SMTPFixture, make_intent: MakeIntent) -> None:
    """The envelope uses the bare addresses; the text body has the intent's text and its details."""
    await backend(smtp).deliver(make_intent(body="DISK CRITICAL - / 97% used"), None)
    [envelope] = smtp.mailbox.envelopes
    assert envelope.mail_from == "watchd@example.com"
    assert envelope.rcpt_tos == ["helpdesk@example.com"]
    [msg] = smtp.mailbox.messages()
    assert msg["From"] == "watchd <watchd@example.com>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "text/plain"
    text = msg.get_content().replace("\r\n", "\n")
    assert text.startswith("DISK CRITICAL - / 97% used\n")
    assert "Respond by: 2024-05-01T13:00:00Z" in text
    assert f"Incident:   17 ({KEY})" in text


async def test_html_alternative(smtp: SMTPFixture, make_intent: MakeIntent) -> None:
    """With html on, the mail is multipart/alternative with the text first and escaped HTML second."""
    await backend(smtp, html=True).deliver(make_intent(body="load <high> & rising"), None)
    [msg] = smtp.mailbox.messages()
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert "load <high> & rising" in text.get_content()
    assert "load &lt;high&gt; &amp; rising" in html.get_content()


async def test_subject_newlines_are_folded(smtp: SMTPFixture, make_intent: MakeIntent) -> None:
    """A subject with line breaks cannot inject headers: it is sent as one line."""
    await backend(smtp).deliver(make_intent(subject="disk full\r\nBcc: victim@example.com"), None)
    [msg] = smtp.mailbox.messages()
    assert msg["Subject"] == f"[watchd #{KEY}] disk full Bcc: victim@example.com"
    assert msg["Bcc"] is None


@pytest.mark.parametrize(
    ("key", "token"),
    [
        pytest.param("watchd-web01-disk_root-17", "watchd-web01-disk_root-17", id="plain-kept"),
        pytest.param("web01:disk.root", "web01=3Adisk=2Eroot", id="colon-and-dot-encoded"),
        pytest.param("a=3A", "a=3D3A", id="equals-encoded-so-distinct"),
    ],
)
def test_msgid_token(key: str, token: str) -> None:
    """Key characters outside [A-Za-z0-9_-] become =XX so Message-IDs stay valid and distinct."""
    assert msgid_token(key) == token


@pytest.mark.parametrize(
    ("rcpt_reply", "data_reply", "retryable", "code"),
    [
        pytest.param("550 5.1.1 no such user", None, False, "550", id="rcpt-550-permanent"),
        pytest.param("451 4.3.0 try later", None, True, "451", id="rcpt-451-retry"),
        pytest.param(None, "554 5.6.0 message refused", False, "554", id="data-554-permanent"),
        pytest.param(None, "451 4.3.0 queue full", True, "451", id="data-451-retry"),
    ],
)
async def test_smtp_replies(
    smtp: SMTPFixture,
    make_intent: MakeIntent,
    rcpt_reply: str | None,
    data_reply: str | None,
    retryable: bool,
    code: str,
) -> None:
    """SMTP 5xx replies are permanent failures, 4xx replies are retried; the reason quotes the reply."""
    smtp.mailbox.rcpt_reply, smtp.mailbox.data_reply = rcpt_reply, data_reply
    with pytest.raises(DeliveryError) as err:
        await backend(smtp).deliver(make_intent(), None)
    assert err.value.retryable is retryable
    assert code in err.value.reason
    assert smtp.mailbox.envelopes == []


async def test_connection_refused_is_retryable(make_intent: MakeIntent) -> None:
    """No server listening is a retryable failure."""
    b = EmailBackend(
        ["hd@example.com"], "w@example.com", host="127.0.0.1", port=free_port(), domain="x.example"
    )
    with pytest.raises(DeliveryError) as err:
        await b.deliver(make_intent(), None)
    assert err.value.retryable


async def test_starttls_with_auth(smtp_starttls: SMTPFixture, make_intent: MakeIntent) -> None:
    """STARTTLS verified against the given CA file, then AUTH, then the mail is accepted."""
    b = backend(smtp_starttls, starttls=True, ca_file=str(smtp_starttls.cert), username=SMTP_USER,
                password=SMTP_PASSWORD)  # fmt: skip
    await b.deliver(make_intent(), None)
    assert len(smtp_starttls.mailbox.messages()) == 1


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        pytest.param({"starttls": True, "username": SMTP_USER, "password": "x"}, "535", id="bad-password"),
        pytest.param({"starttls": True}, "530", id="auth-required"),
        pytest.param({}, "530", id="starttls-required"),
        pytest.param({"username": SMTP_USER, "password": SMTP_PASSWORD}, "AUTH extension not supported",
                     id="auth-only-after-starttls"),
        pytest.param({"starttls": True, "username": SMTP_USER, "password": SMTP_PASSWORD, "ca_file": None},
                     "certificate not trusted", id="untrusted-cert"),
    ],
)  # fmt: skip
async def test_starttls_failures(
    smtp_starttls: SMTPFixture,
    make_intent: MakeIntent,
    options: dict[str, Any],
    fragment: str,
) -> None:
    """Refused credentials, a skipped STARTTLS or AUTH, and an untrusted certificate are permanent."""
    options = {"ca_file": str(smtp_starttls.cert), **options}
    if not (options.get("starttls") or options.get("ssl")):
        options.pop("ca_file")
    with pytest.raises(DeliveryError) as err:
        await backend(smtp_starttls, **options).deliver(make_intent(), None)
    assert not err.value.retryable
    assert fragment in err.value.reason
    assert smtp_starttls.mailbox.envelopes == []


async def test_starttls_without_verification(smtp_starttls: SMTPFixture, make_intent: MakeIntent) -> None:
    """verify=False accepts the self-signed certificate without a CA file."""
    b = backend(smtp_starttls, starttls=True, verify=False, username=SMTP_USER, password=SMTP_PASSWORD)
    await b.deliver(make_intent(), None)
    assert len(smtp_starttls.mailbox.messages()) == 1


async def test_smtps(smtps: SMTPFixture, make_intent: MakeIntent) -> None:
    """Implicit TLS (SMTPS) with the CA file delivers the mail."""
    await backend(smtps, ssl=True, ca_file=str(smtps.cert)).deliver(make_intent(), None)
    [msg] = smtps.mailbox.messages()
    assert msg["Message-ID"] == ROOT


def test_from_config(tmp_path: Path) -> None:
    """A full mapping builds the backend; the password comes from a file relative to the config dir."""
    (tmp_path / "smtp.pass").write_text("pw\n")
    b = EmailBackend.from_config(
        {
            "to": "helpdesk@example.com",
            "from": "watchd@example.com",
            "host": "mail.example.com",
            "starttls": True,
            "username": "watchd",
            "password_file": "smtp.pass",
            "domain": "mon.example.com",
            "html": True,
            "timeout": 10,
        },
        base_dir=str(tmp_path),
    )
    assert (b.to, b.port, b.starttls, b.ssl, b._password, b.domain, b.html, b.timeout) == (
        ("helpdesk@example.com",), 587, True, False, "pw", "mon.example.com", True, 10.0
    )  # fmt: skip


@pytest.mark.parametrize(
    ("params", "key"),
    [
        pytest.param({"from": "w@example.com"}, "to", id="to-required"),
        pytest.param({"to": ["not-an-address"], "from": "w@example.com"}, "to[0]", id="to-address"),
        pytest.param({"to": "h@example.com"}, "from", id="from-required"),
        pytest.param({**BASE, "ssl": True, "starttls": True}, "starttls", id="ssl-and-starttls"),
        pytest.param({**BASE, "password": "x"}, "password", id="inline-password"),
        pytest.param({**BASE, "username": "u"}, "password_file", id="username-without-password"),
        pytest.param({**BASE, "ca_file": "/etc/ssl/ca.pem"}, "ca_file", id="ca-file-without-tls"),
        pytest.param({**BASE, "domain": "bad domain"}, "domain", id="domain"),
        pytest.param({**BASE, "port": 70000}, "port", id="port-range"),
        pytest.param({**BASE, "subject_tag": "x"}, "subject_tag", id="unknown-key"),
    ],
)  # fmt: skip
def test_from_config_errors(params: dict[str, Any], key: str) -> None:
    """Bad or unknown keys raise ParamError naming the key."""
    with pytest.raises(ParamError) as err:
        EmailBackend.from_config(params)
    assert err.value.key == key
