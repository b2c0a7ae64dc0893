"""Issue 14's "done means", as one story through a real daemon in-process with an injected clock:
a P1 incident at 03:00 on a Sunday pages the primary on call (a weekly rotation) by SMS (a
Twilio-style gateway stand-in), PagerDuty (Events API v2 stand-in) and email (a real SMTP server);
nobody acknowledges, so after 10 minutes the secondary is paged; the primary clicks the acknowledge
link from the SMS (a real HTTP request to the daemon's API), PagerDuty is told, and the escalation
stops: the team lead is not paged at the 30-minute response deadline. The recovery resolves it in
PagerDuty. Every page goes out exactly once."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import aiohttp
import pytest

from watchd import config
from watchd.core.clock import FakeClock
from watchd.daemon import Daemon

from .daemonkit import Mailbox, free_port, get_json, incident, outbox, pagerduty, smtp, until
from .gwfixtures import twilio  # noqa: F401 (fixture)
from .standins.pagerduty import ROUTING_KEY, PagerDutyStandIn
from .standins.twilio import ACCOUNT_SID, AUTH_TOKEN, Twilio

pytestmark = pytest.mark.slow
__all__ = ["pagerduty", "smtp"]  # fixtures

BERLIN = dt.timezone(dt.timedelta(hours=1))  # CET in December
SUNDAY_0300 = dt.datetime(2026, 12, 6, 3, 0, tzinfo=BERLIN).timestamp()
ALICE, BOB = "+4915110000001", "+4915110000002"


def write_config(
    root: Path, smtp_port: int, api_port: int, twilio_base: str, pd_url: str, public_url: str = ""
) -> Path:
    code = root / "shop.code"
    code.write_text("2")
    plugin = root / "check_shop"
    plugin.write_text(f'#!/bin/sh\nc=$(cat {code})\necho "SHOP code $c"\nexit $c\n')
    plugin.chmod(0o755)
    (root / "twilio.token").write_text(AUTH_TOKEN)
    (root / "pd.key").write_text(ROUTING_KEY)
    cfg = root / "watchd.yaml"
    cfg.write_text(f"""
host: web01
timezone: Europe/Berlin
data_dir: {root / "data"}
api: {{listen: 127.0.0.1, port: {api_port}}}
log: {{level: warning}}
scheduler: {{followup_interval: 1h}}
defaults: {{max_attempts: 1}}
contacts:
  alice:
    name: Alice
    email: [alice@provider.test]
    phone: "{ALICE}"
    sms: twilio-sms
    pagerduty: {{routing_key_file: pd.key, url: "{pd_url}"}}
    quiet_hours: [{{start: "22:00", end: "07:00", media: [sms]}}]   # P1 pierces it
  bob: {{email: [bob@provider.test], phone: "{BOB}", sms: twilio-sms}}
  carol: {{email: [carol@provider.test], phone: "+4915110000003", sms: twilio-sms}}
  dave: {{email: [dave@provider.test]}}
  lead: {{email: [lead@provider.test]}}
notify:
  smtp: {{host: 127.0.0.1, port: {smtp_port}, from: watchd@provider.test}}
  default: []
  gateways:
    twilio-sms:
      kind: sms
      url: {twilio_base}/Messages.json
      auth: {{basic: {{username: {ACCOUNT_SID}, password_file: twilio.token}}}}
      form: {{To: "{{{{ to }}}}", From: "+3197010000000", Body: "{{{{ text }}}}"}}
      ok_status: 201
oncall:
  public_url: {public_url or f"http://127.0.0.1:{api_port}"}
  rotations:
    primary:
      layers: [{{members: [alice, carol], length: weekly, handoff: "09:00", start: 2026-11-30}}]
    secondary:
      layers: [{{members: [bob, dave], length: weekly, handoff: "09:00", start: 2026-11-30}}]
  policies:
    standard:
      levels:
        - {{after: 0, page: [rotation:primary]}}
        - {{after: 10m, page: [rotation:secondary]}}
        - {{at: response, page: [lead]}}
  escalation: {{P1: standard}}
checks:
  shop: {{command: [{plugin}], impact: high, urgency: high, description: Webshop, notify: []}}
""")
    return cfg


def sms_to(tw: Twilio, number: str) -> list[str]:
    return [m["Body"] for m in tw.messages if m["To"] == number]


async def test_sunday_night_p1_pages_escalates_and_stops_at_the_ack_link(
    tmp_path: Path,
    smtp: tuple[Mailbox, int],
    twilio: Twilio,  # noqa: F811
    pagerduty: PagerDutyStandIn,
) -> None:
    box, smtp_port = smtp
    api_port = free_port()
    cfg = write_config(tmp_path, smtp_port, api_port, twilio.base(), pagerduty.url)
    clock = FakeClock(SUNDAY_0300)
    d = Daemon(config.load(str(cfg)), str(cfg), clock=clock)
    await d.start()
    try:
        # 03:00 Sunday: the check fails hard, a P1 opens, the primary (alice, week 1) is paged at once.
        await d.run_check("shop")
        await until(lambda: len(sms_to(twilio, ALICE)) == 1 and len(box.to("alice@")) == 1)
        await until(lambda: len(pagerduty.incidents) == 1)
        [pd] = pagerduty.incidents
        assert pd.dedup_key == "watchd-web01-shop-1"
        assert pd.status == "triggered"
        assert pd.severity == "critical"
        [sms] = sms_to(twilio, ALICE)
        assert sms.startswith("P1 CRITICAL")
        assert "Ack: http://127.0.0.1" in sms
        assert "Acknowledge: http://127.0.0.1" in box.to("alice@")[0].get_payload()[0].get_payload()
        assert sms_to(twilio, BOB) == []
        assert box.to("bob@") == []

        paging = (await get_json(f"http://127.0.0.1:{api_port}/api/v1/incidents/1"))["paging"]
        assert paging == {"policy": "standard", "next_page_at": "2026-12-06T02:10:00Z"}  # level 2

        # Nobody acknowledges: 10 minutes on, the secondary (bob) is paged, alice not again.
        clock.advance(10 * 60 + 1)
        await d.followup.tick()
        await until(lambda: len(sms_to(twilio, BOB)) == 1 and len(box.to("bob@")) == 1)
        assert sms_to(twilio, BOB)[0].startswith("ESCALATED")
        assert len(sms_to(twilio, ALICE)) == 1

        # Alice clicks the link in her SMS: GET shows a button and does nothing, POST acknowledges.
        link = re.search(r"Ack: (\S+)", sms).group(1)  # type: ignore[union-attr]
        async with aiohttp.ClientSession() as http:
            async with http.get(link) as page:
                assert page.status == 200
                assert "Acknowledge as alice" in await page.text()
            assert incident(tmp_path)[0] is None  # looking is not acknowledging
            async with http.post(link) as done:
                assert done.status == 200, await done.text()
                assert "Escalation has stopped" in await done.text()
            async with http.post(link) as again:  # single use
                assert again.status == 409
            forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
            async with http.post(forged) as bad:
                assert bad.status == 403
        assert incident(tmp_path) == ("alice", "open")
        await until(lambda: pagerduty.incidents[0].status == "acknowledged")
        paging = (await get_json(f"http://127.0.0.1:{api_port}/api/v1/incidents/1"))["paging"]
        assert paging == {"policy": "standard", "next_page_at": None}

        # Everyone who was paged hears that alice has it (bob can go back to sleep) ...
        await until(lambda: all(status == "done" for _, _, status in outbox(tmp_path)))
        assert sms_to(twilio, BOB)[-1].startswith("ACKED by alice")
        assert len(sms_to(twilio, ALICE)) == 1  # not told of her own ack
        before = (len(twilio.messages), len(box.messages))

        # ... and when the response deadline (30 min) passes, nobody is paged: not the lead, not again.
        clock.advance(30 * 60)
        await d.followup.tick()
        await d.followup.tick()
        await until(lambda: all(status == "done" for _, _, status in outbox(tmp_path)))
        assert (len(twilio.messages), len(box.messages)) == before
        assert box.to("lead@") == []

        # Recovery: PagerDuty's incident is resolved; exactly one trigger, one ack and one resolve.
        (tmp_path / "shop.code").write_text("0")
        await d.run_check("shop")
        await until(lambda: pagerduty.incidents[0].status == "resolved")
        assert pagerduty.incidents[0].log == ["trigger", "acknowledge", "resolve"]
        assert len(pagerduty.incidents) == 1
        assert pagerduty.violations == []
        assert twilio.violations == []
        assert box.to("carol@") == []
        assert box.to("dave@") == []
    finally:
        await d.stop()
