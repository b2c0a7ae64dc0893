"""The short texts of a page: an SMS that fits a length budget and a sentence for a voice call. Pure.

SMS: "<prefix> <host> <check>: <summary> Ack: <ack_url>". The prefix says what happened (P1 CRITICAL,
ESCALATED P1 CRITICAL, RESOLVED P1, ACKED by alice P1, TEST). When the budget is tight the summary
is cut first, then host/check, then the prefix; the acknowledge link is never cut (a cut link is
worse than none), so it is there whenever it fits at all. Text is mapped onto the GSM 03.38
alphabet (dashes, quotes, accents transliterated, anything else "?") so one SMS stays one segment
of 160 septets instead of becoming a 70-character UCS-2 one; the length counted is septets
(`sms_length`: the extension characters such as `{`, `|`, `~`, `€` take two).

Voice: a sentence to be read out by a text-to-speech engine: no URLs, "priority 1" instead of
"P1", host and check names spelled so that "web01-db.example" is read as "web 0 1 db dot example".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

# GSM 03.38 default alphabet (one septet each) and its extension table (escape + septet: two).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")
_REPLACE = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "«": '"', "»": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\t": " ", "`": "'",
    "\u2022": "*", "\u00b7": "*", "\u00d7": "x", "\u2192": "->", "\u2264": "<=", "\u2265": ">=",
}  # fmt: skip
CUT = ".."  # marks a cut summary; "…" is not in the GSM alphabet

_PREFIX = {
    "open": "{p} {s}",
    "raised": "RAISED {p} {s}",
    "escalate": "ESCALATED {p} {s}",
    "renotify": "STILL {p} {s}",
    "resolution_breached": "OVERDUE {p} {s}",
    "update": "UPDATE {p} {s}",
    "resolve": "RESOLVED {p}",
    "ack": "ACKED by {who} {p}",
    "test": "TEST",
}
NO_ACK_LINK = frozenset({"ack", "resolve"})  # nothing left to acknowledge


def gsm(text: str) -> str:
    """`text` in the GSM 03.38 alphabet: typographic characters replaced, accents dropped where the
    alphabet lacks the accented letter, anything else (emoji, CJK) as "?"."""
    out: list[str] = []
    for ch in text:
        if ch in GSM_BASIC or ch in GSM_EXTENDED:
            out.append(ch)
        elif ch in _REPLACE:
            out.append(_REPLACE[ch])
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            out.append(base if base and all(c in GSM_BASIC for c in base) else "?")
    return "".join(out)


def sms_length(text: str) -> int:
    """Septets `text` takes in the GSM 7-bit encoding (extension characters take two)."""
    return sum(2 if ch in GSM_EXTENDED else 1 for ch in text)


def _cut(text: str, budget: int) -> str:
    """`text` in at most `budget` septets, cut at a word boundary when one is near, marked with CUT."""
    if sms_length(text) <= budget:
        return text
    if budget <= len(CUT):
        return ""
    room = budget - len(CUT)
    out, used = [], 0
    for ch in text:
        used += sms_length(ch)
        if used > room:
            break
        out.append(ch)
    head = "".join(out)
    space = head.rfind(" ")
    if space >= len(head) * 2 // 3:  # keep whole words unless that throws away a third
        head = head[:space]
    return head.rstrip(" :,;") + CUT


def _one_line(value: Any) -> str:
    return " ".join(str(value or "").split())


def _prefix(event: str, facts: Mapping[str, Any]) -> str:
    form = _PREFIX.get(event, event.upper() + " {p} {s}")
    text = form.format(
        p=_one_line(facts.get("priority")),
        s=_one_line(facts.get("state")),
        who=_one_line(facts.get("acked_by")) or "someone",
    )
    return " ".join(text.split())


def _where(facts: Mapping[str, Any]) -> str:
    return " ".join(x for x in (_one_line(facts.get("host")), _one_line(facts.get("check"))) if x)


def _link(url: Any) -> str:
    """The URL as it must be sent: ASCII only (percent-encoded otherwise), never transliterated."""
    return quote(str(url).strip(), safe=":/?#[]@!$&'()*+,;=%-._~")


def sms_text(event: str, facts: Mapping[str, Any], limit: int = 160) -> str:
    """The SMS for `event`, at most `limit` septets (see the module docstring for what is cut first)."""
    head = gsm(_prefix(event, facts))
    where = gsm(_where(facts))
    summary = gsm(_one_line(facts.get("summary") or facts.get("description")))
    url = "" if event in NO_ACK_LINK else _link(facts.get("ack_url") or "")
    tail = f" Ack: {url}" if url else ""
    if url and sms_length(tail.strip()) > limit:
        tail = ""  # the link alone does not fit: better no link than a broken one
    budget = limit - sms_length(tail)
    lead = " ".join(x for x in (head, where) if x)
    if summary:
        full = f"{lead}: {summary}" if lead else summary
        if sms_length(full) <= budget:
            return full + tail
        if sms_length(lead) + 2 + 12 <= budget:  # room for the lead and a useful piece of summary
            return f"{lead}: {_cut(summary, budget - sms_length(lead) - 2)}" + tail
    lead = _cut(lead, budget)
    if not tail:
        return lead
    return (lead + tail) if lead else tail.strip()


# -- voice ---------------------------------------------------------------------------------------------

_URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE)
_STATES = {"CRITICAL": "critical", "WARNING": "warning", "UNKNOWN": "unknown", "OK": "OK"}


def spoken_name(name: str) -> str:
    """A host or check name as it should be read out: separators as pauses, dots as "dot", digit
    runs digit by digit ("web01" -> "web 0 1"), camel case split."""
    words: list[str] = []
    for part in re.split(r"[\s_\-/:]+", name.strip()):
        if not part:
            continue
        pieces = []
        for seg in part.split("."):
            seg = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", seg)
            seg = re.sub(r"(?<=\D)(?=\d)|(?<=\d)(?=\D)", " ", seg)
            seg = re.sub(r"\d+", lambda m: " ".join(m.group(0)), seg)
            pieces.append(seg)
        words.append(" dot ".join(p for p in pieces if p))
    return " ".join(" ".join(words).split())


def spoken_priority(priority: Any) -> str:
    text = str(priority or "").strip()
    m = re.fullmatch(r"[Pp](\d)", text)
    return f"priority {m.group(1)}" if m else (f"priority {text}" if text else "")


def _spoken_summary(summary: Any, limit: int = 240) -> str:
    text = " ".join(_URL.sub("", str(summary or "")).split())
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0]
    return text.rstrip(" .,;:")


def voice_text(event: str, facts: Mapping[str, Any]) -> str:
    """The sentence(s) a voice call reads out for `event`."""
    prio = spoken_priority(facts.get("priority"))
    state = _STATES.get(str(facts.get("state") or "").upper(), str(facts.get("state") or "").lower())
    host = spoken_name(str(facts.get("host") or ""))
    check = spoken_name(str(facts.get("check") or facts.get("description") or ""))
    where = ", ".join(x for x in (f"host {host}" if host else "", f"check {check}" if check else "") if x)
    summary = _spoken_summary(facts.get("summary"))
    what = " ".join(x for x in (prio, "incident") if x)
    on = f" on {where}" if where else ""
    said = f" {summary}." if summary else ""
    if event == "test":
        who = _one_line(facts.get("contact_name"))
        return f"This is a test call from watchd{' for ' + who if who else ''}. No action is needed. Goodbye."
    if event == "resolve":
        return f"This is watchd. Resolved: the {what}{on} is resolved. No action is needed."
    if event == "ack":
        by = _one_line(facts.get("acked_by")) or "someone"
        return f"This is watchd. The {what}{on} was acknowledged by {by}."
    lead = {
        "escalate": "Escalated to you: ",
        "raised": "The incident became more serious: ",
        "renotify": "Reminder, still open: ",
        "resolution_breached": "Resolution deadline missed: ",
        "update": "Update: ",
    }.get(event, "")
    status = f", {state}," if state and on else (f", {state}" if state else "")
    body = f"{what}{status}{on}."
    if not lead:
        body = body[:1].upper() + body[1:]
    return f"This is watchd. {lead}{body}{said} Please acknowledge the page."
