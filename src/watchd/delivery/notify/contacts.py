"""Who is told: customers and on-call people with their channels (pure data, imported by config)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from watchd.core.paging import Digest, QuietHours


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    kind: str = "oncall"  # customer | oncall
    display_name: str = ""
    language: str = "en"
    timezone: str = "Europe/Berlin"
    email: tuple[str, ...] = ()
    webhook_url: str | None = None
    webhook_format: str = "json"
    mqtt: bool = False
    phone: str = ""  # E.164, for the sms and voice gateways
    sms: str | None = None  # name of a notify.gateways entry of kind sms
    voice: str | None = None  # ... of kind voice
    pagerduty: Any = None  # delivery.paging.pagerduty.PagerDutySettings
    opsgenie: Any = None  # delivery.paging.opsgenie.OpsgenieSettings
    apprise: tuple[str, ...] = ()  # apprise URLs (they hold secrets: never logged)
    quiet_hours: tuple[QuietHours, ...] = ()
    digest: Digest | None = None

    @property
    def media(self) -> tuple[str, ...]:
        present = {
            "email": bool(self.email), "webhook": bool(self.webhook_url), "mqtt": self.mqtt,
            "sms": self.sms is not None, "voice": self.voice is not None,
            "pagerduty": self.pagerduty is not None, "opsgenie": self.opsgenie is not None,
            "apprise": bool(self.apprise),
        }  # fmt: skip
        return tuple(m for m, on in present.items() if on)
