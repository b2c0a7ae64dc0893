"""Who is told: customers and on-call people with their channels (pure data, imported by config)."""

from __future__ import annotations

from dataclasses import dataclass


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

    @property
    def media(self) -> tuple[str, ...]:
        out = []
        if self.email:
            out.append("email")
        if self.webhook_url:
            out.append("webhook")
        if self.mqtt:
            out.append("mqtt")
        return tuple(out)
