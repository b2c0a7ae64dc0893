"""The status page in a real headless browser (Debian's chromium driven by Playwright), on a
desktop and a phone viewport, with JavaScript disabled. Screenshots go to artifacts/."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from apihelpers import Env, seed_history

from watchd.api.statuspage import percent_text
from watchd.core.clock import FakeClock

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

pytestmark = pytest.mark.slow


async def open_page(browser: Any, env: Env, width: int, height: int) -> Any:
    context = await browser.new_context(
        viewport={"width": width, "height": height}, java_script_enabled=False, device_scale_factor=1
    )
    page = await context.new_page()
    response = await page.goto(f"{env.client.base}/status")
    assert response.status == 200
    return page


async def seeded(env: Env) -> None:
    """History, a current outage of web, and the API's clock stopped (page and API agree on now)."""
    seed_history(env.daemon, time.time())
    env.host.set("web", 2)
    await env.daemon.run_check("web")
    await env.daemon.run_check("db")
    env.api.api.clock = FakeClock(time.time() + 1.0)


async def test_status_page_in_chromium(env: Env, browser: Any) -> None:
    """Desktop: every service shows 90 bars and figures equal to the API's; tooltips carry figures."""
    await seeded(env)
    page = await open_page(browser, env, 1280, 1000)
    assert await page.title() == "Service status"
    assert await page.locator(".banner").inner_text() == "Some systems are down"
    for name in ("shop", "database"):
        api = await env.client.get(f"/api/v1/services/{name}")
        card = page.locator(f"#service-{name}")
        assert await card.locator("h2").inner_text() == api["title"]
        bars = card.locator(".bar")
        assert await bars.count() == 90
        for key in ("24h", "7d", "30d", "90d"):
            ratio = api["availability"][key]["availability_percent"]
            expected = percent_text(None if ratio is None else ratio / 100)
            assert await card.locator(f'dd[data-window="{key}"]').inner_text() == expected
        last = api["days"][-6]  # five days ago
        bar = card.locator(f'.bar[data-date="{last["date"]}"]')
        title = await bar.get_attribute("title")
        assert title.startswith(last["date"])
        if last["availability_percent"] is not None:
            assert percent_text(last["availability_percent"] / 100) in title
        box = await bars.first.bounding_box()
        assert box["width"] >= 2
        assert box["height"] >= 30
    shop = page.locator("#service-shop")
    assert await shop.locator(".state").inner_text() == "Outage"
    assert "Kernel update" in await page.locator('section[aria-label="Scheduled maintenance"]').inner_text()
    assert (
        "Web shop: investigating"
        in await page.locator('section[aria-label="Current incidents"]').inner_text()
    )
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "statuspage-desktop.png"), full_page=True)


async def test_status_page_on_a_phone(env: Env, browser: Any) -> None:
    """Phone width: no horizontal scrolling, the last 30 days of bars, figures in two columns."""
    await seeded(env)
    page = await open_page(browser, env, 390, 844)
    card = page.locator("#service-shop")
    visible = [await b.is_visible() for b in await card.locator(".bar").all()]
    assert visible == [False] * 60 + [True] * 30
    assert await card.locator(".axis .narrow").is_visible()
    assert not await card.locator(".axis .wide").is_visible()
    page_box = await page.locator("main").bounding_box()
    assert page_box["width"] <= 390
    for el in await page.locator(".service, .banner, .notice").all():
        box = await el.bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390 + 0.5
    fig24 = await card.locator('dd[data-window="24h"]').bounding_box()
    fig7 = await card.locator('dd[data-window="7d"]').bounding_box()
    fig30 = await card.locator('dd[data-window="30d"]').bounding_box()
    assert fig24["y"] == fig7["y"]
    assert fig30["y"] > fig24["y"]  # wrapped onto a second row
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "statuspage-phone.png"), full_page=True)
