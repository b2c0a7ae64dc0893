"""The console's pages and forms over HTTP (a real aiohttp client with cookies), against a real broker
and real watchd hosts: commands reach the host and its answer is shown, viewers and forged forms are
refused, graphs are SVG from the perfdata history, reports come in every format."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from servers.mosquitto import Mosquitto
from watchd.console import history
from watchd.console.view import HostView

from .fleetkit import PASSWORD, start_console, start_host, until

pytestmark = pytest.mark.slow

CUSTOMERS = """
customers:
  acme:
    name: ACME Shop GmbH
    hosts: [web-1]
    services:
      Online shop: [web-1:http]
"""


async def login(base: str, name: str) -> aiohttp.ClientSession:
    s = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with s.get(base + "/login") as r:
        token = re.search(r'name="csrf" value="([^"]+)"', await r.text())
    assert token is not None
    form = {"name": name, "password": PASSWORD, "csrf": token.group(1), "next": "/"}
    async with s.post(base + "/login", data=form, headers={"Origin": base}) as r:
        assert r.status == 200, await r.text()
    return s


def csrf_of(page: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m is not None, "no CSRF field on the page"
    return m.group(1)


@pytest.fixture
async def fleet(tmp_path: Path, broker: Mosquitto) -> AsyncIterator[tuple[str, Path]]:
    web = await start_host(tmp_path / "web-1", "web-1", broker.port, {"http": 0, "disk": 0})
    console = await start_console(tmp_path / "console", broker.port, CUSTOMERS)
    await until(lambda: {"http", "disk"} <= set(console.view.hosts.get("web-1", _none).checks))
    await until(lambda: console.history.flush() >= 0 and history.series_of(console.db, "web-1", "http"))
    yield f"http://127.0.0.1:{console.port}", tmp_path
    await console.stop()
    await web.stop()


_none = HostView("-")


async def test_commands_reach_the_host_and_its_answer_is_shown(fleet: tuple[str, Path]) -> None:
    base, _ = fleet
    async with await login(base, "alice") as s:
        async with s.get(base + "/host/web-1") as r:
            token = csrf_of(await r.text())
        form = {"csrf": token, "scope": "host", "for": "2h", "comment": "kernel update"}
        async with s.post(base + "/host/web-1/command/downtime", data=form, headers={"Origin": base}) as r:
            page = await r.text()
            assert r.status == 200
        answer = re.search(r'<tr data-nonce="\w+" class="answer">(.*?)</tr>', page, re.S)
        assert answer is not None
        assert "downtime" in answer.group(1)
        assert ">done<" in answer.group(1), answer.group(1)

        async def maintenance_shown() -> bool:
            async with s.get(base + "/") as r:
                return "kernel update" in await r.text()

        await until_async(maintenance_shown, "the downtime never came back in the maintenance snapshot")

        form = {"csrf": token, "check": "nope"}
        async with s.post(base + "/host/web-1/command/run", data=form, headers={"Origin": base}) as r:
            assert "no check &#39;nope&#39;" in await r.text(), "the host's own refusal is shown"
        form = {"csrf": token, "incident": "999"}
        async with s.post(base + "/host/web-1/command/ack", data=form, headers={"Origin": base}) as r:
            answer = re.search(r'<tr data-nonce="\w+" class="answer">(.*?)</tr>', await r.text(), re.S)
        assert answer is not None
        assert "no incident #999" in answer.group(1)


async def until_async(what: object, message: str, timeout: float = 15.0) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await what():  # type: ignore[operator]
        assert loop.time() < deadline, message
        await asyncio.sleep(0.1)


async def test_viewers_and_forged_forms_cannot_act(fleet: tuple[str, Path]) -> None:
    base, _ = fleet
    async with aiohttp.ClientSession() as anon:
        async with anon.get(base + "/", allow_redirects=False) as r:
            assert r.status == 303
            assert r.headers["Location"].startswith("/login")
        run = base + "/host/web-1/command/run"
        async with anon.post(run, data={"check": "http"}, allow_redirects=False) as r:
            assert (r.status, r.headers.get("Location", "")[:6]) == (303, "/login")
        async with anon.get(base + "/api/v1/fleet") as r:
            assert r.status == 401
    async with await login(base, "victor") as viewer:
        async with viewer.get(base + "/host/web-1") as r:
            page = await r.text()
        assert "Run now" not in page, "a viewer is not offered forms"
        form = {"csrf": csrf_of(page), "check": "http"}
        async with viewer.post(base + "/host/web-1/command/run", data=form, headers={"Origin": base}) as r:
            assert r.status == 403
    async with await login(base, "alice") as s, s.post(
        base + "/host/web-1/command/run", data={"check": "http", "csrf": "forged"}
    ) as r:
        assert r.status == 403


async def test_graphs_and_reports(fleet: tuple[str, Path]) -> None:
    base, _ = fleet
    async with await login(base, "alice") as s:
        async with s.get(base + "/host/web-1/check/http") as r:
            page = await r.text()
        assert "/graph/web-1/http/1d.svg" in page
        async with s.get(base + "/graph/web-1/http/1h.svg") as r:
            assert r.content_type == "image/svg+xml"
            svg = ET.fromstring(await r.text())
        assert svg.tag.endswith("svg")
        assert "load" in ET.tostring(svg, encoding="unicode"), "the perfdata label is in the legend"
        async with s.get(base + "/graph/web-1/http/1y.svg") as r:
            assert r.status == 404
        kinds = {"html": "text/html", "text": "text/plain", "csv": "text/csv", "json": "application/json"}
        for fmt, kind in kinds.items():
            async with s.get(f"{base}/report/acme/2026-11.{fmt}") as r:
                assert (r.status, r.content_type) == (200, kind)
                body = await r.text()
            assert "Online shop" in body
            assert "web-1" not in body, "the customer's report has no internal names"
        async with s.get(f"{base}/report/acme/2026-11.html?internal=1") as r:
            assert "web-1" in await r.text()
        async with s.get(f"{base}/report/acme/2026-13.html") as r:
            assert r.status == 400
