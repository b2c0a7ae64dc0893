"""The `contacts`, `notify` and `maintenance` sections."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from watchd.configkit import reader as r
from watchd.configkit.secrets import read_secret
from watchd.core.cron import CronSpec
from watchd.core.escalation import Level
from watchd.core.maintenance import RecurringWindow, Scope
from watchd.core.paging import Digest, QuietHours
from watchd.core.priority import PRIORITIES
from watchd.delivery.notify.contacts import Contact
from watchd.delivery.notify.messages import LANGUAGES
from watchd.delivery.notify.shapes import FORMATS
from watchd.delivery.smtp import SmtpSettings

if TYPE_CHECKING:
    from watchd.delivery.paging.gateway import GatewaySettings


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    sender: str = "watchd@localhost"
    domain: str = "localhost"
    renotify_interval: float = 0.0
    ticket_wait: float = 30.0
    escalation: Mapping[str, tuple[Level, ...]] = field(default_factory=dict)
    default: tuple[str, ...] = ()  # contacts told about checks that name none
    gateways: Mapping[str, GatewaySettings] = field(default_factory=dict)  # SMS and voice gateways


@dataclass(frozen=True, slots=True)
class MaintenanceConfig:
    windows: tuple[RecurringWindow, ...] = ()
    announce_business_days: int = 3
    reminder_before: float = 0.0  # 0: no reminder
    calendar: str = "business"
    horizon: float = 30 * 86400.0  # how far ahead announcements are planned


def read_contacts(rd: r.Reader, timezone: str = "UTC", config_dir: str = ".") -> dict[str, Contact]:
    """Contacts; one without `timezone` is told times in the display zone (`timezone`)."""
    contacts: dict[str, Contact] = {}
    for name in rd.names():
        c = rd.child(name)
        webhook = c.child("webhook")
        url = webhook.get("url", r.string, None) if webhook.ok else None
        fmt = webhook.get("format", r.one_of(*FORMATS), "json") if webhook.ok else "json"
        webhook.finish()
        phone = c.get("phone", _phone, "")
        sms, voice = c.get("sms", r.string, None), c.get("voice", r.string, None)
        if (sms or voice) and not phone:
            c.problem("phone", "sms and voice need the contact's phone number (E.164, like +4930123456)")
        pagerduty = _service(c, "pagerduty", config_dir) if c.has("pagerduty") else None
        opsgenie = _service(c, "opsgenie", config_dir) if c.has("opsgenie") else None
        apprise = _apprise(c, config_dir) if c.has("apprise") else ()
        contact = Contact(
            name=str(name),
            kind=c.get("kind", r.one_of("customer", "oncall"), "oncall"),
            display_name=c.get("name", r.string, ""),
            language=c.get("language", r.one_of(*LANGUAGES), "en"),
            timezone=c.get("timezone", r.timezone, timezone),
            email=c.get("email", r.string_list, ()),
            webhook_url=url,
            webhook_format=fmt,
            mqtt=c.get("mqtt", r.boolean, False),
            phone=phone,
            sms=sms,
            voice=voice,
            pagerduty=pagerduty,
            opsgenie=opsgenie,
            apprise=apprise,
        )
        contact = replace(
            contact,
            quiet_hours=_quiet_hours(c, contact.media),
            digest=_digest(c.child("digest"), contact.media) if c.has("digest") else None,
        )
        c.finish()
        if not contact.media:
            c.problem(None, f"a contact needs at least one of {', '.join(MEDIA)}")
        contacts[str(name)] = contact
    return contacts


MEDIA = ("email", "webhook", "mqtt", "sms", "voice", "pagerduty", "opsgenie", "apprise")


def _service(c: r.Reader, name: str, config_dir: str) -> Any:
    # The clients (and aiohttp with them) load only for a config whose contacts use them.
    from watchd.config.paging import read_opsgenie, read_pagerduty

    read = read_pagerduty if name == "pagerduty" else read_opsgenie
    return read(c.child(name), config_dir)


def _apprise(c: r.Reader, config_dir: str) -> tuple[str, ...]:
    from watchd.config.gateways import read_apprise

    return read_apprise(c, "apprise", config_dir)


def _phone(value: Any) -> str:
    text = r.string(value).replace(" ", "")
    if not (text.startswith("+") and text[1:].isdigit() and 8 <= len(text) <= 16):
        raise ValueError(f"expected an E.164 phone number like +4930123456, not {value!r}")
    return text


def _quiet_hours(c: r.Reader, media: tuple[str, ...]) -> tuple[QuietHours, ...]:
    """`quiet_hours: [{days: mon-sun, start: "22:00", end: "07:00", media: [sms, voice], pierce: P1}]`"""
    raw = c.raw("quiet_hours") if c.has("quiet_hours") else []
    if not isinstance(raw, list):
        c.problem("quiet_hours", "expected a list of {start, end, media, days, pierce}")
        return ()
    out = []
    for i, item in enumerate(raw):
        q = r.Reader(item, f"{c.key_path('quiet_hours')}[{i}]", c.problems, c.file, c.line("quiet_hours"))
        if not q.ok:
            continue  # "must be a mapping" said it; its missing keys would only add noise
        span = QuietHours(
            days=q.get("days", r.weekdays, frozenset(range(7))),  # mon-fri, "sat,sun", [mon, wed-fri]
            start=q.get("start", _time),
            end=q.get("end", _time),
            media=q.get(
                "media",
                r.member_list(media, "medium of this contact"),
                tuple(m for m in media if m != "email"),
            ),
            pierce=q.get("pierce", _priority, "P1"),
        )
        q.finish()
        if isinstance(span.start, dt.time) and span.start == span.end:  # (a missing one is reported)
            q.problem("end", "start and end are the same: give a span")
        out.append(span)
    return tuple(out)


def _priority(value: Any) -> str:
    """P1..P4 as written (r.one_of lower-cases, so it can never match a priority)."""
    text = r.string(value).strip()
    if text not in PRIORITIES:
        raise ValueError(f"expected one of {', '.join(PRIORITIES)}, not {r.shown(value)}")
    return text


def _digest(d: r.Reader, media: tuple[str, ...]) -> Digest | None:
    """`digest: {at: "09:00", priorities: [P4], medium: email}`"""
    digest = Digest(
        at=d.get("at", _time),
        priorities=d.get("priorities", r.member_list(PRIORITIES, "priority"), ("P4",)),
        medium=d.get("medium", r.string, "email"),
    )
    d.finish()
    if "P1" in digest.priorities:
        d.problem("priorities", "P1 is never held for a digest: it pages at once")
    if digest.medium not in media:
        d.problem("medium", f"the contact has no {digest.medium} (it has {', '.join(media) or 'nothing'})")
    return digest


def _gateways(rd: r.Reader, config_dir: str) -> dict[str, GatewaySettings]:
    if not rd.has("gateways"):
        return {}
    from watchd.config.gateways import read_gateways  # templates: only for a config that has gateways

    return read_gateways(rd.child("gateways"), config_dir)


def read_notify(rd: r.Reader, contacts: tuple[str, ...], config_dir: str) -> NotifyConfig:
    d = NotifyConfig()
    smtp_rd = rd.child("smtp")
    password = None
    if smtp_rd.has("password_file") or smtp_rd.has("password_env"):
        try:
            password = read_secret(smtp_rd.raw("password_file"), smtp_rd.raw("password_env"), config_dir)
        except ValueError as exc:
            smtp_rd.problem("password_file", str(exc))
    smtp = SmtpSettings(
        host=smtp_rd.get("host", r.string, "localhost"),
        port=smtp_rd.get("port", r.positive_int, None),
        starttls=smtp_rd.get("starttls", r.boolean, False),
        ssl=smtp_rd.get("ssl", r.boolean, False),
        username=smtp_rd.get("username", r.string, None),
        password=password,
        ca_file=smtp_rd.get("ca_file", r.string, None),
        verify=smtp_rd.get("verify", r.boolean, True),
        timeout=smtp_rd.get("timeout", r.duration, 30.0),
    )
    sender = smtp_rd.get("from", r.string, d.sender)
    domain = smtp_rd.get("domain", r.string, sender.rpartition("@")[2] or "localhost")
    smtp_rd.finish()
    if smtp.starttls and smtp.ssl:
        smtp_rd.problem("ssl", "give starttls or ssl, not both")
    pick = r.member_list(contacts, "contact")
    escalation: dict[str, tuple[Level, ...]] = {}
    esc_rd = rd.child("escalation")
    for prio in esc_rd.names(PRIORITIES):
        levels = esc_rd.raw(prio)
        if not isinstance(levels, list):
            esc_rd.problem(prio, "expected a list of levels: [{after: 0, contacts: [...]}, ...]")
            continue
        chain = []
        for i, item in enumerate(levels):
            lv = r.Reader(item, f"{esc_rd.key_path(prio)}[{i}]", rd.problems, rd.file, esc_rd.line(prio))
            chain.append(Level(lv.get("after", _duration0, 0.0), lv.get("contacts", pick, ())))
            lv.finish()
        escalation[prio] = tuple(chain)
    out = NotifyConfig(
        smtp=smtp,
        sender=sender,
        domain=domain,
        renotify_interval=rd.get("renotify_interval", _duration0, d.renotify_interval),
        ticket_wait=rd.get("ticket_wait", _duration0, d.ticket_wait),
        escalation=escalation,
        default=rd.get("default", pick, ()),
        gateways=_gateways(rd, config_dir),
    )
    rd.finish()
    return out


def read_maintenance(rd: r.Reader, contacts: tuple[str, ...]) -> MaintenanceConfig:
    d = MaintenanceConfig()
    windows = []
    w_rd = rd.child("windows")
    for name in w_rd.names():
        w = w_rd.child(name)
        dw = RecurringWindow(str(name))
        cron = w.get("cron", r.string, None)
        if cron is not None:
            try:
                CronSpec.parse(cron)
            except ValueError as exc:
                w.problem("cron", f"invalid cron expression: {exc}")
            if w.has("days") or w.has("start"):
                w.problem("cron", "give cron or days/start, not both")
        window = RecurringWindow(
            name=str(name),
            duration=w.get("duration", r.duration, dw.duration),
            timezone=w.get("timezone", r.timezone, dw.timezone),
            days=w.get("days", r.weekdays, dw.days),
            start=w.get("start", _time, dw.start),
            cron=cron,
            scope=Scope(w.get("checks", r.string_list, ()), w.get("tags", r.string_list, ())),
            announce=w.get("announce", r.boolean, False),
            comment=w.get("comment", r.string, ""),
            contacts=w.get("contacts", r.member_list(contacts, "contact"), None),
        )
        w.finish()
        windows.append(window)
    out = MaintenanceConfig(
        windows=tuple(windows),
        announce_business_days=rd.get("announce_business_days", _nonnegative_int, d.announce_business_days),
        reminder_before=rd.get("reminder_before", _duration0, d.reminder_before),
        calendar=rd.get("calendar", r.string, d.calendar),
        horizon=rd.get("horizon", r.duration, d.horizon),
    )
    rd.finish()
    return out


def _duration0(value: Any) -> float:
    return 0.0 if value in (0, "0") else r.duration(value)


def _nonnegative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number of days, not {value!r}")
    return value


def _time(value: Any) -> dt.time:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 22:00 as 1320 (base 60), which fromisoformat would take as 13:20
        hint = (
            f" (YAML reads {value // 60:02d}:{value % 60:02d} unquoted as {value})"
            if 0 < value < 1440
            else ""
        )
        raise ValueError(f'expected a time in quotes like "08:00", not the number {value}{hint}')
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"expected a time like 00:00, not {value!r}") from None
