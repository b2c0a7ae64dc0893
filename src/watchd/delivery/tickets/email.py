"""Tickets by mail to a helpdesk address (RT, Zammad, OTRS/Znuny, Freshdesk, a shared mailbox).

Threading, so that a helpdesk files every later mail into the ticket the first one opened:

    open                Message-ID: <watchd.<key>@<domain>>
    update/resolve/     Message-ID: <watchd.<key>.<op_id>@<domain>>
    reopen              In-Reply-To and References: <watchd.<key>@<domain>>
    every mail          Subject: [watchd #<key>] <subject>      X-Watchd-Key: <key>

Characters of the key outside [A-Za-z0-9_-] are written as `=XX` (hex of each UTF-8 byte) inside
Message-IDs, so they stay valid and distinct. The ref returned is the incident key.

Mail cannot be looked up before sending, so exactly-once ends at the SMTP server: a crash after the
server accepted a message but before the outbox marked it sent repeats the mail with the same
Message-ID, which most helpdesks and mail stores recognise as a duplicate. Sending is watchd.mail's
(5xx replies are permanent, 4xx replies and connection trouble are retried).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, parseaddr
from typing import Any

import structlog

from watchd.core.errors import ParamError
from watchd.delivery import smtp as mail
from watchd.delivery.tickets import TicketIntent
from watchd.delivery.tickets.render import Options, render_html, render_text

log = structlog.get_logger("watchd.tickets.email")

_DOMAIN = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)
_PLAIN = re.compile(r"[A-Za-z0-9_-]")


def msgid_token(text: str) -> str:
    """`text` as Message-ID atext: [A-Za-z0-9_-] kept, every other byte as `=XX`."""
    return "".join(ch if _PLAIN.fullmatch(ch) else "".join(f"={b:02X}" for b in ch.encode()) for ch in text)


def thread_root_id(key: str, domain: str) -> str:
    """The Message-ID of the mail that opens the ticket; every later mail refers to it."""
    return f"<watchd.{msgid_token(key)}@{domain}>"


def message_id(intent: TicketIntent, domain: str) -> str:
    if intent.kind == "open":
        return thread_root_id(intent.key, domain)
    return f"<watchd.{msgid_token(intent.key)}.{intent.op_id}@{domain}>"


def subject(intent: TicketIntent) -> str:
    return f"[watchd #{intent.key}] {_one_line(intent.subject)}"


def default_domain() -> str:
    fqdn = socket.getfqdn()
    return fqdn if _DOMAIN.match(fqdn) else "localhost"


class EmailBackend:
    """Sends each intent as one mail over SMTP (plain, STARTTLS or SMTPS, optional AUTH)."""

    name = "email"

    def __init__(
        self,
        to: Sequence[str],
        sender: str,
        *,
        host: str = "localhost",
        port: int | None = None,
        starttls: bool = False,
        ssl: bool = False,
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        verify: bool = True,
        domain: str | None = None,
        html: bool = False,
        timeout: float = 30.0,
    ) -> None:
        if not to:
            raise ValueError("at least one recipient is needed")
        if starttls and ssl:
            raise ValueError("starttls and ssl exclude each other")
        if (username is None) != (password is None):
            raise ValueError("SMTP AUTH needs both username and password")
        self.to = tuple(to)
        self.sender = sender
        self.host = host
        self.port = port if port is not None else (465 if ssl else 587 if starttls else 25)
        self.starttls = starttls
        self.ssl = ssl
        self.username = username
        self._password = password
        self.ca_file = ca_file
        self.verify = verify
        self.domain = domain or default_domain()
        if not _DOMAIN.match(self.domain):
            raise ValueError(f"not a valid Message-ID domain: {self.domain!r}")
        self.html = html
        self.timeout = timeout

    @classmethod
    def from_config(cls, params: Mapping[str, Any], *, base_dir: str | None = None) -> EmailBackend:
        """Build from a config mapping; ParamError names the bad key. Relative paths use base_dir."""
        o = Options(params, base_dir)
        to = o.text_list("to", required=True)
        for i, address in enumerate(to):
            if "@" not in parseaddr(address)[1]:
                raise ParamError(f"to[{i}]", f"not a mail address: {address!r}")
        sender = o.required("from")
        if "@" not in parseaddr(sender)[1]:
            raise ParamError("from", f"not a mail address: {sender!r}")
        host = o.text("host", "localhost")
        assert host is not None
        port = o.integer("port", 0, low=1, high=65535)  # 0: the default for the mode (25, 587, 465)
        use_ssl = o.flag("ssl", False)
        starttls = o.flag("starttls", False)
        if use_ssl and starttls:
            raise ParamError("starttls", "give starttls (port 587) or ssl (SMTPS, port 465), not both")
        username = o.text("username")
        password = o.secret("password", required=False)
        if (username is None) != (password is None):
            raise ParamError(
                "password_file" if username else "username", "SMTP AUTH needs username and password"
            )
        ca_file = o.path("ca_file")
        verify = o.flag("verify", True)
        if (ca_file is not None or not verify) and not (use_ssl or starttls):
            raise ParamError("ca_file" if ca_file else "verify", "only used with starttls or ssl")
        domain = o.text("domain")
        if domain is not None and not _DOMAIN.match(domain):
            raise ParamError("domain", f"expected a host name such as watchd.example.com, got {domain!r}")
        html = o.flag("html", False)
        timeout = o.number("timeout", 30.0, low=1.0, high=600.0)
        o.done()
        return cls(
            to,
            sender,
            host=host,
            port=port or None,
            starttls=starttls,
            ssl=use_ssl,
            username=username,
            password=password,
            ca_file=ca_file,
            verify=verify,
            domain=domain,
            html=html,
            timeout=timeout,
        )

    def build(self, intent: TicketIntent) -> EmailMessage:
        """The message for one intent (pure apart from the Date header)."""
        msg = EmailMessage(policy=SMTP_POLICY)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Subject"] = subject(intent)
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = message_id(intent, self.domain)
        if intent.kind != "open":
            root = thread_root_id(intent.key, self.domain)
            msg["In-Reply-To"] = root
            msg["References"] = root
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Watchd-Key"] = intent.key
        msg["X-Watchd-Kind"] = intent.kind
        msg["X-Watchd-Op"] = str(intent.op_id)
        msg["X-Watchd-Priority"] = _one_line(intent.priority)
        msg["X-Watchd-Host"] = _one_line(intent.host)
        msg["X-Watchd-Check"] = _one_line(intent.check)
        msg.set_content(render_text(intent))
        if self.html:
            msg.add_alternative(render_html(intent), subtype="html")
        return msg

    async def deliver(self, intent: TicketIntent, ref: str | None) -> str:
        msg = self.build(intent)
        refused = await mail.send(self.smtp, msg, self.sender, self.to)
        if refused:
            log.warning(
                "some ticket mail recipients refused",
                key=intent.key,
                op_id=intent.op_id,
                refused={k: f"{c} {m.decode(errors='replace')}" for k, (c, m) in refused.items()},
            )
        return intent.key

    async def close(self) -> None:
        """Nothing to close: every delivery uses its own SMTP connection."""

    @property
    def smtp(self) -> mail.SmtpSettings:
        return mail.SmtpSettings(
            self.host, self.port, self.starttls, self.ssl, self.username, self._password, self.ca_file,
            self.verify, self.timeout,
        )  # fmt: skip


def _one_line(text: str) -> str:
    return " ".join(text.split())
