"""The `icinga2:` section: push every result as a passive check result to an Icinga 2 (docs/migration.md).

```yaml
icinga2:
  url: https://icinga.example.net:5665
  host: web-1.example.net            # Icinga's Host object (default: watchd's host name)
  username: watchd                   # an ApiUser with "actions/process-check-result" ...
  password_file: icinga-api.pass     # ... (or password_env), or a client certificate:
  # cert_file: watchd.crt
  # key_file: watchd.key
  ca_file: icinga-ca.crt             # Icinga's CA (default: the system's store)
  service: "{check}"                 # service name template; {check}, {host}
  services: {http_shop: shop}        # per-check names
  host_check: ping                   # this check's results are the Host's
  checks: ["*"]                      # glob patterns of checks to forward
```
Files are relative to the config file's directory; the password is read when the config is loaded
(a reload reads it again). No section, or `enabled: false`: nothing is forwarded.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

from watchd.configkit import reader as r
from watchd.configkit.secrets import read_secret
from watchd.delivery.icinga2.payload import PLACEHOLDERS
from watchd.delivery.icinga2.settings import Icinga2Settings

_BRACES = re.compile(r"\{[^}]*\}")
# Icinga object names may not contain "!" (it separates host and service in a service's full name).
_BAD_NAME = re.compile(r"[!\x00-\x1f]")


def read_icinga2(rd: r.Reader, config_dir: str, watchd_host: str) -> Icinga2Settings | None:
    if not rd.ok:
        return None
    d = Icinga2Settings(url="", host="")
    enabled = rd.get("enabled", r.boolean, True)

    def path(value: Any) -> str:
        p = os.path.join(config_dir, os.path.expanduser(r.string(value)))
        if not os.access(p, os.R_OK):
            raise ValueError(f"cannot read {p}")
        return p

    url = rd.get("url", _url)
    username = rd.get("username", r.string, None)
    password = None
    if rd.has("password_file") or rd.has("password_env"):
        key = "password_file" if rd.has("password_file") else "password_env"
        try:
            password = read_secret(rd.raw("password_file"), rd.raw("password_env"), config_dir)
        except ValueError as exc:
            rd.problem(key, str(exc))
        if username is None:
            rd.problem(key, "needs username")
    cert_file = rd.get("cert_file", path, None)
    key_file = rd.get("key_file", path, None)
    if (cert_file is None) != (key_file is None):
        given, missing = ("cert_file", "key_file") if key_file is None else ("key_file", "cert_file")
        rd.problem(given, f"needs {missing} (a client certificate and its key go together)")
    if username is not None and not (rd.has("password_file") or rd.has("password_env")):
        rd.problem("username", "needs password_file or password_env")
    if username is None and cert_file is None and url:
        rd.problem(None, "give username with password_file/password_env, or cert_file and key_file")
    host = rd.get("host", _object_name, watchd_host)
    services = rd.get("services", _services, {})
    retry = rd.child("retry")
    retry_min = retry.get("min", r.duration, d.retry_min)
    retry_max = retry.get("max", r.duration, d.retry_max)
    if retry_min > retry_max:
        retry.problem("min", f"must not exceed max ({retry_max:g}s)")
    retry.finish()
    out = Icinga2Settings(
        url=url or "",
        host=host,
        username=username,
        password=password,
        cert_file=cert_file,
        key_file=key_file,
        ca_file=rd.get("ca_file", path, None),
        insecure=rd.get("insecure", r.boolean, False),
        service=rd.get("service", _template, d.service),
        services=services,
        host_check=rd.get("host_check", r.string, None),
        checks=rd.get("checks", r.string_list, d.checks),
        check_source=rd.get("check_source", r.string, d.check_source),
        ttl=rd.get("ttl", r.duration, d.ttl),
        queue_size=rd.get("queue_size", r.positive_int, d.queue_size),
        batch=rd.get("batch", _batch, d.batch),
        timeout=rd.get("timeout", r.duration, d.timeout),
        retry_min=retry_min,
        retry_max=retry_max,
        stop_grace=rd.get("stop_grace", r.duration, d.stop_grace),
    )
    rd.finish()
    return out if enabled else None


def _url(value: Any) -> str:
    text = r.string(value).strip()
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"expected the API's https URL, e.g. https://icinga.example.net:5665, not {text!r}")
    if parts.path not in ("", "/") or parts.query:
        raise ValueError(f"give the API's base URL without a path (/v1/... is added), not {text!r}")
    return text


def _object_name(value: Any) -> str:
    text = r.string(value)
    if not text or _BAD_NAME.search(text):
        raise ValueError(f"not an Icinga object name: {text!r}")
    return text


def _template(value: Any) -> str:
    text = _object_name(value)
    for placeholder in _BRACES.findall(text):
        if placeholder not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {placeholder} (known: {', '.join(PLACEHOLDERS)})")
    return text


def _services(value: Any) -> dict[str, str]:
    return {k: _object_name(v) for k, v in r.string_map(value).items()}


def _batch(value: Any) -> int:
    n = r.positive_int(value)
    if n > 100:
        raise ValueError(f"at most 100 requests at once, not {n}")
    return n
