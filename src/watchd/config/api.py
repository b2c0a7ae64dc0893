"""The `api` section: HTTP listener, write token, status page, SLA accounting and services.

```yaml
api:
  listen: 127.0.0.1          # "" = no TCP listener (unix socket only)
  port: 8765
  unix_socket: /run/watchd/api.sock
  token_file: api-token      # bearer token for writes; relative to the config file
  status_page: {enabled: true, title: "Example Hosting status"}
  sla: {down_states: [CRITICAL, UNKNOWN]}   # months and days are in the top-level `timezone`
  services:
    shop: {title: Web shop, checks: [shop_http, shop_db], target: 99.9}
```
The token is read from its file or variable at every write request, so rotating it needs no reload.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from watchd.configkit import reader as r
from watchd.core.model import State

MAX_TOKEN_BYTES = 4096
DEFAULT_DOWN_STATES = frozenset({State.CRITICAL, State.UNKNOWN})
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")


class TokenError(Exception):
    """A token is configured but cannot be read; the message names where, never the value."""


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """A customer-facing service: a named group of checks with an availability target (percent)."""

    name: str
    title: str
    checks: tuple[str, ...]
    target: float = 99.9
    description: str = ""


@dataclass(frozen=True, slots=True)
class ApiConfig:
    enabled: bool = True
    listen: str = "127.0.0.1"
    port: int = 8765
    unix_socket: str | None = None
    token_file: str | None = None
    token_env: str | None = None
    status_page: bool = True
    title: str = "Service status"
    timezone: str = "UTC"  # the display zone (top-level `timezone`): SLA months, status page days
    down_states: frozenset[State] = DEFAULT_DOWN_STATES
    services: Mapping[str, ServiceConfig] = field(default_factory=dict)

    @property
    def writes_configured(self) -> bool:
        return self.token_file is not None or self.token_env is not None

    def token(self) -> str | None:
        """The write token; None when none is configured; TokenError when it cannot be read."""
        if self.token_file is not None:
            try:
                with open(self.token_file, "rb") as f:
                    raw = f.read(MAX_TOKEN_BYTES)
            except OSError as exc:
                raise TokenError(f"cannot read token file {self.token_file}: {exc.strerror}") from None
            value = raw.decode("utf-8", errors="replace").strip()
            where = f"token file {self.token_file}"
        elif self.token_env is not None:
            value = os.environ.get(self.token_env, "").strip()
            where = f"environment variable {self.token_env}"
        else:
            return None
        if not value:
            raise TokenError(f"the api token in {where} is empty or missing")
        return value


def read_api(rd: r.Reader, checks: Collection[str] | None = None, timezone: str = "UTC") -> ApiConfig:
    """Read the `api` section; with `checks`, service members must be configured checks. `timezone`
    is the display zone (the top-level key)."""
    d = ApiConfig()
    base = os.path.dirname(os.path.abspath(rd.file)) if rd.file not in ("", "?") else os.getcwd()
    token_file = rd.get("token_file", r.string, "") or None
    token_env = rd.get("token_env", r.string, "") or None
    if token_file is not None and token_env is not None:
        rd.problem("token_env", "give token_file or token_env, not both")
    if rd.has("token"):
        rd.mark_read("token")
        rd.problem("token", "inline secrets are not accepted: use token_file or token_env")
    if token_file is not None:
        token_file = os.path.normpath(os.path.join(base, os.path.expanduser(token_file)))
    unix_socket = rd.get("unix_socket", r.string, "") or None
    if unix_socket is not None:
        unix_socket = os.path.normpath(os.path.join(base, os.path.expanduser(unix_socket)))
    listen = rd.get("listen", r.string, d.listen)
    port = rd.get("port", _port, d.port)
    if not listen and unix_socket is None and rd.has("listen"):
        rd.problem("listen", "empty listen address needs a unix_socket")

    sp_rd = rd.child("status_page")
    status_page = sp_rd.get("enabled", r.boolean, d.status_page)
    title = sp_rd.get("title", r.string, d.title)
    sp_rd.finish()

    sla_rd = rd.child("sla")
    if sla_rd.has("timezone"):
        sla_rd.mark_read("timezone")
        sla_rd.problem("timezone", "moved: set the top-level `timezone` (one zone for every time shown)")
    down_states = sla_rd.get("down_states", _states, d.down_states)
    sla_rd.finish()

    services: dict[str, ServiceConfig] = {}
    svc_rd = rd.child("services")
    for name in svc_rd.names():
        one = svc_rd.child(name)
        if not _SERVICE_NAME.match(str(name)):
            svc_rd.problem(str(name), "service names are letters, digits and _ . : -")
        members: tuple[str, ...] = one.get("checks", r.string_list, ())
        if not members:
            one.problem("checks", "a service needs at least one check")
        elif checks is not None:
            for member in members:
                if member not in checks:
                    one.problem("checks", f"unknown check {member!r}")
        services[str(name)] = ServiceConfig(
            name=str(name),
            title=one.get("title", r.string, str(name)),
            checks=members,
            target=one.get("target", _percent, 99.9),
            description=one.get("description", r.string, ""),
        )
        one.finish()
    out = ApiConfig(
        enabled=rd.get("enabled", r.boolean, d.enabled),
        listen=listen,
        port=port,
        unix_socket=unix_socket,
        token_file=token_file,
        token_env=token_env,
        status_page=status_page,
        title=title,
        timezone=timezone,
        down_states=down_states,
        services=services,
    )
    rd.finish()
    return out


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ValueError(f"expected a port number 0..65535, not {value!r}")
    return value


def _percent(value: Any) -> float:
    v = r.number(value)
    if not 0 < v < 100:
        raise ValueError(f"expected a percentage between 0 and 100 (exclusive), like 99.9, not {value!r}")
    return v


def _states(value: Any) -> frozenset[State]:
    states = frozenset(State.parse(s) for s in r.string_list(value))
    if State.OK in states:
        raise ValueError("OK cannot count as down")
    return states
