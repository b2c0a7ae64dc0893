"""The acknowledge link in a real browser (Debian's chromium through Playwright), on a phone
viewport with JavaScript off, as the person on call opens it from an SMS at night: the page shows
the incident and one button; the click acknowledges it; reloading the link says it was used.

The daemon's API stays on loopback behind a reverse proxy that publishes it under a path prefix
(`https://ops.example/watchd/...` in real life): the link carries the prefix (`oncall.public_url`),
and the button's form posts back through the proxy because it posts to the page's own URL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from servers.http import serve
from watchd import config
from watchd.core.clock import FakeClock
from watchd.daemon import Daemon

from .gwfixtures import twilio
from .standins.pagerduty import PagerDutyStandIn
from .standins.twilio import Twilio
from .test_oncall_e2e import (
    ALICE,
    SUNDAY_0300,
    Mailbox,
    free_port,
    incident,
    pagerduty,
    sms_to,
    smtp,
    until,
    write_config,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

pytestmark = pytest.mark.slow
__all__ = ["pagerduty", "smtp", "twilio"]  # fixtures


async def test_ack_link_on_a_phone(
    tmp_path: Path, smtp: tuple[Mailbox, int], twilio: Twilio, pagerduty: PagerDutyStandIn, browser: Any
) -> None:
    _, smtp_port = smtp
    api_port = free_port()
    proxy = await prefix_proxy("/watchd", f"http://127.0.0.1:{api_port}")
    cfg = write_config(tmp_path, smtp_port, api_port, twilio.base(), pagerduty.url, f"{proxy.url}/watchd")
    d = Daemon(config.load(str(cfg)), str(cfg), clock=FakeClock(SUNDAY_0300))
    await d.start()
    try:
        await d.run_check("shop")
        await until(lambda: len(sms_to(twilio, ALICE)) == 1)
        link = re.search(r"Ack: (\S+)", sms_to(twilio, ALICE)[0]).group(1)  # type: ignore[union-attr]
        assert link.startswith(f"{proxy.url}/watchd/page/1/ack/")
        context = await browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
        page = await context.new_page()
        response = await page.goto(link)
        assert response.status == 200
        assert await page.title() == "Acknowledge incident #1?"
        assert "SHOP code 2" in await page.locator("dl").inner_text()
        button = page.get_by_role("button", name="Acknowledge as alice")
        box = await button.bounding_box()
        assert box["height"] >= 40  # a thumb can hit it
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "ack-link-phone.png"), full_page=True)
        await button.click()
        await page.wait_for_load_state()
        assert await page.title() == "Incident #1 acknowledged"
        assert incident(tmp_path) == ("alice", "open")
        again = await page.goto(link)
        assert again.status == 409
        assert "already been used" in await page.locator("body").inner_text()
        await context.close()
        assert [(m, p) for m, p in proxy.seen if m == "POST"] == [
            ("POST", "/page/1/ack/" + link.rsplit("/", 1)[1])
        ]
    finally:
        await d.stop()
        await proxy.stop()


class Proxy:
    """A reverse proxy like one in front of the API: /watchd/<path> is forwarded to <upstream>/<path>."""

    def __init__(self, runner: web.AppRunner, url: str) -> None:
        self.runner, self.url = runner, url
        self.seen: list[tuple[str, str]] = []  # (method, upstream path) forwarded

    async def stop(self) -> None:
        await self.runner.cleanup()


async def prefix_proxy(prefix: str, upstream: str) -> Proxy:
    app = web.Application()
    holder: list[Proxy] = []

    async def forward(request: web.Request) -> web.Response:
        path = request.path_qs.removeprefix(prefix)
        holder[0].seen.append((request.method, path))
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                request.method,
                upstream + path,
                data=await request.read(),
                headers={
                    k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
                },
            ) as r,
        ):
            body = await r.read()
            return web.Response(body=body, status=r.status, content_type=r.content_type)

    app.router.add_route("*", prefix + "/{tail:.*}", forward)
    holder.append(Proxy(*await serve(app)))
    return holder[0]
