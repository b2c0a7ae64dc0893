"""The graphs in a real headless browser (Debian's chromium driven by Playwright): inline in a page, as
the console shows them, and as an <img>. Hostile series names stay text even with JavaScript on; the
browser's own geometry puts the line inside the frame. Screenshots go to artifacts/."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import pytest

from watchd.console.graphs import Series, render, sparkline
from watchd.console.rollup import rollup

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
NOW = 1_795_000_000.0
HOSTILE = '</text><script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'

pytestmark = pytest.mark.slow


def graph(name: str) -> str:
    start = NOW - 86400
    points = [(start + 60 * i, 1 + math.sin(i / 60)) for i in range(1440) if not 400 < i < 520]
    return render([Series(name, rollup(points, start, NOW))], start, NOW, title=f"Load {name}", now=NOW,
                  warn="1.5", crit="1.9", tz="Europe/Berlin")  # fmt: skip


async def test_inline_graph_in_chromium(browser: Any) -> None:
    page = await (await browser.new_context(viewport={"width": 800, "height": 600})).new_page()
    await page.set_content(
        f"<!doctype html><title>graph</title><body style='color:#222'>{graph(HOSTILE)}"
        f"<p>{sparkline([1.0, 3.0, None, 2.0], 100, 20, label=HOSTILE)}</p></body>"
    )
    assert await page.evaluate("window.pwned") is None
    assert await page.locator("script").count() == 0
    name = page.locator("body > svg text.name")
    assert await name.locator("title").text_content() == HOSTILE  # the full name; the legend cuts it
    assert HOSTILE.startswith((await name.text_content()).removeprefix(HOSTILE).removesuffix("\u2026"))
    img = page.get_by_role("img", name=f"Load {HOSTILE}; {HOSTILE}: last", exact=False)
    assert await img.count() == 1
    frame = await page.locator("rect.frame").bounding_box()
    line = await page.locator("path.avg").bounding_box()
    assert frame is not None
    assert line is not None
    assert line["x"] >= frame["x"] - 1
    assert line["y"] >= frame["y"] - 1
    assert line["x"] + line["width"] <= frame["x"] + frame["width"] + 1
    assert line["y"] + line["height"] <= frame["y"] + frame["height"] + 1
    assert line["width"] > frame["width"] * 0.95  # the whole day, edge to edge
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console-graph-inline.png"), full_page=True)


async def test_graph_as_an_image_in_chromium(browser: Any) -> None:
    """As <img src> the SVG is its own document: it must be well-formed and self-contained to show."""
    page = await (await browser.new_context(viewport={"width": 800, "height": 400})).new_page()
    data = base64.b64encode(graph("load1").encode()).decode()
    await page.set_content(f'<!doctype html><img id="g" src="data:image/svg+xml;base64,{data}">')
    size = await page.evaluate(
        "new Promise(ok => { const i = document.getElementById('g');"
        " const done = () => ok([i.naturalWidth, i.naturalHeight]);"
        " i.complete ? done() : (i.onload = done, i.onerror = () => ok([0, 0])); })"
    )
    assert size[0] == 720
    assert size[1] > 240
