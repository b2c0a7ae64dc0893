"""`watchd notify test` against real parts: an SMTP server (aiosmtpd, in its own thread), the Twilio
and PagerDuty stand-ins (aiohttp on this test's loop). The CLI runs three ways: `run_test` awaited
on the stand-ins' loop, `main(argv)` in-process where only the SMTP thread is needed, and the
installed command as a subprocess (started with asyncio's subprocess API where it must reach the
stand-ins, so the loop keeps serving them while the command runs)."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from watchd import config as config_mod
from watchd.cli import notify as cli_notify
from watchd.cli.main import main

from . import gwfixtures
from .standins.pagerduty import ROUTING_KEY, PagerDutyStandIn
from .standins.twilio import ACCOUNT_SID, AUTH_TOKEN, Twilio

twilio = gwfixtures.twilio  # the fixture, used by name

ALICE_PHONE = "+31612345678"
# 2026-12-01 10:00 Berlin: alice's week in `primary`; 2026-12-08 10:00: bob's.
ALICE_WEEK = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC).timestamp()
BOB_WEEK = ALICE_WEEK + 7 * 86400


class Mailbox:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mails: list[tuple[tuple[str, ...], EmailMessage]] = []

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self.lock:
            self.mails.append((tuple(envelope.rcpt_tos), msg))
        return "250 2.0.0 Message accepted for delivery"

    def to(self, rcpt: str) -> list[EmailMessage]:
        with self.lock:
            return [m for rcpts, m in self.mails if rcpt in rcpts]


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    yield mailbox, port
    controller.stop()


def write_config(
    tmp_path: Path,
    smtp_port: int,
    twilio: Twilio | None = None,
    pagerduty: PagerDutyStandIn | None = None,
    token: str = AUTH_TOKEN,
) -> Path:
    """alice has email, and sms/pagerduty when the stand-ins are given; bob has email; the weekly
    `primary` rotation hands from alice to bob; `nights` covers only weekday evenings."""
    (tmp_path / "twilio.token").write_text(token + "\n")
    (tmp_path / "pd.key").write_text(ROUTING_KEY + "\n")
    alice: dict[str, Any] = {"name": "Alice Example", "email": ["alice@example.com"]}
    smtp = {"host": "127.0.0.1", "port": smtp_port, "from": "watchd@provider.test"}
    notify: dict[str, Any] = {"smtp": smtp}
    if twilio is not None:
        alice.update(phone=ALICE_PHONE, sms="twilio-sms")
        notify["gateways"] = {
            "twilio-sms": {
                "kind": "sms",
                "url": f"{twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
                "auth": {"basic": {"username": ACCOUNT_SID, "password_file": "twilio.token"}},
                "form": {"To": "{{ to }}", "From": "+3197010000000", "Body": "{{ text }}"},
                "ok_status": 201,
                "idempotency_header": "I-Twilio-Idempotency-Token",
            }
        }
    if pagerduty is not None:
        alice["pagerduty"] = {"routing_key_file": "pd.key", "url": pagerduty.url}
    doc = {
        "host": "web01",
        "timezone": "Europe/Berlin",
        "data_dir": "data",
        "api": {"enabled": False},
        "contacts": {"alice": alice, "bob": {"email": ["bob@example.com"]}},
        "notify": notify,
        "oncall": {
            "rotations": {
                "primary": {
                    "layers": [
                        {"name": "weekly", "members": ["alice", "bob"], "length": "weekly",
                         "handoff": "09:00", "start": "2026-11-30"},
                    ]
                },
                "nights": {
                    "layers": [
                        {"name": "night", "members": ["bob"], "length": "daily", "handoff": "18:00",
                         "start": "2026-11-30",
                         "restrict": [{"days": "mon-fri", "start": "18:00", "end": "08:00"}]},
                    ]
                },
            }
        },
    }  # fmt: skip
    path = tmp_path / "watchd.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


async def test_every_medium_of_a_contact_delivers(
    tmp_path: Path, smtp: tuple[Mailbox, int], twilio: Twilio, pagerduty_standin: PagerDutyStandIn
) -> None:
    mailbox, port = smtp
    cfg = config_mod.load(str(write_config(tmp_path, port, twilio, pagerduty_standin)))
    at = 1764580000.0
    target = cli_notify.resolve_target(cfg, "alice", at)
    outcomes = await cli_notify.run_test(cfg, target, None, at)

    assert [(o.medium, o.status, o.reason) for o in outcomes] == [
        ("email", "delivered", ""), ("sms", "delivered", ""), ("pagerduty", "delivered", "")
    ]  # fmt: skip
    assert cli_notify.exit_code(outcomes) == 0
    (mail,) = mailbox.to("alice@example.com")
    assert mail["Subject"] == "[P1] TEST PAGE: notify-test on web01 is OK"
    assert mail["X-Watchd-Event"] == "test"
    assert mail["X-Watchd-Key"] == "watchd-web01-test-1764580000"
    body = mail.get_body(("plain",))
    assert body is not None
    assert "Test page from watchd on web01" in body.get_content()

    assert twilio.violations == []
    (sms,) = twilio.messages
    assert sms["To"] == ALICE_PHONE
    assert "TEST" in sms["Body"]
    assert sms["idempotency"] == f"watchd-page-{int(at * 1000)}"

    assert pagerduty_standin.violations == []
    (incident,) = pagerduty_standin.incidents
    assert incident.log == ["trigger"]
    assert incident.status == "triggered"  # stays open until someone acknowledges the test
    assert incident.dedup_key == f"watchd-web01-test-1764580000-test-{int(at * 1000)}"
    assert incident.severity == "critical"  # sent as the P1 it stands for


async def test_each_run_has_its_own_idempotency_keys(
    tmp_path: Path, smtp: tuple[Mailbox, int], twilio: Twilio
) -> None:
    """A second test a minute later is a new SMS, not a retry the gateway could drop."""
    cfg = config_mod.load(str(write_config(tmp_path, smtp[1], twilio)))
    target = cli_notify.resolve_target(cfg, "alice", ALICE_WEEK)
    for at in (ALICE_WEEK, ALICE_WEEK + 60):
        await cli_notify.run_test(cfg, target, ["sms"], at)
    assert [m["idempotency"] for m in twilio.messages] == [
        f"watchd-page-{int(ALICE_WEEK * 1000)}", f"watchd-page-{int((ALICE_WEEK + 60) * 1000)}"
    ]  # fmt: skip
    assert smtp[0].mails == []  # --medium sms: no mail


async def run_cli(cfg: Path, *args: str, watchd_cmd: list[str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *watchd_cmd, "notify", "test", *args, "--config", str(cfg),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_failing_medium_exits_1_with_the_reason(
    tmp_path: Path, smtp: tuple[Mailbox, int], twilio: Twilio, watchd_cmd: list[str]
) -> None:
    """The wrong Twilio token: Twilio's 401 and its code are shown, the token and the other medium's
    success too; nothing secret is printed."""
    mailbox, port = smtp
    cfg = write_config(tmp_path, port, twilio, token="wrong-twilio-token")
    code, out, err = await run_cli(cfg, "alice", watchd_cmd=watchd_cmd)
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[0] == "test page to alice (Alice Example)"
    assert lines[1].startswith("key watchd-web01-test-")
    assert lines[1].endswith(", sent as P1")
    assert lines[2].startswith("email  delivered  (")
    assert lines[2].endswith(" s)")
    assert lines[3].startswith("sms    FAILED  sms gateway twilio-sms: 401 unauthorized")
    assert lines[3].endswith("20003: Authenticate")
    assert len(lines) == 4
    assert "wrong-twilio-token" not in out
    assert ACCOUNT_SID not in out
    assert len(mailbox.to("alice@example.com")) == 1
    assert twilio.messages == []

    code, out, _ = await run_cli(cfg, "alice", "--medium", "sms", "--json", watchd_cmd=watchd_cmd)
    assert code == 1
    doc = json.loads(out)
    assert (doc["contact"], doc["rotation"], doc["priority"]) == ("alice", None, "P1")
    (sms,) = doc["deliveries"]
    assert (sms["medium"], sms["status"]) == ("sms", "failed")
    assert sms["reason"].startswith("sms gateway twilio-sms: 401 unauthorized")


def test_a_rotation_pages_whoever_is_on_duty(
    tmp_path: Path,
    smtp: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`primary` in bob's week pages bob, and says so; `rotation:primary` in alice's week, alice."""
    mailbox, port = smtp
    cfg = str(write_config(tmp_path, port))
    monkeypatch.setattr(cli_notify, "_now", lambda: BOB_WEEK)
    assert main(["notify", "test", "primary", "--config", cfg]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "test page to bob: on duty in primary [weekly] until 2026-12-14 09:00 CET"
    assert lines[1] == f"key watchd-web01-test-{int(BOB_WEEK)}, sent as P1"
    assert lines[2].startswith("email  delivered  (")
    assert [m["X-Watchd-Event"] for m in mailbox.to("bob@example.com")] == ["test"]
    assert mailbox.to("alice@example.com") == []

    monkeypatch.setattr(cli_notify, "_now", lambda: ALICE_WEEK)
    assert main(["notify", "test", "rotation:primary", "--config", cfg, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    who = (doc["contact"], doc["rotation"], doc["on_duty_until"])
    assert who == ("alice", "primary", "2026-12-07T08:00:00Z")
    assert [d["status"] for d in doc["deliveries"]] == ["delivered"]
    assert len(mailbox.to("alice@example.com")) == 1


def test_nobody_on_duty_and_an_unknown_medium(
    tmp_path: Path,
    smtp: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = str(write_config(tmp_path, smtp[1]))
    monkeypatch.setattr(cli_notify, "_now", lambda: ALICE_WEEK)  # Tuesday 10:00: nights has a gap
    assert main(["notify", "test", "nights", "--config", cfg]) == 1
    assert capsys.readouterr().err.strip() == (
        "watchd: nobody is on duty in rotation 'nights' now; next: bob from 2026-12-01 18:00 CET"
    )
    assert main(["notify", "test", "bob", "--medium", "sms", "--config", cfg]) == 2
    assert capsys.readouterr().err.strip() == "watchd: bob has no medium 'sms' (media: email)"
    assert smtp[0].mails == []


def test_an_unknown_target_exits_2_naming_the_known_ones(
    tmp_path: Path, smtp: tuple[Mailbox, int], watchd_cmd: list[str]
) -> None:
    cfg = write_config(tmp_path, smtp[1])
    for target, what in (("carol", "contact or rotation 'carol'"), ("rotation:alice", "rotation 'alice'")):
        out = subprocess.run(
            [*watchd_cmd, "notify", "test", target, "--config", str(cfg)], capture_output=True, text=True,
            timeout=30,
        )  # fmt: skip
        assert (out.returncode, out.stdout) == (2, "")
        assert out.stderr.strip() == f"watchd: no {what} (contacts: alice, bob; rotations: primary, nights)"
    assert smtp[0].mails == []
