"""Quiet hours and the digest through a real daemon in-process (injected clock, real SMTP server,
the Twilio-style SMS stand-in): at 03:00 on a Sunday a P3 reaches the person on call by email only
(SMS is quiet at night below P1), a P1 pierces the quiet hours, and a P4 waits for the 09:00 digest,
which lists it once, as it stands then (resolved), and is sent once."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from watchd import config
from watchd.core.clock import FakeClock
from watchd.daemon import Daemon

from .daemonkit import Mailbox, smtp, until
from .gwfixtures import twilio
from .standins.twilio import ACCOUNT_SID, AUTH_TOKEN, Twilio
from .test_oncall_e2e import SUNDAY_0300, sms_to

pytestmark = pytest.mark.slow
__all__ = ["smtp", "twilio"]  # fixtures
PHONE = "+4915110000009"
CHECKS = {"p1": ("high", "high"), "p3": ("medium", "medium"), "p4": ("low", "low")}


def write_config(root: Path, smtp_port: int, twilio_base: str) -> Path:
    checks = ""
    for name, (impact, urgency) in CHECKS.items():
        (root / f"{name}.code").write_text("0")
        plugin = root / f"check_{name}"
        plugin.write_text(
            f'#!/bin/sh\necho "{name} code $(cat {root}/{name}.code)"\nexit $(cat {root}/{name}.code)\n'
        )
        plugin.chmod(0o755)
        checks += f"  {name}: {{command: [{plugin}], impact: {impact}, urgency: {urgency}, notify: [ops]}}\n"
    (root / "twilio.token").write_text(AUTH_TOKEN)
    cfg = root / "watchd.yaml"
    cfg.write_text(f"""
host: web01
timezone: Europe/Berlin
data_dir: {root / "data"}
api: {{enabled: false}}
log: {{level: warning}}
scheduler: {{followup_interval: 1h}}
defaults: {{max_attempts: 1}}
contacts:
  ops:
    email: [ops@provider.test]
    phone: "{PHONE}"
    sms: twilio-sms
    quiet_hours: [{{days: mon-sun, start: "22:00", end: "07:00", media: [sms]}}]
    digest: {{at: "09:00", priorities: [P4]}}
notify:
  smtp: {{host: 127.0.0.1, port: {smtp_port}, from: watchd@provider.test}}
  renotify_interval: 1h
  gateways:
    twilio-sms:
      kind: sms
      url: {twilio_base}/Messages.json
      auth: {{basic: {{username: {ACCOUNT_SID}, password_file: twilio.token}}}}
      form: {{To: "{{{{ to }}}}", From: "+3197010000000", Body: "{{{{ text }}}}"}}
      ok_status: 201
checks:
{checks}""")
    return cfg


def rows(root: Path) -> list[tuple[int, str, str]]:
    db = sqlite3.connect(root / "data" / "watchd.db")
    try:
        return db.execute(
            "SELECT incident_id, channel, kind FROM outbox WHERE channel LIKE 'notify:%' ORDER BY id"
        ).fetchall()
    finally:
        db.close()


async def test_quiet_hours_and_digest(tmp_path: Path, smtp: tuple[Mailbox, int], twilio: Twilio) -> None:
    box, smtp_port = smtp
    cfg = write_config(tmp_path, smtp_port, twilio.base())
    clock = FakeClock(SUNDAY_0300)
    d = Daemon(config.load(str(cfg)), str(cfg), clock=clock)
    await d.start()
    try:
        for name in CHECKS:
            (tmp_path / f"{name}.code").write_text("2")
            await d.run_check(name)
        # p1 is incident 1: email and SMS; p3 (incident 2): email only; p4 (incident 3): held.
        assert rows(tmp_path) == [(1, "notify:ops:email", "open"), (1, "notify:ops:sms", "open"),
                                  (2, "notify:ops:email", "open")]  # fmt: skip
        await until(lambda: len(box.to("ops@")) == 2 and len(sms_to(twilio, PHONE)) == 1)
        assert sms_to(twilio, PHONE)[0].startswith("P1 CRITICAL")

        clock.advance(3600)  # 04:00: still failing; the reminders keep to the quiet hours too
        await d.followup.tick()
        assert [r for r in rows(tmp_path) if r[2] == "renotify"] == [
            (1, "notify:ops:email", "renotify"), (1, "notify:ops:sms", "renotify"),
            (2, "notify:ops:email", "renotify"),
        ]  # fmt: skip
        # p4 recovers; nobody was told it failed, so nobody is told now
        (tmp_path / "p4.code").write_text("0")
        await d.run_check("p4")
        clock.advance(4 * 3600)  # 08:00: not yet
        await d.followup.tick()
        assert [r for r in rows(tmp_path) if r[2] == "digest"] == []

        clock.advance(3600 + 1)  # 09:00:01: the digest
        await d.followup.tick()
        await d.followup.tick()
        assert [r for r in rows(tmp_path) if r[2] == "digest"] == [(0, "notify:ops:email", "digest")]

        def digests() -> list[Any]:
            return [m for m in box.to("ops@") if str(m["Subject"]).startswith("Daily summary")]

        await until(lambda: len(digests()) == 1)
        [digest] = digests()
        assert str(digest["Subject"]) == "Daily summary: 1 low-priority incident(s)"
        text = digest.get_payload()[0].get_payload()
        assert "[P4] p4 on web01" in text
        assert "(resolved, watchd-web01-p4-3)" in text
        assert "p3" not in text
        assert twilio.violations == []
    finally:
        await d.stop()
