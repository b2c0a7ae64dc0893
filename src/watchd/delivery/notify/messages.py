"""What people are told, per audience and language. Pure: (event, audience, language, facts) -> text.

Customers get plain language: what is affected, that we are on it, the ticket number, when we will
respond. On-call engineers get the technical detail. English and Dutch are shipped.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from watchd.core.timefmt import local

LANGUAGES = ("en", "nl")
EVENTS = (
    "open", "raised", "ack", "resolve", "renotify", "escalate", "resolution_breached",
    "maintenance_announce", "maintenance_reminder", "maintenance_cancel", "test", "digest",
)  # fmt: skip

# A digest lists low-priority incidents since the last one, each as it stands when the digest is sent.
_DIGEST = {
    "en": (
        "Summary of {{ items | length }} low-priority incident(s) since {{ since_local }}:\n\n"
        "{% for i in items %}[{{ i.priority }}] {{ i.service }} on {{ i.host }}: {{ i.summary }}"
        " ({% if i.resolved %}resolved{% elif i.acked_by %}open, handled by {{ i.acked_by }}{% else %}open{% endif %},"
        " {{ i.key }})\n{% endfor %}"
    ),
    "nl": (
        "Overzicht van {{ items | length }} storing(en) met lage prioriteit sinds {{ since_local }}:\n\n"
        "{% for i in items %}[{{ i.priority }}] {{ i.service }} op {{ i.host }}: {{ i.summary }}"
        " ({% if i.resolved %}opgelost{% elif i.acked_by %}open, in behandeling bij {{ i.acked_by }}{% else %}open"
        "{% endif %}, {{ i.key }})\n{% endfor %}"
    ),
}
_DIGEST_SUBJECT = {"en": "Daily summary: {{ items | length }} low-priority incident(s)",
                   "nl": "Dagoverzicht: {{ items | length }} storing(en) met lage prioriteit"}  # fmt: skip

_SUBJECTS: dict[str, dict[str, str]] = {
    "en": {
        "open": "[{{ ticket }}] We are working on a problem with {{ service }}",
        "raised": "[{{ ticket }}] Update: the problem with {{ service }} has become more serious",
        "ack": "[{{ ticket }}] An engineer is handling the problem with {{ service }}",
        "resolve": "[{{ ticket }}] Resolved: {{ service }} is working normally again",
        "renotify": "[{{ ticket }}] Still working on {{ service }}",
        "escalate": "[{{ ticket }}] Escalation: {{ service }}",
        "resolution_breached": "[{{ ticket }}] Taking longer than planned: {{ service }}",
        "maintenance_announce": "Planned maintenance on {{ start_local }}",
        "maintenance_reminder": "Reminder: planned maintenance on {{ start_local }}",
        "maintenance_cancel": "Cancelled: planned maintenance on {{ start_local }}",
        "test": "Test message from watchd",
    },
    "nl": {
        "open": "[{{ ticket }}] Wij werken aan een storing in {{ service }}",
        "raised": "[{{ ticket }}] Update: de storing in {{ service }} is ernstiger geworden",
        "ack": "[{{ ticket }}] Een engineer pakt de storing in {{ service }} op",
        "resolve": "[{{ ticket }}] Opgelost: {{ service }} werkt weer normaal",
        "renotify": "[{{ ticket }}] Wij werken nog aan {{ service }}",
        "escalate": "[{{ ticket }}] Escalatie: {{ service }}",
        "resolution_breached": "[{{ ticket }}] Het herstel duurt langer dan gepland: {{ service }}",
        "maintenance_announce": "Gepland onderhoud op {{ start_local }}",
        "maintenance_reminder": "Herinnering: gepland onderhoud op {{ start_local }}",
        "maintenance_cancel": "Geannuleerd: gepland onderhoud op {{ start_local }}",
        "test": "Testbericht van watchd",
    },
}

_CUSTOMER: dict[str, dict[str, str]] = {
    "en": {
        "open": (
            "Dear {{ contact_name }},\n\n"
            "Our monitoring has detected a problem with {{ service }}. You do not need to report it:"
            " our engineers have been alerted and are working on it.\n\n"
            "Ticket: {{ ticket }}\nPriority: {{ priority }}\n"
            "We will respond by {{ respond_by_local }}{% if resolve_by_local %} and aim to resolve it by"
            " {{ resolve_by_local }}{% endif %}.\n\n"
            "We will let you know as soon as it is resolved."
        ),
        "raised": (
            "Dear {{ contact_name }},\n\nThe problem with {{ service }} (ticket {{ ticket }}) has become more"
            " serious; it now has priority {{ priority }}. We will respond by {{ respond_by_local }}."
        ),
        "ack": "Dear {{ contact_name }},\n\nAn engineer is now handling the problem with {{ service }}"
        " (ticket {{ ticket }}).",
        "resolve": (
            "Dear {{ contact_name }},\n\nThe problem with {{ service }} (ticket {{ ticket }}) has been resolved"
            " at {{ at_local }}. It lasted {{ duration }}.\n\nThank you for your patience."
        ),
        "renotify": "Dear {{ contact_name }},\n\nWe are still working on {{ service }} (ticket {{ ticket }}).",
        "escalate": "Dear {{ contact_name }},\n\nThe problem with {{ service }} (ticket {{ ticket }}) has been"
        " escalated.",
        "resolution_breached": (
            "Dear {{ contact_name }},\n\nResolving the problem with {{ service }} (ticket {{ ticket }}) is"
            " taking longer than our target of {{ resolve_by_local }}. We are still working on it."
        ),
        "maintenance_announce": (
            "Dear {{ contact_name }},\n\nWe will carry out planned maintenance from {{ start_local }} to"
            " {{ end_local }}.{% if comment %} {{ comment }}{% endif %}\n\nServices may be briefly"
            " unavailable during this window. No action is needed on your side."
        ),
        "maintenance_reminder": (
            "Dear {{ contact_name }},\n\nA reminder: planned maintenance from {{ start_local }} to"
            " {{ end_local }}.{% if comment %} {{ comment }}{% endif %}"
        ),
        "maintenance_cancel": (
            "Dear {{ contact_name }},\n\nThe planned maintenance from {{ start_local }} to {{ end_local }}"
            " has been cancelled."
        ),
        "test": (
            "Dear {{ contact_name }},\n\nThis is a test of the way we reach you when something is wrong."
            " You do not need to do anything."
        ),
    },
    "nl": {
        "open": (
            "Beste {{ contact_name }},\n\n"
            "Onze monitoring heeft een storing in {{ service }} vastgesteld. U hoeft deze niet te melden:"
            " onze engineers zijn gewaarschuwd en werken eraan.\n\n"
            "Ticket: {{ ticket }}\nPrioriteit: {{ priority }}\n"
            "Wij reageren uiterlijk {{ respond_by_local }}{% if resolve_by_local %} en streven ernaar de"
            " storing uiterlijk {{ resolve_by_local }} op te lossen{% endif %}.\n\n"
            "Wij laten het u weten zodra de storing is opgelost."
        ),
        "raised": (
            "Beste {{ contact_name }},\n\nDe storing in {{ service }} (ticket {{ ticket }}) is ernstiger"
            " geworden en heeft nu prioriteit {{ priority }}. Wij reageren uiterlijk {{ respond_by_local }}."
        ),
        "ack": "Beste {{ contact_name }},\n\nEen engineer pakt de storing in {{ service }} (ticket {{ ticket }})"
        " nu op.",
        "resolve": (
            "Beste {{ contact_name }},\n\nDe storing in {{ service }} (ticket {{ ticket }}) is om {{ at_local }}"
            " opgelost. De storing duurde {{ duration }}.\n\nDank voor uw geduld."
        ),
        "renotify": "Beste {{ contact_name }},\n\nWij werken nog aan {{ service }} (ticket {{ ticket }}).",
        "escalate": "Beste {{ contact_name }},\n\nDe storing in {{ service }} (ticket {{ ticket }}) is"
        " geëscaleerd.",
        "resolution_breached": (
            "Beste {{ contact_name }},\n\nHet oplossen van de storing in {{ service }} (ticket {{ ticket }})"
            " duurt langer dan ons doel van {{ resolve_by_local }}. Wij werken er nog aan."
        ),
        "maintenance_announce": (
            "Beste {{ contact_name }},\n\nWij voeren gepland onderhoud uit van {{ start_local }} tot"
            " {{ end_local }}.{% if comment %} {{ comment }}{% endif %}\n\nDiensten kunnen tijdens dit"
            " venster kort onbereikbaar zijn. U hoeft niets te doen."
        ),
        "maintenance_reminder": (
            "Beste {{ contact_name }},\n\nEen herinnering: gepland onderhoud van {{ start_local }} tot"
            " {{ end_local }}.{% if comment %} {{ comment }}{% endif %}"
        ),
        "maintenance_cancel": (
            "Beste {{ contact_name }},\n\nHet geplande onderhoud van {{ start_local }} tot {{ end_local }}"
            " gaat niet door."
        ),
        "test": (
            "Beste {{ contact_name }},\n\nDit is een test van de manier waarop wij u bereiken als er iets"
            " mis is. U hoeft niets te doen."
        ),
    },
}

# On-call engineers read English technical detail whatever the customer's language.
_ONCALL = (
    "{{ event_title }}: {{ check }} on {{ host }} is {{ state }}\n\n"
    "Summary:    {{ summary }}\n"
    "Priority:   {{ priority }} (impact {{ impact }}, urgency {{ urgency }})\n"
    "Ticket:     {{ ticket }}\n"
    "Opened:     {{ opened_local }}\n"
    "Respond by: {{ respond_by_local or 'by agreement' }}{% if acked_by %} (acknowledged by {{ acked_by }}){% endif %}\n"
    "Resolve by: {{ resolve_by_local or 'by agreement' }}\n"
    "{% if why %}Why:        {{ why }}\n{% endif %}"
    "{% if detail %}\n{{ detail }}\n{% endif %}"
    "{% if ack_url %}\nAcknowledge: {{ ack_url }}\n{% endif %}"
    "{% if resolve_url %}Resolve:     {{ resolve_url }}\n{% endif %}"
    "\nIncident:   {{ key }}"
)
_ONCALL_TITLES = {
    "open": "PROBLEM", "raised": "PRIORITY RAISED", "ack": "ACKNOWLEDGED", "resolve": "RECOVERED",
    "renotify": "STILL FAILING", "escalate": "ESCALATION", "resolution_breached": "RESOLUTION TARGET MISSED",
    "maintenance_announce": "MAINTENANCE PLANNED", "maintenance_reminder": "MAINTENANCE SOON",
    "maintenance_cancel": "MAINTENANCE CANCELLED", "test": "TEST PAGE",
}  # fmt: skip
_ONCALL_MAINTENANCE = "{{ event_title }}: {{ start_local }} - {{ end_local }} ({{ window }}){% if comment %}: {{ comment }}{% endif %}"


@functools.lru_cache(maxsize=256)
def _template(source: str, html: bool = False) -> Any:
    """A compiled template: compiling costs about 1 ms, and every page renders several."""
    return _environments()[1 if html else 0].from_string(source)


@functools.cache
def _environments() -> tuple[Any, Any]:
    """(text, html) Jinja2 environments, made on first use so that loading the config does not load
    Jinja2. StrictUndefined: a template naming a fact that is not there fails loudly in tests."""
    import jinja2

    text = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
    html = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True)
    return text, html


_HTML = (
    '<!doctype html><html><body style="font-family:sans-serif">'
    "{% for para in paragraphs %}<p>{% for line in para %}{{ line }}{% if not loop.last %}<br>{% endif %}"
    "{% endfor %}</p>{% endfor %}</body></html>"
)


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str
    html: str


def render(event: str, audience: str, language: str, facts: dict[str, Any]) -> Message:
    """Render one notification. `facts` is the payload written to the outbox plus the ticket ref."""
    lang = language if language in LANGUAGES else "en"
    f = _enrich(facts)
    if event == "digest":
        return _message(_template(_DIGEST_SUBJECT[lang]).render(f), _template(_DIGEST[lang]).render(f))
    subject = _template(_SUBJECTS[lang][event]).render(f)
    if audience == "customer":
        text = _template(_CUSTOMER[lang][event]).render(f)
    else:
        template = _ONCALL_MAINTENANCE if event.startswith("maintenance") else _ONCALL
        text = _template(template).render(f, event_title=_ONCALL_TITLES[event])
        subject = f"[{f.get('priority', 'maint')}] {text.splitlines()[0]}"[:200]
    return _message(subject, text)


def _message(subject: str, text: str) -> Message:
    paragraphs = [p.splitlines() for p in text.split("\n\n")]
    return Message(subject, text, _template(_HTML, html=True).render(paragraphs=paragraphs))


def _enrich(facts: dict[str, Any]) -> dict[str, Any]:
    """Add formatted times in the contact's zone (the display zone unless the contact sets one),
    each naming its zone; `_utc` variants for templates that want UTC."""
    f = dict(facts)
    zone = f.get("timezone") or "UTC"
    for name in ("respond_by", "resolve_by", "opened_at", "at", "starts_at", "ends_at", "since"):
        value = f.get(name)
        short = {"opened_at": "opened", "starts_at": "start", "ends_at": "end"}.get(name, name)
        f[f"{short}_local"] = local(value, zone, "")  # empty: the customer templates leave it out
        f[f"{short}_utc"] = local(value, "UTC", "by agreement")
    if f.get("at") is not None and f.get("opened_at") is not None:
        f["duration"] = _duration(f["at"] - f["opened_at"])
    f.setdefault("service", f.get("description") or f.get("check", ""))
    f.setdefault("ticket", f.get("key", ""))
    for key in ("contact_name", "priority", "impact", "urgency", "summary", "why", "detail", "acked_by",
                "comment", "window", "host", "check", "state", "key", "duration", "ack_url", "resolve_url"):  # fmt: skip
        f.setdefault(key, "")
    return f


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
