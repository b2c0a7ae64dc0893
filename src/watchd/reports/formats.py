"""SLA reports rendered for people and programs: text, JSON (as `GET /api/v1/sla/report`), CSV and
HTML. Pure: a `availability.Report` in, a string out; shared by `watchd sla report` and the API."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from typing import Any

from watchd.core import sla
from watchd.core.timefmt import described, local
from watchd.reports import availability as av


def percent(ratio: float | None) -> str:
    """Floored to three decimals (as the status page floors to two), so 99.9996 % is not 100.000 %."""
    if ratio is None:
        return "-"
    return f"{math.floor(ratio * 100.0 * 1000.0 + 1e-6) / 1000.0:.3f} %"


def minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def span(seconds: float) -> str:
    """A length of time people read at a glance: minutes, hours, then days."""
    if seconds < 120 * 60:
        return minutes(seconds)
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


VERDICT_TEXT = {
    sla.Verdict.MET: "MET",
    sla.Verdict.MISSED: "MISSED",
    sla.Verdict.ON_TRACK: "on track",
    sla.Verdict.AT_RISK: "AT RISK",
    sla.Verdict.NO_DATA: "no data",
}
RULES = (
    "Availability is up / (up + down) over the time measured from the period's start until {until}.",
    "Verdict by the error budget of the whole period: missed once the downtime exceeds the allowed",
    "downtime, or at its end below target; met at its end on target; until then on track or at risk.",
)


def _target_text(label: str, r: Any) -> str:
    if r.target_s is None:
        return f"{label} {minutes(r.taken_s)} (no target)"
    return f"{label} {minutes(r.taken_s)} / {minutes(r.target_s)} {r.status.value}"


def _period(rep: av.Report) -> str:
    z = rep.timezone
    name = "" if described(z) == "UTC" else f" ({z})"  # the abbreviations name UTC already
    return f"{local(rep.start, z)} - {local(rep.end, z)}{name}"


def _until(rep: av.Report) -> str:
    return "its end" if rep.now >= rep.end else f"now ({local(rep.now, rep.timezone)})"


def format_text(rep: av.Report) -> str:
    z = rep.timezone
    complete = "complete" if rep.now >= rep.end else f"so far (until {local(rep.now, z)})"
    out = [
        f"SLA report {rep.label}: {_period(rep)}, {complete}",
        *(line.format(until=_until(rep)) for line in RULES),
        f"Down: hard {', '.join(sorted(s.name for s in rep.down_states))}. Maintenance is excluded; "
        "time without monitoring is reported apart.",
    ]
    for s in rep.services:
        a, target = s.availability, s.service.target
        out += [
            "",
            f"{s.service.title} ({s.service.name}): {', '.join(s.service.checks)}",
            f"  availability   {percent(a.availability):>12}   target {target} %"
            f"   {VERDICT_TEXT[a.verdict(target)]}   (over {span(a.measured_s)} measured)",
            f"  downtime       {minutes(a.down_s):>12}   allowed {minutes(a.allowed_down_s(target))}"
            f" in the whole period   error budget left {minutes(a.budget_left_s(target))}",
            f"  maintenance    {minutes(a.excluded_s):>12}   not monitored {minutes(a.unknown_s)}"
            f"   (availability if that was down: {percent(a.availability_min)})",
        ]
        if a.outages:
            out.append("  outages:")
            out += [f"    {local(x, z)} - {local(y, z)}  {minutes(y - x)}" for x, y in a.outages]
        if len(s.checks) > 1:
            out.append("  per check:")
            out += [
                f"    {name:<24} {percent(c.availability):>12}  down {minutes(c.down_s)}"
                for name, c in s.checks.items()
            ]
        if s.incidents:
            out.append("  incidents:")
            for i in s.incidents:
                out.append(
                    f"    #{i.times.id} {i.times.priority} {i.times.check} {i.status}, opened "
                    f"{local(i.times.opened_at, z)}: {_target_text('response', i.response)}; "
                    f"{_target_text('resolution', i.resolution)}"
                )
    return "\n".join(out) + "\n"


def format_json(rep: av.Report) -> str:
    return json.dumps(av.report_dict(rep), indent=2) + "\n"


CSV_COLUMNS = (
    "kind", "service", "name", "from", "until", "measured_minutes", "target_percent",
    "availability_percent", "availability_min_percent", "downtime_minutes", "allowed_downtime_minutes",
    "error_budget_left_minutes", "maintenance_minutes", "unknown_minutes", "verdict", "met", "priority",
    "status", "opened_at", "response_minutes",
    "response_target_minutes", "response_status", "resolution_minutes", "resolution_target_minutes",
    "resolution_status",
)  # fmt: skip


def format_csv(rep: av.Report) -> str:
    """One row per service, per member check and per incident (`kind` says which)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    doc = av.report_dict(rep)
    for s in doc["services"]:
        w.writerow({"kind": "service", "service": s["name"], "name": s["name"], **s})
        for name, c in s["check_availability"].items():
            w.writerow({"kind": "check", "service": s["name"], "name": name, **c})
        for i in s["incidents"]:
            w.writerow(
                {
                    "kind": "incident",
                    "service": s["name"],
                    "name": f"#{i['id']} {i['check']}",
                    "priority": i["priority"],
                    "status": i["status"],
                    "opened_at": i["opened_at"],
                    **{f"response_{k}": v for k, v in i["response"].items() if k != "clock"},
                    **{f"resolution_{k}": v for k, v in i["resolution"].items() if k != "clock"},
                }
            )
    return buf.getvalue()


def format_html(rep: av.Report) -> str:
    """A standalone page (inline CSS) to send to a customer."""
    e = html.escape
    z = rep.timezone
    parts = []
    for s in rep.services:
        a, target = s.availability, s.service.target
        verdict = a.verdict(target)
        rows = "".join(
            f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>"
            for k, v in (
                ("Availability", f"{percent(a.availability)} over {span(a.measured_s)} measured"),
                ("Target", f"{target} %"),
                ("Result", VERDICT_TEXT[verdict]),
                ("Downtime", minutes(a.down_s)),
                ("Allowed downtime (whole period)", minutes(a.allowed_down_s(target))),
                ("Error budget left", minutes(a.budget_left_s(target))),
                ("Planned maintenance (excluded)", minutes(a.excluded_s)),
                ("Not monitored", minutes(a.unknown_s)),
            )
        )
        outages = "".join(
            f"<li>{e(local(x, z))} - {e(local(y, z))} ({e(minutes(y - x))})</li>" for x, y in a.outages
        )
        incidents = "".join(
            f"<tr><td>#{i.times.id}</td><td>{e(i.times.priority)}</td><td>{e(i.times.check)}</td>"
            f"<td>{e(local(i.times.opened_at, z))}</td>"
            f"<td>{e(minutes(i.response.taken_s))} / {e(minutes(i.response.target_s))} "
            f"{e(i.response.status.value)}</td>"
            f"<td>{e(minutes(i.resolution.taken_s))} / {e(minutes(i.resolution.target_s))} "
            f"{e(i.resolution.status.value)}</td></tr>"
            for i in s.incidents
        )
        parts.append(
            f'<section class="{verdict.value}" data-verdict="{verdict.value}">'
            f"<h2>{e(s.service.title)}</h2><table>{rows}</table>"
            + (f"<h3>Outages</h3><ul>{outages}</ul>" if outages else "")
            + (
                "<h3>Incidents</h3><table><tr><th>#</th><th>Priority</th><th>Check</th><th>Opened</th>"
                f"<th>Response</th><th>Resolution</th></tr>{incidents}</table>"
                if incidents
                else ""
            )
            + "</section>"
        )
    title = f"SLA report {rep.label}"
    complete = "complete" if rep.now >= rep.end else f"so far, until {local(rep.now, z)}"
    rules = " ".join(RULES).format(until=_until(rep))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{REPORT_CSS}</style></head><body><main>"
        f"<h1>{e(title)}</h1><p>{e(_period(rep))}, {e(complete)}.</p><p>{e(rules)}"
        " Planned maintenance is excluded; time without monitoring is shown apart.</p>"
        + "".join(parts)
        + "</main></body></html>\n"
    )


REPORT_CSS = (
    "body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}"
    "main{max-width:860px;margin:0 auto;padding:20px 14px}"
    "section{background:#fff;border:1px solid #e1e5ea;border-left:4px solid #c9d0d8;border-radius:8px;"
    "padding:12px 16px;margin:14px 0}section.met{border-left-color:#2fa84f}"
    "section.missed{border-left-color:#d93636}section.at_risk{border-left-color:#e3a008}table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f3;font-variant-numeric:tabular-nums}"
)

FORMATS = {"text": format_text, "json": format_json, "csv": format_csv, "html": format_html}
