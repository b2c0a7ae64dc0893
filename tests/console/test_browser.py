"""The console in Debian's chromium, against a real broker and real watchd hosts: log in, a failing host
appears on the dashboard, an acknowledgement from the browser reaches the host (its store says so) and
comes back as "acknowledged", and a customer's page shows that customer's services and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from servers.mosquitto import Mosquitto

from .fleetkit import PASSWORD, set_code, start_console, start_host

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

CUSTOMERS = """
customers:
  acme:
    name: ACME Shop GmbH
    hosts: [web-1]
    services:
      Online shop: [web-1:http]
  beta:
    name: Beta Bank
    hosts: [db-1]
    services:
      Banking database: [db-1:mysql]
"""


async def reload_until(page: Any, url: str, text: str, timeout: float = 20.0) -> str:
    """Reload `url` (no JavaScript: the page is what the server rendered) until it contains `text`."""
    body = ""

    async def shown() -> bool:
        nonlocal body
        await page.goto(url)
        body = await page.locator("body").inner_text()
        return text in body

    loop = __import__("asyncio").get_running_loop()
    deadline = loop.time() + timeout
    while not await shown():
        assert loop.time() < deadline, f"{text!r} never appeared on {url}; last page:\n{body[:2000]}"
        await __import__("asyncio").sleep(0.2)
    return body


async def test_ops_see_a_failure_and_ack_it_and_customers_see_only_their_own(
    tmp_path: Path, broker: Mosquitto, browser: Any
) -> None:
    web = await start_host(tmp_path / "web-1", "web-1", broker.port, {"http": 0})
    db = await start_host(tmp_path / "db-1", "db-1", broker.port, {"mysql": 0})
    console = await start_console(tmp_path / "console", broker.port, CUSTOMERS)
    base = f"http://127.0.0.1:{console.port}"
    ARTIFACTS.mkdir(exist_ok=True)
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    page = await context.new_page()
    try:
        await page.goto(base + "/")
        assert "/login" in page.url, "the dashboard is behind a login"
        await page.fill("#name", "alice")
        await page.fill("#password", PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_load_state()
        await reload_until(page, base + "/", "No problems")

        set_code(tmp_path / "db-1", "mysql", 2)
        body = await reload_until(page, base + "/", "not acknowledged")
        card = page.locator('.host[data-host="db-1"]')
        assert await card.locator(".st.CRITICAL").count() >= 1
        assert "Beta Bank" in body
        assert "respond:" in body
        await page.screenshot(path=str(ARTIFACTS / "console-dashboard.png"), full_page=True)

        await card.locator('input[name="comment"]').fill("looking at it")
        await card.get_by_role("button", name="Acknowledge").click()
        await page.wait_for_load_state()
        answer = page.locator("#answers tr.answer")
        assert "done" in await answer.inner_text(), await page.locator("body").inner_text()
        acked = db.store.db.execute("SELECT acked_by FROM incidents WHERE check_name = 'mysql'").fetchone()
        assert acked == ("alice",), "the host's own store has the acknowledgement"
        await reload_until(page, base + "/", "acknowledged by alice")

        # Customer pages are public, and each shows its own services only.
        customer = await context.new_page()
        await customer.goto(base + "/s/beta")
        text = await customer.locator("body").inner_text()
        html = await customer.content()
        assert "Banking database" in text
        assert "Outage" in text
        assert "Identified, being worked on" in text, "the ack reads as plain words"
        bars = customer.locator('.service[data-service="Banking database"] .bars span')
        assert await bars.count() == 90
        assert await customer.locator(".bars span.lv-nodata").count() == 89, "no data before monitoring"
        assert await bars.last.get_attribute("class") == "lv-major", "today: down most of the time watched"
        await customer.screenshot(path=str(ARTIFACTS / "console-customer-page.png"), full_page=True)
        for leak in ("db-1", "mysql", "web-1", "Online shop", "ACME", "alice", "code 2", "P1", "P2"):
            assert leak not in html, f"the customer page of beta shows {leak!r}"
        await customer.goto(base + "/s/acme")
        html = await customer.content()
        assert "Online shop" in html
        assert "Operational" in html
        for leak in ("db-1", "mysql", "Banking", "Beta", "web-1", "http"):
            assert leak not in html.replace("http-equiv", "").replace("https://", ""), leak
    finally:
        await context.close()
        await console.stop()
        await web.stop()
        await db.stop()
