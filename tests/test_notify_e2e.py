"""Notifications end to end: `watchd run` as a subprocess, a real SMTP server (aiosmtpd) and real
webhook receivers (aiohttp), all on 127.0.0.1. A plugin whose exit code comes from a file drives an
incident through open, acknowledgement and recovery; the tests check that the right people get the
right messages, once, in the right language and in the documented webhook shapes."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

pytestmark = pytest.mark.slow

KEY = "watchd-web01-shop-1"  # the builtin ticket key: the ticket number when only builtin tickets exist
SENDER = "watchd@provider.test"
ACME, ONCALL = "ops@acme.test", "oncall@provider.test"

# Slack incoming webhooks (api.slack.com/messaging/webhooks, Block Kit): `text` is the notification
# fallback; header blocks take plain_text only, section blocks take mrkdwn or plain_text.
_TEXT_OBJECT = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"enum": ["plain_text", "mrkdwn"]}, "text": {"type": "string", "minLength": 1}},
}
SLACK_SCHEMA = {
    "type": "object",
    "required": ["text", "blocks"],
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "blocks": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["type", "text"],
                "properties": {"type": {"enum": ["header", "section"]}, "text": _TEXT_OBJECT},
                "allOf": [
                    {
                        "if": {"properties": {"type": {"const": "header"}}},
                        "then": {
                            "properties": {
                                "text": {
                                    "properties": {
                                        "type": {"const": "plain_text"},
                                        "text": {"maxLength": 150},
                                    }
                                }
                            }
                        },
                    },
                    {
                        "if": {"properties": {"type": {"const": "section"}}},
                        "then": {
                            "properties": {
                                "text": {
                                    "properties": {"type": {"const": "mrkdwn"}, "text": {"maxLength": 3000}}
                                }
                            }
                        },
                    },
                ],
            },
        },
    },
}
# Teams Workflows webhooks: a message whose one attachment is an Adaptive Card 1.4 of TextBlocks.
TEAMS_SCHEMA = {
    "type": "object",
    "required": ["type", "attachments"],
    "properties": {
        "type": {"const": "message"},
        "attachments": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "required": ["contentType", "content"],
                "properties": {
                    "contentType": {"const": "application/vnd.microsoft.card.adaptive"},
                    "content": {
                        "type": "object",
                        "required": ["type", "version", "body"],
                        "properties": {
                            "type": {"const": "AdaptiveCard"},
                            "version": {"const": "1.4"},
                            "body": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["type", "text"],
                                    "properties": {
                                        "type": {"const": "TextBlock"},
                                        "text": {"type": "string", "minLength": 1},
                                        "wrap": {"type": "boolean"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}
# Mattermost incoming webhooks: `text` (markdown), optional `username`.
MATTERMOST_SCHEMA = {
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string", "minLength": 1}, "username": {"type": "string"}},
}
# watchd's own generic shape.
JSON_SCHEMA = {
    "type": "object",
    "required": ["schema", "event", "subject", "text", "facts"],
    "properties": {
        "schema": {"const": "watchd.notification/v1"},
        "event": {"type": "string"},
        "subject": {"type": "string"},
        "text": {"type": "string"},
        "facts": {
            "type": "object",
            "required": ["key", "check", "host", "state"],
            "not": {"required": ["detail"]},
        },
    },
}
SCHEMAS = {"slack": SLACK_SCHEMA, "teams": TEAMS_SCHEMA, "mattermost": MATTERMOST_SCHEMA, "json": JSON_SCHEMA}


# -- servers -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    msg: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.msg["Subject"])

    @property
    def text(self) -> str:
        return _lf(self.msg.get_body(("plain",)).get_content())  # type: ignore[union-attr]

    @property
    def html(self) -> str:
        return _lf(self.msg.get_body(("html",)).get_content())  # type: ignore[union-attr]


def _lf(text: str) -> str:
    """Parts as sent (SMTP line endings, a final newline) back to the rendered text."""
    return text.replace("\r\n", "\n").removesuffix("\n")


class Mailbox:
    """aiosmtpd handler: records every message; the first `reject_first` get a 451 at end of DATA."""

    def __init__(self, reject_first: int = 0) -> None:
        self.lock = threading.Lock()
        self.reject_first = reject_first
        self.accepted: list[Mail] = []
        self.rejected: list[Mail] = []

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        mail = Mail(str(envelope.mail_from), tuple(envelope.rcpt_tos), msg)
        with self.lock:
            if len(self.rejected) < self.reject_first:
                self.rejected.append(mail)
                return "451 4.3.0 Temporary local problem, try again later"
            self.accepted.append(mail)
        return "250 2.0.0 Message accepted for delivery"

    def to(self, rcpt: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.accepted if rcpt in m.rcpt_tos]

    def events(self, rcpt: str) -> list[str]:
        return [str(m.msg["X-Watchd-Event"]) for m in self.to(rcpt)]


@dataclass(frozen=True, slots=True)
class Call:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Hooks:
    """Webhook receivers: one path per contact, every POST recorded."""

    base: str = ""
    calls: dict[str, list[Call]] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.setdefault(request.match_info["name"], []).append(Call(dict(request.headers), body))
        return web.Response(text="ok")

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def count(self, name: str) -> int:
        return len(self.calls.get(name, []))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(request: pytest.FixtureRequest) -> Iterator[tuple[Mailbox, int]]:
    """A plain SMTP server on 127.0.0.1; parametrize indirectly with N to 451 the first N messages."""
    mailbox = Mailbox(getattr(request, "param", 0))
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), ready_timeout=10)
    controller.start()
    yield mailbox, controller.port
    controller.stop()


@pytest.fixture
async def hooks() -> AsyncIterator[Hooks]:
    rec = Hooks()
    app = web.Application()
    app.router.add_post("/hook/{name}", rec.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    rec.base = f"http://{host}:{port}/hook"
    yield rec
    await runner.cleanup()


# -- the daemon --------------------------------------------------------------------------------------


class Site:
    """A config with one check `shop` whose plugin exits with the code in a file, and a daemon."""

    def __init__(self, root: Path, smtp_port: int, hooks: Hooks, watchd_cmd: list[str], tickets: str) -> None:
        self.root = root
        self.watchd_cmd = watchd_cmd
        self.code = root / "shop.code"
        self.code.write_text("0")
        plugin = root / "check_shop"
        plugin.write_text(f'#!/bin/sh\nc=$(cat {self.code})\necho "SHOP code $c"\nexit $c\n')
        plugin.chmod(0o755)
        self.log = root / "daemon.log"
        self.cfg = root / "watchd.yaml"
        self.cfg.write_text(f"""
host: web01
data_dir: {root / "data"}
timezone: Europe/Berlin  # the display zone: every contact's unless it sets its own
api: {{enabled: false}}
log: {{level: info, format: json}}
scheduler: {{followup_interval: 1s}}
defaults: {{interval: 0.2s, retry_interval: 0.2s, max_attempts: 1}}
{tickets}
contacts:
  acme:
    kind: customer
    name: ACME B.V.
    language: nl
    email: [{ACME}]
    webhook: {{url: "{hooks.url("acme")}", format: slack}}
  oncall:
    kind: oncall
    email: [{ONCALL}]
    webhook: {{url: "{hooks.url("oncall")}", format: teams}}
  mm: {{kind: customer, name: Beta Ltd, webhook: {{url: "{hooks.url("mm")}", format: mattermost}}}}
  hook: {{kind: oncall, webhook: {{url: "{hooks.url("hook")}", format: json}}}}
notify:
  smtp: {{host: 127.0.0.1, port: {smtp_port}, timeout: 5s, from: {SENDER}}}
checks:
  shop:
    command: [{plugin}]
    description: Webshop
    impact: high
    notify: [acme, oncall, mm, hook]
""")
        self.proc: subprocess.Popen[bytes] | None = None

    def set(self, code: int) -> None:
        self.code.write_text(str(code))

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("WATCHD_FAULT", "NOTIFY_SOCKET")}
        with self.log.open("ab") as log:
            argv = [*self.watchd_cmd, "run", "--config", str(self.cfg)]
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)

    async def stop(self) -> int | None:
        """SIGTERM, then wait without blocking the loop (the webhook receivers live on it)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            await until(lambda: self.proc is not None and self.proc.poll() is not None, "daemon exit", self)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    async def cli(self, *args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.watchd_cmd, *args, "--config", str(self.cfg),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        return proc.returncode or 0, out.decode()

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        path = self.root / "data" / "watchd.db"
        if not path.exists():
            return []
        db = sqlite3.connect(path, timeout=5)
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # schema not there yet
            return []
        finally:
            db.close()

    def state(self) -> int | None:
        rows = self.query("SELECT state FROM check_status WHERE check_name = 'shop'")
        return rows[0][0] if rows else None

    def drained(self) -> bool:
        """Every outbox row has left the pending state."""
        rows = self.query("SELECT count(*), sum(status = 'pending') FROM outbox")
        return bool(rows and rows[0][0] and not rows[0][1])

    def rows(self) -> dict[tuple[str, str], int]:
        """(channel, kind) -> outbox row id; asserts every row was delivered and none is doubled."""
        rows = self.query("SELECT id, channel, kind, status, last_error FROM outbox ORDER BY id")
        assert [(c, k, s) for _, c, k, s, _ in rows if s != "done"] == [], rows
        out = {(c, k): i for i, c, k, _, _ in rows}
        assert len(out) == len(rows), f"an event was queued twice for one channel: {rows}"
        return out

    def errors(self) -> list[dict[str, Any]]:
        records = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                if "Traceback" in line:
                    records.append({"line": line})
                continue
            if isinstance(rec, dict) and rec.get("level") in ("error", "critical"):
                records.append(rec)
        return records

    def tail(self, n: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


async def until(predicate: Callable[[], object], what: str, site: Site, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if site.proc is not None and site.proc.poll() is not None and what != "daemon exit":
            raise AssertionError(f"daemon exited ({site.proc.returncode}) waiting for {what}:\n{site.tail()}")
        if loop.time() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what}; daemon log:\n{site.tail()}"
            )
        await asyncio.sleep(0.05)


FAST_BACKOFF = "tickets: {base_backoff: 0.2s, max_backoff: 1s}"
HOOKS = {"acme": "slack", "oncall": "teams", "mm": "mattermost", "hook": "json"}


@pytest.fixture
def tickets() -> str:
    """The config's `tickets:` section (the deliverer's backoff); empty = defaults."""
    return ""


@pytest.fixture
async def site(
    tmp_path: Path, smtp: tuple[Mailbox, int], hooks: Hooks, watchd_cmd: list[str], tickets: str
) -> AsyncIterator[Site]:
    s = Site(tmp_path, smtp[1], hooks, watchd_cmd, tickets)
    s.start()
    try:
        await until(lambda: s.state() == 0, "the first OK result", s)
        yield s
    finally:
        await s.stop()


def arrived(mailbox: Mailbox, hooks: Hooks, n: int) -> Callable[[], bool]:
    """n messages at every email recipient and every webhook receiver."""
    return lambda: (
        all(len(mailbox.to(r)) >= n for r in (ACME, ONCALL)) and all(hooks.count(name) >= n for name in HOOKS)
    )


async def incident_then(site: Site, mailbox: Mailbox, hooks: Hooks, *, recover: bool) -> None:
    site.set(2)
    await until(arrived(mailbox, hooks, 1), "the problem notices", site)
    if recover:
        site.set(0)
        await until(arrived(mailbox, hooks, 2), "the recovery notices", site)


async def stop_when_drained(site: Site) -> None:
    await until(site.drained, "every outbox row delivered", site)
    assert await site.stop() == 0, site.tail()


def check_shape(hooks: Hooks, name: str) -> None:
    for call in hooks.calls.get(name, []):
        jsonschema.validate(call.body, SCHEMAS[HOOKS[name]])
        assert call.headers["Content-Type"] == "application/json"


def check_headers(mail: Mail, rcpt: str, row_id: int, event: str) -> None:
    m = mail.msg
    assert (mail.mail_from, mail.rcpt_tos) == (SENDER, (rcpt,))
    assert (m["From"], m["To"]) == (SENDER, rcpt)
    assert m["Message-ID"] == f"<watchd.notify.{row_id}@provider.test>"  # stable per outbox row
    assert m["Auto-Submitted"] == "auto-generated"
    assert (m["X-Watchd-Event"], m["X-Watchd-Key"]) == (event, KEY)
    assert m["Date"]
    assert m.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in m.iter_parts()] == ["text/plain", "text/html"]


def check_idempotency_keys(hooks: Hooks, rows: dict[tuple[str, str], int], events: list[str]) -> None:
    for name in HOOKS:
        keys = [c.headers.get("Idempotency-Key") for c in hooks.calls[name]]
        assert keys == [f"watchd-notify-{rows[(f'notify:{name}:webhook', e)]}" for e in events], name


# -- the tests ---------------------------------------------------------------------------------------


async def test_problem_and_recovery_reach_the_right_people_once(
    site: Site, smtp: tuple[Mailbox, int], hooks: Hooks
) -> None:
    """CRITICAL then OK: the Dutch customer gets plain Dutch, on-call gets English technical detail,
    every channel gets exactly one problem and one recovery notice, in the documented shapes."""
    mailbox = smtp[0]
    await incident_then(site, mailbox, hooks, recover=True)
    await stop_when_drained(site)

    rows = site.rows()
    channels = ["ticket:builtin", "notify:acme:email", "notify:acme:webhook", "notify:hook:webhook",
                "notify:mm:webhook", "notify:oncall:email", "notify:oncall:webhook"]  # fmt: skip
    assert sorted(rows) == sorted((c, k) for c in channels for k in ("open", "resolve"))
    assert mailbox.rejected == []
    assert mailbox.events(ACME) == mailbox.events(ONCALL) == ["open", "resolve"]
    assert len(mailbox.accepted) == 4
    assert {name: hooks.count(name) for name in HOOKS} == dict.fromkeys(HOOKS, 2)
    check_idempotency_keys(hooks, rows, ["open", "resolve"])

    # The customer: Dutch, plain language, the ticket number, when we respond; no technical detail.
    problem, recovery = mailbox.to(ACME)
    recovery_acme = recovery
    check_headers(problem, ACME, rows[("notify:acme:email", "open")], "open")
    check_headers(recovery, ACME, rows[("notify:acme:email", "resolve")], "resolve")
    assert problem.subject == f"[{KEY}] Wij werken aan een storing in Webshop"
    text = problem.text
    assert text.startswith("Beste ACME B.V.,\n\nOnze monitoring heeft een storing in Webshop vastgesteld.")
    assert f"Ticket: {KEY}\n" in text
    assert "Prioriteit: P2\n" in text
    assert re.search(r"Wij reageren uiterlijk \d{4}-\d\d-\d\d \d\d:\d\d CES?T", text), text
    for technical in ("SHOP code", "CRITICAL", "on web01", "Dear", "Summary", "P2 (impact"):
        assert technical not in text
    assert "<p>Beste ACME B.V.,</p>" in problem.html
    assert "Wij reageren uiterlijk" in problem.html
    assert recovery.text.startswith("Beste ACME B.V.,\n\nDe storing in ")
    assert f"(ticket {KEY}) is om " in recovery.text
    assert re.search(r"De storing duurde \d+ min\.\n\nDank voor uw geduld\.$", recovery.text), recovery.text

    # On-call: English, technical.
    problem, recovery = mailbox.to(ONCALL)
    check_headers(problem, ONCALL, rows[("notify:oncall:email", "open")], "open")
    check_headers(recovery, ONCALL, rows[("notify:oncall:email", "resolve")], "resolve")
    assert problem.subject == "[P2] PROBLEM: shop on web01 is CRITICAL"
    assert problem.text.startswith("PROBLEM: shop on web01 is CRITICAL\n\nSummary:    SHOP code 2\n")
    assert "Priority:   P2 (impact high, urgency medium)\n" in problem.text
    assert f"Ticket:     {KEY}\n" in problem.text
    assert re.search(r"Opened:     \d{4}-\d\d-\d\d \d\d:\d\d CES?T\n", problem.text), problem.text
    assert problem.text.endswith(f"Incident:   {KEY}")
    assert recovery.subject == "[P2] RECOVERED: shop on web01 is OK"
    assert recovery.text.startswith("RECOVERED: shop on web01 is OK\n\nSummary:    SHOP code 0\n")

    # Webhooks: the documented shapes, each carrying its contact's message.
    for name in HOOKS:
        check_shape(hooks, name)
    slack = [c.body for c in hooks.calls["acme"]]
    assert slack[0]["text"] == f"[{KEY}] Wij werken aan een storing in Webshop"
    assert slack[0]["blocks"][0]["text"]["text"] == slack[0]["text"]
    assert "Wij reageren uiterlijk" in slack[0]["blocks"][1]["text"]["text"]
    teams = [c.body["attachments"][0]["content"]["body"] for c in hooks.calls["oncall"]]
    assert [(b[0]["text"], b[0]["color"]) for b in teams] == [
        ("[P2] PROBLEM: shop on web01 is CRITICAL", "attention"),
        ("[P2] RECOVERED: shop on web01 is OK", "good"),
    ]
    mm = [c.body["text"] for c in hooks.calls["mm"]]  # a customer without a language: English
    assert mm[0].startswith(f"**[{KEY}] We are working on a problem with Webshop**\n\nDear Beta Ltd,")
    generic = [c.body for c in hooks.calls["hook"]]
    assert [(b["event"], b["facts"]["ticket"], b["facts"]["state"]) for b in generic] == [
        ("open", KEY, "CRITICAL"),
        ("resolve", KEY, "OK"),
    ]
    assert generic[0]["subject"] == "[P2] PROBLEM: shop on web01 is CRITICAL"
    assert site.errors() == []

    # The recovery names the service as the problem notice did (its description, not the check name).
    assert recovery_acme.subject == f"[{KEY}] Opgelost: Webshop werkt weer normaal"
    assert f"De storing in Webshop (ticket {KEY}) is om " in recovery_acme.text
    assert slack[1]["text"] == recovery_acme.subject
    assert mm[1].startswith(f"**[{KEY}] Resolved: Webshop is working normally again**")


async def test_acknowledgement_tells_whoever_was_told_once(
    site: Site, smtp: tuple[Mailbox, int], hooks: Hooks
) -> None:
    """`watchd ack` from another process: each channel that got the problem gets one ack notice."""
    mailbox = smtp[0]
    await incident_then(site, mailbox, hooks, recover=False)
    rc, out = await site.cli("ack", "1", "--by", "alice")
    assert rc == 0, out
    await until(arrived(mailbox, hooks, 2), "the ack notices", site, timeout=15)
    await stop_when_drained(site)

    rows = site.rows()
    assert mailbox.events(ACME) == mailbox.events(ONCALL) == ["open", "ack"]
    assert len(mailbox.accepted) == 4
    assert {name: hooks.count(name) for name in HOOKS} == dict.fromkeys(HOOKS, 2)
    check_idempotency_keys(hooks, rows, ["open", "ack"])
    for name in HOOKS:
        check_shape(hooks, name)

    customer = mailbox.to(ACME)[1]
    check_headers(customer, ACME, rows[("notify:acme:email", "ack")], "ack")
    assert customer.text.startswith("Beste ACME B.V.,\n\nEen engineer pakt de storing in ")
    assert customer.text.endswith(f" (ticket {KEY}) nu op.")
    assert hooks.calls["acme"][1].body["text"] == customer.subject
    oncall = mailbox.to(ONCALL)[1]
    check_headers(oncall, ONCALL, rows[("notify:oncall:email", "ack")], "ack")
    assert oncall.subject == "[P2] ACKNOWLEDGED: shop on web01 is CRITICAL"
    assert "Respond by: " in oncall.text
    assert "(acknowledged by alice)\n" in oncall.text
    assert hooks.calls["oncall"][1].body["attachments"][0]["content"]["body"][0]["text"] == oncall.subject
    assert [b["event"] for b in (c.body for c in hooks.calls["hook"])] == ["open", "ack"]
    assert site.query("SELECT status, acked_by FROM incidents") == [("open", "alice")]
    assert site.errors() == []

    # The ack names the service as the problem notice did (its description, not the check name).
    assert customer.subject == f"[{KEY}] Een engineer pakt de storing in Webshop op"
    assert (
        customer.text == f"Beste ACME B.V.,\n\nEen engineer pakt de storing in Webshop (ticket {KEY}) nu op."
    )


@pytest.mark.parametrize("tickets", [FAST_BACKOFF])
@pytest.mark.parametrize("smtp", [3], indirect=True)
async def test_smtp_451_is_retried_without_duplicates(
    site: Site, smtp: tuple[Mailbox, int], hooks: Hooks
) -> None:
    """The mail server defers the first three messages: every mail still arrives exactly once, resent
    with the same Message-ID; nothing is sent twice, by mail or by webhook."""
    mailbox = smtp[0]
    await incident_then(site, mailbox, hooks, recover=True)
    await stop_when_drained(site)

    rows = site.rows()
    assert len(mailbox.rejected) == 3
    assert mailbox.events(ACME) == mailbox.events(ONCALL) == ["open", "resolve"]
    assert len(mailbox.accepted) == 4
    accepted_ids = [m.msg["Message-ID"] for m in mailbox.accepted]
    assert len(set(accepted_ids)) == 4
    assert {m.msg["Message-ID"] for m in mailbox.rejected} <= set(accepted_ids)  # a resend, not a new mail
    for rcpt, contact in ((ACME, "acme"), (ONCALL, "oncall")):
        for mail, event in zip(mailbox.to(rcpt), ("open", "resolve"), strict=True):
            check_headers(mail, rcpt, rows[(f"notify:{contact}:email", event)], event)
    assert {name: hooks.count(name) for name in HOOKS} == dict.fromkeys(HOOKS, 2)
    check_idempotency_keys(hooks, rows, ["open", "resolve"])
    deferred = site.query("SELECT count(*) FROM outbox WHERE last_error LIKE '%451%' AND status = 'done'")
    assert deferred[0][0] >= 1
    assert site.errors() == []
