"""What a ticket says: subject and plain-text body for each incident action. Pure."""

from __future__ import annotations

import datetime as dt

from watchd.core.model import CheckResult, Incident

MAX_LONG_OUTPUT = 4000


def iso(t: float | None) -> str:
    if t is None:
        return "by agreement"
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def subject(inc: Incident) -> str:
    text = f"[{inc.priority}] {inc.host}/{inc.check} is {inc.state.name}: {inc.summary}"
    return text if len(text) <= 200 else text[:199] + "…"


def body(inc: Incident, action: str, why: str, result: CheckResult | None) -> str:
    lines = [
        f"{_headline(action)}: {inc.check} on {inc.host}",
        "",
        f"State:     {inc.state.name}",
        f"Summary:   {inc.summary}",
        f"Priority:  {inc.priority} (impact {inc.impact}, urgency {inc.urgency})",
        f"Opened:    {iso(inc.opened_at)}",
        f"Respond by: {iso(inc.respond_by)}",
        f"Resolve by: {iso(inc.resolve_by)}",
        f"Why:       {why}",
    ]
    if inc.flapping:
        lines.append("Note:      the check is flapping (changing state often); one incident covers it")
    if inc.resolved_at is not None:
        lines.append(f"Resolved:  {iso(inc.resolved_at)}")
    if result is not None:
        if result.reason:
            lines.append(f"Detail:    {result.reason}")
        if result.long_output:
            lines += ["", result.long_output[:MAX_LONG_OUTPUT]]
        if result.perfdata:
            lines += ["", "Measurements:"]
            lines += [f"  {p.label} = {p.value}{p.uom}" for p in result.perfdata[:50]]
    lines += ["", f"Incident key: {inc.key}"]
    return "\n".join(lines)


def _headline(action: str) -> str:
    return {
        "open": "Problem detected",
        "reopen": "Problem is back",
        "update": "Incident updated",
        "resolve": "Resolved",
    }.get(action, action.capitalize())
