"""Acknowledgements flowing back: a person acknowledges the page in PagerDuty (a signed V3 webhook
from the stand-in) and the incident is acknowledged in watchd, so the escalation stops; Opsgenie is
told of that ack; a person closes the Opsgenie alert and watchd resolves the incident. Replays and
bad signatures are refused. Real daemon in-process, injected clock, stand-ins on 127.0.0.1."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import aiohttp
import pytest

from watchd import config
from watchd.core.clock import FakeClock
from watchd.daemon import Daemon

from .daemonkit import free_port, incident, until
from .standins.opsgenie import API_KEY, WEBHOOK_TOKEN, OpsgenieStandIn
from .standins.pagerduty import ROUTING_KEY, WEBHOOK_SECRET, PagerDutyStandIn

pytestmark = pytest.mark.slow

KEY = "watchd-web01-shop-1"


def write_config(root: Path, api_port: int, pd_url: str, og_url: str) -> Path:
    code = root / "shop.code"
    code.write_text("2")
    plugin = root / "check_shop"
    plugin.write_text(f'#!/bin/sh\necho "SHOP code $(cat {code})"\nexit $(cat {code})\n')
    plugin.chmod(0o755)
    for name, secret in (("pd.key", ROUTING_KEY), ("og.key", API_KEY), ("pd.secret", WEBHOOK_SECRET),
                         ("og.token", WEBHOOK_TOKEN)):  # fmt: skip
        (root / name).write_text(secret)
    cfg = root / "watchd.yaml"
    cfg.write_text(f"""
host: web01
data_dir: {root / "data"}
api: {{listen: 127.0.0.1, port: {api_port}}}
log: {{level: warning}}
scheduler: {{followup_interval: 1h}}
defaults: {{max_attempts: 1}}
contacts:
  ops:
    pagerduty: {{routing_key_file: pd.key, url: "{pd_url}"}}
    opsgenie: {{api_key_file: og.key, url: "{og_url}"}}
  lead: {{webhook: {{url: "http://127.0.0.1:1/never"}}}}
oncall:
  inbound: {{pagerduty: {{secret_file: pd.secret}}, opsgenie: {{token_file: og.token}}}}
  policies:
    standard: {{levels: [{{after: 0, page: [ops]}}, {{after: 10m, page: [lead]}}]}}
  escalation: {{P1: standard}}
notify: {{default: []}}
checks:
  shop: {{command: [{plugin}], impact: high, urgency: high, notify: []}}
""")
    return cfg


def lead_rows(root: Path) -> int:
    db = sqlite3.connect(root / "data" / "watchd.db")
    try:
        return db.execute("SELECT count(*) FROM outbox WHERE channel LIKE 'notify:lead:%'").fetchone()[0]
    finally:
        db.close()


async def test_acks_and_closes_made_in_the_services_act_here(tmp_path: Path) -> None:
    pd, og = PagerDutyStandIn(), OpsgenieStandIn()
    await pd.start()
    await og.start()
    api_port = free_port()
    cfg = write_config(tmp_path, api_port, pd.url, og.url)
    clock = FakeClock(time.time())  # the services stamp their webhooks with the real time
    d = Daemon(config.load(str(cfg)), str(cfg), clock=clock)
    await d.start()
    base = f"http://127.0.0.1:{api_port}/api/v1/paging"
    try:
        await d.run_check("shop")
        await until(lambda: pd.open_incident(KEY) is not None and og.open_alert(KEY) is not None)

        body, headers = pd.person(KEY, "acknowledge", "Alice Example")
        async with aiohttp.ClientSession() as http:
            bad = dict(headers, **{"X-PagerDuty-Signature": "v1=" + "0" * 64})
            async with http.post(f"{base}/pagerduty", data=body, headers=bad) as r:
                assert r.status == 401
            assert incident(tmp_path) == (None, "open")
            async with http.post(f"{base}/pagerduty", data=body, headers=headers) as r:
                assert r.status == 200
                assert (await r.json())["outcomes"] == [
                    {"key": KEY, "action": "acknowledge", "result": "done"}
                ]
            async with http.post(f"{base}/pagerduty", data=body, headers=headers) as r:  # PagerDuty retries
                assert (await r.json())["outcomes"][0]["result"] == "duplicate"
        assert incident(tmp_path) == ("Alice Example (pagerduty)", "open")
        await until(lambda: og.open_alert(KEY) is not None and og.open_alert(KEY).acknowledged)  # type: ignore[union-attr]

        clock.advance(11 * 60)  # level 2 would page the lead now; the ack stopped it
        await d.followup.tick()
        assert lead_rows(tmp_path) == 0

        body, headers = og.person(KEY, "Close", "bob@provider.test")
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{base}/opsgenie", data=body, headers={**headers, "X-Watchd-Token": "wrong"}
            ) as r:
                assert r.status == 401
            async with http.post(f"{base}/opsgenie", data=body, headers=headers) as r:
                assert (await r.json())["outcomes"][0]["result"] == "done"
        assert incident(tmp_path)[1] == "resolved"
        await until(lambda: pd.incidents[0].status == "resolved")  # PagerDuty hears of the resolve
        assert pd.violations == []
        assert og.violations == []
    finally:
        await d.stop()
        await pd.stop()
        await og.stop()
