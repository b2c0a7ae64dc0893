"""The customer SLA report (report.py) rendered: text, JSON, CSV and a self-contained HTML page, with
formats.py's figures and style. Pure: a `CustomerReport` in, a string out.

Every rendering prints what the report holds and nothing else, so a customer report (built without
`internal`) cannot show a host or check name. Names are escaped in HTML, quoted against formulas in
CSV, and stripped of control characters in text and CSV.
"""

from __future__ import annotations

import csv
import html
import io
import json
import textwrap
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from watchd.core import sla
from watchd.core.timefmt import described, local
from watchd.reports import availability as av
from watchd.reports.formats import REPORT_CSS, minutes, percent, span

if TYPE_CHECKING:  # report.py imports this module for its command line
    from watchd.console.report import CustomerReport, IncidentLine

OTHER = "other systems"  # an incident on the customer's host outside every listed service

VERDICT_TEXT = {
    sla.Verdict.MET: "met",
    sla.Verdict.MISSED: "MISSED",
    sla.Verdict.ON_TRACK: "on track",
    sla.Verdict.AT_RISK: "AT RISK",
    sla.Verdict.NO_DATA: "not measured",
}
TARGET_TEXT = {
    sla.TargetStatus.MET: "met",
    sla.TargetStatus.BREACHED: "breached",
    sla.TargetStatus.PENDING: "pending",
    sla.TargetStatus.NONE: "no target",
}
RULES = (
    "Availability is the share of the measured time a service was up. A service is down while one of"
    " its checks is confirmed {down}; planned maintenance is excluded, and time before monitoring"
    " began or while it was interrupted counts as not measured, never as up. The verdict weighs the"
    " downtime against the allowed downtime of the whole month ({target} % of the agreed time)."
)


def _plain(text: str) -> str:
    """No control or bidirectional formatting characters in a name printed to a terminal or CSV."""
    return "".join("\ufffd" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text)


def _services(i: IncidentLine) -> str:
    return ", ".join(i.services) or OTHER


def _period(rep: CustomerReport) -> str:
    z = rep.timezone
    zone = "" if described(z) == "UTC" else f" ({z})"
    return f"{local(rep.start, z)} - {local(rep.end, z)}{zone}"


def _so_far(rep: CustomerReport) -> str:
    if rep.complete:
        return "complete"
    if rep.now <= rep.start:
        return "not begun"
    return f"so far (until {local(rep.now, rep.timezone)})"


def _rules(rep: CustomerReport) -> str:
    down = " or ".join(sorted(s.name for s in rep.down_states))
    return RULES.format(down=down, target=f"{rep.target:g}")


def _target(r: sla.TargetResult) -> str:
    if r.target_s is None:
        return f"{span(r.taken_s or 0.0)} (no target)"
    return f"{span(r.taken_s or 0.0)} of {span(r.target_s)}, {TARGET_TEXT[r.status]}"


def format_text(rep: CustomerReport) -> str:
    z = rep.timezone
    out = [
        _plain(f"SLA report {rep.month} for {rep.customer}: {_period(rep)}, {_so_far(rep)}"),
        f"Target: {rep.target:g} % availability per service.",
        textwrap.fill(_rules(rep), 100),
    ]
    for s in rep.services:
        a = s.availability
        verdict = a.verdict(rep.target)
        measured = f"over {span(a.measured_s)} measured" if a.availability is not None else "no data"
        out += [
            "",
            _plain(s.name),
            f"  availability   {percent(a.availability):>12}   {VERDICT_TEXT[verdict]}   ({measured})",
            f"  downtime       {minutes(a.down_s):>12}   allowed {minutes(a.allowed_down_s(rep.target))}",
            f"  maintenance    {minutes(a.excluded_s):>12}   not measured {span(a.unknown_s)}",
        ]
        if a.outages:
            out.append("  outages:")
            out += [f"    {local(x, z)} - {local(y, z)}  {minutes(y - x)}" for x, y in a.outages]
        if rep.internal:
            out.append("  members (internal):" if s.members else "  members (internal): none in the history")
            out += [
                _plain(f"    {name:<32} {percent(m.availability):>12}  down {minutes(m.down_s)}")
                for name, m in s.members
            ]
    out += ["", f"Incidents: {len(rep.incidents) or 'none'}"]
    for i in rep.incidents:
        closed = f", resolved {local(i.resolved_at, z)}" if i.resolved_at is not None else ", open"
        out.append(
            _plain(f"  #{i.id} {i.priority} {_services(i)}: opened {local(i.opened_at, z)}{closed}")
            + f"; response {_target(i.response)}; resolution {_target(i.resolution)}"
        )
        if i.internal is not None:
            by = f", acknowledged by {i.internal.acked_by}" if i.internal.acked_by else ""
            out.append(_plain(f"    {i.internal.host} {i.internal.check}{by}: {i.internal.summary}"))
    return "\n".join(out) + "\n"


def report_dict(rep: CustomerReport) -> dict[str, Any]:
    services = []
    for s in rep.services:
        d: dict[str, Any] = {
            "name": s.name,
            "measured": s.availability.availability is not None,
            **av.availability_dict(s.availability, rep.target),
            "outages": [
                {"start": av.iso(a), "end": av.iso(b), "minutes": round((b - a) / 60.0, 2)}
                for a, b in s.availability.outages
            ],
        }
        if rep.internal:
            d["members"] = {name: av.availability_dict(m) for name, m in s.members}
        services.append(d)
    incs = []
    for i in rep.incidents:
        d = {
            "id": i.id,
            "services": list(i.services),
            "priority": i.priority,
            "status": i.status,
            "opened_at": av.iso(i.opened_at),
            "acked_at": av.iso(i.acked_at),
            "resolved_at": av.iso(i.resolved_at),
            "respond_by": av.iso(i.respond_by),
            "resolve_by": av.iso(i.resolve_by),
            "response": av.target_dict(i.response),
            "resolution": av.target_dict(i.resolution),
        }
        if i.internal is not None:
            d.update(
                host=i.internal.host, check=i.internal.check, summary=i.internal.summary,
                acked_by=i.internal.acked_by,
            )  # fmt: skip
        incs.append(d)
    return {
        "schema": "watchd.console.sla_report/v1",
        "customer": {"id": rep.customer_id, "name": rep.customer},
        "internal": rep.internal,
        "period": {
            "label": rep.month,
            "start": av.iso(rep.start),
            "end": av.iso(rep.end),
            "timezone": rep.timezone,
            "complete": rep.complete,
        },
        "generated_at": av.iso(rep.now),
        "target_percent": rep.target,
        "down_states": sorted(s.name for s in rep.down_states),
        "services": services,
        "incidents": incs,
    }


def format_json(rep: CustomerReport) -> str:
    return json.dumps(report_dict(rep), indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = (
    "kind", "service", "from", "until", "measured_minutes", "target_percent", "availability_percent",
    "availability_min_percent", "downtime_minutes", "allowed_downtime_minutes", "maintenance_minutes",
    "unknown_minutes", "verdict", "met", "incident", "priority", "status", "opened_at", "acked_at",
    "resolved_at", "response_minutes", "response_target_minutes", "response_status",
    "resolution_minutes", "resolution_target_minutes", "resolution_status",
)  # fmt: skip
CSV_INTERNAL = ("member", "host", "check", "summary")


def _cell(v: Any) -> Any:
    """Text a spreadsheet would run as a formula (=, +, -, @) is quoted, as OWASP advises."""
    if isinstance(v, str):
        v = _plain(v)
        if v[:1] in ("=", "+", "-", "@"):
            return "'" + v
    return v


def format_csv(rep: CustomerReport) -> str:
    """One row per service, per incident and (internal) per member; `kind` says which."""
    buf = io.StringIO()
    columns = CSV_COLUMNS + (CSV_INTERNAL if rep.internal else ())
    w = csv.DictWriter(buf, columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()

    def row(d: dict[str, Any]) -> None:
        w.writerow({k: _cell(v) for k, v in d.items()})

    doc = report_dict(rep)
    for s in doc["services"]:
        row({**s, "kind": "service", "service": s["name"]})
        for name, m in s.get("members", {}).items():
            row({**m, "kind": "member", "service": s["name"], "member": name})
    for i in doc["incidents"]:
        row(
            {
                **i,
                "kind": "incident",
                "incident": i["id"],
                "service": ", ".join(i["services"]) or OTHER,
                **{f"response_{k}": v for k, v in i["response"].items() if k != "clock"},
                **{f"resolution_{k}": v for k, v in i["resolution"].items() if k != "clock"},
            }
        )
    return buf.getvalue()


def format_html(rep: CustomerReport) -> str:
    """A standalone page (inline CSS, no scripts, every name escaped) to send to the customer."""
    e = html.escape
    z = rep.timezone
    parts = []
    for s in rep.services:
        a = s.availability
        verdict = a.verdict(rep.target)
        measured = f" over {span(a.measured_s)} measured" if a.availability is not None else ""
        rows = "".join(
            f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>"
            for k, v in (
                ("Availability", f"{percent(a.availability)}{measured}"),
                ("Target", f"{rep.target:g} %"),
                ("Result", VERDICT_TEXT[verdict]),
                ("Downtime", minutes(a.down_s)),
                ("Allowed downtime (whole month)", minutes(a.allowed_down_s(rep.target))),
                ("Planned maintenance (excluded)", minutes(a.excluded_s)),
                ("Not measured", span(a.unknown_s)),
            )
        )
        outages = "".join(
            f"<li>{e(local(x, z))} - {e(local(y, z))} ({e(minutes(y - x))})</li>" for x, y in a.outages
        )
        members = "".join(
            f"<tr><td>{e(name)}</td><td>{e(percent(m.availability))}</td><td>{e(minutes(m.down_s))}</td></tr>"
            for name, m in s.members
        )
        parts.append(
            f'<section class="{verdict.value}" data-verdict="{verdict.value}">'
            f"<h2>{e(s.name)}</h2><table>{rows}</table>"
            + (f"<h3>Outages</h3><ul>{outages}</ul>" if outages else "")
            + (
                "<h3>Members (internal)</h3><table><tr><th>Check</th><th>Availability</th>"
                f"<th>Downtime</th></tr>{members}</table>"
                if members
                else ""
            )
            + "</section>"
        )
    inc_rows = "".join(
        f"<tr><td>#{i.id}</td><td>{e(_services(i))}</td><td>{e(i.priority)}</td>"
        f"<td>{e(local(i.opened_at, z))}</td><td>{e(local(i.resolved_at, z, none='open'))}</td>"
        f"<td>{e(_target(i.response))}</td><td>{e(_target(i.resolution))}</td></tr>"
        + (
            f'<tr class="internal"><td></td><td colspan="6">{e(i.internal.host)} {e(i.internal.check)}'
            f"{e(', acknowledged by ' + i.internal.acked_by if i.internal.acked_by else '')}: "
            f"{e(i.internal.summary)}</td></tr>"
            if i.internal is not None
            else ""
        )
        for i in rep.incidents
    )
    incidents = (
        "<table><tr><th>#</th><th>Service</th><th>Priority</th><th>Opened</th><th>Resolved</th>"
        f"<th>Response</th><th>Resolution</th></tr>{inc_rows}</table>"
        if inc_rows
        else "<p>None.</p>"
    )
    title = f"SLA report {rep.month}: {rep.customer}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{REPORT_CSS}tr.internal td{{color:#5d6975}}</style></head>"
        f"<body><main><h1>{e(title)}</h1><p>{e(_period(rep))}, {e(_so_far(rep))}.</p>"
        f"<p>{e(_rules(rep))}</p>"
        + "".join(parts)
        + f"<section><h2>Incidents</h2>{incidents}</section>"
        + "</main></body></html>\n"
    )


FORMATS: dict[str, Callable[[CustomerReport], str]] = {
    "text": format_text,
    "json": format_json,
    "csv": format_csv,
    "html": format_html,
}
