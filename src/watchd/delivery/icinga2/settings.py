"""The `icinga2:` section, validated (reader: config/icinga2.py; reference: docs/configuration.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Icinga2Settings:
    url: str  # https://icinga.example.net:5665 (the API's base; /v1/... is appended)
    host: str  # the Icinga Host object this watchd's checks belong to
    username: str | None = None  # ApiUser with a password (basic auth) ...
    password: str | None = field(default=None, repr=False)
    cert_file: str | None = None  # ... or a client certificate (ApiUser with client_cn)
    key_file: str | None = None
    ca_file: str | None = None  # verifies Icinga's certificate (None: the system's CA store)
    insecure: bool = False  # skip the host name check (the chain is still verified)
    service: str = "{check}"  # Icinga service name for a check; placeholders {check} and {host}
    services: Mapping[str, str] = field(default_factory=dict)  # per-check service names
    host_check: str | None = None  # a check whose results are the Host's own check results
    checks: tuple[str, ...] = ("*",)  # glob patterns: which checks are forwarded
    check_source: str = ""  # "" : watchd's host name
    ttl: float = 0.0  # sent with each result when > 0: Icinga expects the next one within it
    queue_size: int = 10_000
    batch: int = 20  # requests in flight at once while Icinga answers
    timeout: float = 10.0
    retry_min: float = 1.0
    retry_max: float = 60.0
    stop_grace: float = 2.0  # how long a stop or reload may spend sending what is queued
