"""Sending one mail over SMTP (plain, STARTTLS or SMTPS, optional AUTH), with errors mapped to
retry-or-fail. Shared by the email ticket backend and the email notifier; runs in a worker thread."""

from __future__ import annotations

import asyncio
import ssl  # asyncio has loaded it already
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watchd.core.errors import DeliveryError

if TYPE_CHECKING:
    from email.message import EmailMessage


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str = "localhost"
    port: int | None = None  # None: 465 with ssl, 587 with starttls, else 25
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    verify: bool = True
    timeout: float = 30.0

    @property
    def effective_port(self) -> int:
        return self.port or (465 if self.ssl else 587 if self.starttls else 25)


async def send(
    settings: SmtpSettings, msg: EmailMessage, sender: str, to: Sequence[str]
) -> dict[str, tuple[int, bytes]]:
    """Send; returns refused recipients of a partial success; DeliveryError otherwise."""
    return await asyncio.to_thread(_send, settings, msg, sender, to)


def _tls(s: SmtpSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=s.ca_file)
    if not s.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _send(s: SmtpSettings, msg: EmailMessage, sender: str, to: Sequence[str]) -> dict[str, tuple[int, bytes]]:
    import smtplib  # loaded with the first mail: a daemon that never mails never pays for it
    from email.utils import parseaddr

    where = f"SMTP {s.host}:{s.effective_port}"
    try:
        smtp: smtplib.SMTP
        if s.ssl:
            smtp = smtplib.SMTP_SSL(s.host, s.effective_port, timeout=s.timeout, context=_tls(s))
        else:
            smtp = smtplib.SMTP(s.host, s.effective_port, timeout=s.timeout)
        with smtp:
            if s.starttls:
                smtp.starttls(context=_tls(s))
            if s.username is not None and s.password is not None:
                smtp.login(s.username, s.password)
            return smtp.send_message(
                msg, from_addr=parseaddr(sender)[1], to_addrs=[parseaddr(a)[1] for a in to]
            )
    except smtplib.SMTPRecipientsRefused as exc:
        detail = "; ".join(f"{rcpt}: {code} {_text(m)}" for rcpt, (code, m) in exc.recipients.items())
        retry = any(not 500 <= code < 600 for code, _ in exc.recipients.values())
        raise DeliveryError(f"{where}: recipients refused: {detail}", retryable=retry) from None
    except smtplib.SMTPResponseException as exc:
        retry = not 500 <= exc.smtp_code < 600
        raise DeliveryError(f"{where}: {exc.smtp_code} {_text(exc.smtp_error)}", retryable=retry) from None
    except smtplib.SMTPServerDisconnected as exc:
        raise DeliveryError(f"{where}: disconnected: {exc}", retryable=True) from None
    except smtplib.SMTPException as exc:  # STARTTLS/AUTH not offered, no usable AUTH mechanism
        raise DeliveryError(f"{where}: {exc}", retryable=False) from None
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(f"{where}: certificate not trusted: {exc.verify_message}", False) from None
    except OSError as exc:  # refused, unreachable, timeout, TLS handshake trouble
        raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}", retryable=True) from None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
