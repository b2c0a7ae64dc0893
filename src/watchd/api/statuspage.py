"""The public status page (`GET /status`): the service overview (serviceview.py) as HTML.

Server-rendered HTML with inline CSS: no JavaScript, no external assets, readable on a phone. It
shows service titles, states, availability and announced maintenance, never plugin output.
"""

from __future__ import annotations

import datetime as dt
import html
from string import Template

from aiohttp import web

from watchd.api.app import ApiError, api_of, operation
from watchd.api.schemas import STR, err
from watchd.api.serviceview import MONTH, ServiceView, overview
from watchd.core import sla, timefmt
from watchd.core.timefmt import described, local
from watchd.reports.daybars import bar_title, minutes_text, percent_text

routes = web.RouteTableDef()

PAGE_TTL = 10.0  # the public page is rendered at most this often: customers reload during outages

STATE_TEXT = {
    "operational": "Operational",
    "degraded": "Degraded performance",
    "outage": "Outage",
    "maintenance": "Under maintenance",
    "no_data": "No data yet",
}
LEVEL_TEXT = {
    "ok": "target met",
    "minor": "below target",
    "major": "major outage",
    "maintenance": "maintenance",
    "nodata": "no data",
}


def measured_note(a: sla.Availability) -> str:
    """Says so when a figure covers less than its window (monitoring started recently, or gaps)."""
    if a.availability is None or a.unknown_s < 60.0:
        return ""
    return f"over {minutes_text(a.measured_s)} measured"


e = html.escape

PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="60">
<title>$title</title>
<style>$css</style>
</head>
<body>
<main>
<header>
<h1>$title</h1>
<p class="banner b-$overall" data-overall="$overall">$overall_text</p>
</header>
$incidents
$maintenance
<section class="services" aria-label="Services">
$services
</section>
<footer>Updated $updated; times are $zone. Availability is the share of the measured time that was up, over
the last 24 hours, 7, 30 and 90 days and over this month so far (as in the SLA report), excluding announced
maintenance. Page refreshes every minute.</footer>
</main>
</body>
</html>
""")

SERVICE = Template("""<article class="service" id="service-$name" data-service="$name" data-state="$state">
<div class="head"><h2>$title</h2><span class="state s-$state">$state_text</span></div>
$description<div class="bars" role="img" aria-label="Availability per day, last $ndays days">$bars</div>
<div class="axis"><span class="wide">$ndays days ago</span><span class="narrow">30 days ago</span>\
<span class="today">Today</span></div>
<dl class="figures">$figures</dl>
</article>""")

CSS = """
:root{--bg:#f6f7f9;--card:#fff;--fg:#1d232b;--muted:#5d6975;--line:#e1e5ea;--ok:#2fa84f;
--minor:#e3a008;--major:#d93636;--maint:#3b82f6;--nodata:#c9d0d8}
@media (prefers-color-scheme:dark){:root{--bg:#12161b;--card:#1b2128;--fg:#e6eaee;--muted:#9aa6b2;
--line:#2b333c;--nodata:#3a444f}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:860px;margin:0 auto;padding:24px 16px 40px}
h1{font-size:1.6rem;margin:0 0 16px}
h2{font-size:1.1rem;margin:0}
.banner{margin:0 0 24px;padding:14px 18px;border-radius:8px;color:#fff;font-weight:600}
.b-operational{background:var(--ok)}.b-degraded,.b-no_data{background:var(--minor)}
.b-outage{background:var(--major)}.b-maintenance{background:var(--maint)}
section.notice{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--major);
border-radius:8px;padding:12px 16px;margin:0 0 16px}
section.notice.maint{border-left-color:var(--maint)}
section.notice h2{margin-bottom:6px}
section.notice ul{margin:0;padding-left:18px}
.service{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px;margin:0 0 16px}
.head{display:flex;justify-content:space-between;align-items:baseline;gap:8px;flex-wrap:wrap}
.state{font-size:.9rem;font-weight:600}
.s-operational{color:var(--ok)}.s-degraded,.s-no_data{color:var(--minor)}
.s-outage{color:var(--major)}.s-maintenance{color:var(--maint)}
.desc{color:var(--muted);margin:4px 0 0;font-size:.9rem}
.bars{display:flex;gap:2px;height:34px;margin:14px 0 4px}
.bar{flex:1 1 0;min-width:2px;border-radius:2px;background:var(--nodata)}
.l-ok{background:var(--ok)}.l-minor{background:var(--minor)}.l-major{background:var(--major)}
.l-maintenance{background:var(--maint)}
.axis{display:flex;justify-content:space-between;color:var(--muted);font-size:.8rem}
.axis .narrow{display:none}
.figures{display:grid;grid-template-columns:repeat(5,1fr);gap:8px;margin:12px 0 0}
.figures div{border-top:1px solid var(--line);padding-top:6px}
.figures dt{color:var(--muted);font-size:.8rem}
.figures dd{margin:0;font-weight:600;font-variant-numeric:tabular-nums}
.figures dd.note{font-weight:400;color:var(--muted);font-size:.75rem}
footer{color:var(--muted);font-size:.8rem;margin-top:24px}
time{white-space:nowrap}
@media (max-width:600px){
main{padding:16px 10px 32px}h1{font-size:1.3rem}
.bar:nth-child(-n+60){display:none}
.axis .wide{display:none}.axis .narrow{display:inline}
.figures{grid-template-columns:repeat(2,1fr)}
}
"""

OVERALL_TEXT = {
    "operational": "All systems operational",
    "degraded": "Some systems are degraded",
    "outage": "Some systems are down",
    "maintenance": "Maintenance in progress",
    "no_data": "Waiting for the first check results",
}


def overall_state(views: list[ServiceView]) -> str:
    order = ("outage", "degraded", "maintenance", "no_data", "operational")
    states = {v.state for v in views}
    return next((s for s in order if s in states), "operational")


def render(views: list[ServiceView], title: str, timezone: str, now: float) -> str:
    zone = timezone
    services = "\n".join(_service_html(v, zone) for v in views)
    incidents = [(v, i) for v in views for i in v.incidents]
    inc_html = ""
    if incidents:
        items = "".join(
            f'<li data-incident="{i["id"]}">{e(v.service.title)}: '
            f"{'identified, being worked on' if i['acknowledged'] else 'investigating'} "
            f"(since <time>{e(local(i['opened_at'], zone))}</time>, {e(i['priority'])})</li>"
            for v, i in incidents
        )
        inc_html = (
            '<section class="notice" aria-label="Current incidents">'
            f"<h2>Current incidents</h2><ul>{items}</ul></section>"
        )
    maint: dict[tuple[float, float, str], list[str]] = {}
    for v in views:
        for m in v.maintenance:
            maint.setdefault((m["starts_at"], m["ends_at"], m["comment"]), []).append(v.service.title)
    maint_html = ""
    if maint:
        items = "".join(
            f"<li>{'<strong>Now:</strong> ' if a <= now < b else ''}"
            f"<time>{e(local(a, zone))}</time> – <time>{e(local(b, zone))}</time>: {e(', '.join(titles))}"
            f"{': ' + e(comment) if comment else ''}</li>"
            for (a, b, comment), titles in sorted(maint.items())
        )
        maint_html = (
            '<section class="notice maint" aria-label="Scheduled maintenance">'
            f"<h2>Scheduled maintenance</h2><ul>{items}</ul></section>"
        )
    overall = overall_state(views)
    return PAGE.substitute(
        title=e(title),
        css=CSS,
        overall=overall,
        overall_text=e(OVERALL_TEXT[overall]),
        incidents=inc_html,
        maintenance=maint_html,
        services=services or "<p>No services configured.</p>",
        updated=e(local(now, zone)),
        zone=e(described(zone)),
    )


def _month_name(t: float, zone: str) -> str:
    return dt.datetime.fromtimestamp(t, timefmt.zone(zone)).strftime("%B %Y")


def _service_html(v: ServiceView, zone: str) -> str:
    bars = "".join(
        f'<span class="bar l-{b.level}" title="{e(bar_title(b))}" data-date="{b.date.isoformat()}"'
        f' data-availability="{_data_percent(b.availability.availability)}"></span>'
        for b in v.days
    )
    labels = (("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"))
    month = v.windows[MONTH]
    month_label = f"{_month_name(month.start, zone)} so far" if not month.complete else "This month"
    figures = "".join(
        f'<div><dt>{e(label)}</dt><dd data-window="{key}">'
        f"{percent_text(v.windows[key].availability)}</dd>"
        + (f'<dd class="note">{e(note)}</dd>' if (note := measured_note(v.windows[key])) else "")
        + "</div>"
        for key, label in (*labels, (MONTH, month_label))
    )
    desc = f'<p class="desc">{e(v.service.description)}</p>\n' if v.service.description else ""
    return SERVICE.substitute(
        name=e(v.service.name),
        state=v.state,
        title=e(v.service.title),
        state_text=e(STATE_TEXT[v.state]),
        description=desc,
        bars=bars,
        ndays=len(v.days),
        figures=figures,
    )


def _data_percent(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio * 100.0:.4f}"


@routes.get("/status")
@operation(
    "Public status page (HTML)", "status",
    {"200": {"description": "OK", "content": {"text/html": {"schema": STR}}},
     "404": err("the status page is disabled")},
)  # fmt: skip
async def status_page(request: web.Request) -> web.Response:
    api = api_of(request)
    if not api.config.status_page:
        raise ApiError(404, "the status page is disabled (api.status_page.enabled)")
    now = api.now()
    cached = api.status_cache
    if cached is not None and 0 <= now - cached[0] < PAGE_TTL:
        text = cached[1]
    else:
        text = render(overview(api, now), api.config.title, api.config.timezone, now)
        api.status_cache = (now, text)
    return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "max-age=10"})
