"""The `notify.gateways` section (HTTP SMS and voice gateways) and a contact's `apprise` URLs.

Each gateway is a request template (see watchd.delivery.paging.gateway for the variables, the
encoding rules and how answers are read). Templates are compiled and test-rendered here, so a
syntax error or an unknown variable is a config problem at its key path, not a failed page at 3 am.
Secrets come from files or the environment, never from the config itself.

    notify:
      gateways:
        twilio-sms:               # Twilio Messages resource: POST .../Accounts/{AccountSid}/Messages.json,
          kind: sms               # form-encoded To, From, Body (<= 1600 characters), HTTP basic auth
          url: https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json
          auth:                   # AccountSid : AuthToken; 401 answers {"code": 20003, ...}
            basic: {username: AC0123456789abcdef0123456789abcdef, password_file: secrets/twilio.token}
          form: {To: "{{ to }}", From: "+3197010000000", Body: "{{ text }}"}
          ok_status: 201          # Twilio answers 201 Created with the message's sid
          idempotency_header: I-Twilio-Idempotency-Token   # Twilio's own name for it (its webhooks
                                  # carry it); its REST reference promises no dedup on create
        twilio-voice:             # Twilio Call resource: POST .../Calls.json with To, From and Twiml
          kind: voice
          url: https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls.json
          auth:
            basic: {username: AC0123456789abcdef0123456789abcdef, password_file: secrets/twilio.token}
          form:
            To: "{{ to }}"
            From: "+3197010000000"
            Twiml: "<Response><Say loop='2'>{{ text | xml }}</Say></Response>"  # said twice
          ok_status: 201
        messagebird-sms:          # MessageBird SMS API: POST https://rest.messagebird.com/messages, JSON
          kind: sms
          url: https://rest.messagebird.com/messages
          auth:                   # Authorization: AccessKey <key>; 401 answers {"errors": [{"code": 2, ...}]}
            header: {name: Authorization, scheme: AccessKey, value_file: secrets/messagebird.key}
          json: {originator: watchd, recipients: ["{{ to }}"], body: "{{ text }}"}
          ok_status: 201
        messagebird-voice:        # MessageBird Voice messaging API: POST .../voicemessages
          kind: voice
          url: https://rest.messagebird.com/voicemessages
          auth:
            header: {name: Authorization, scheme: AccessKey, value_env: MESSAGEBIRD_KEY}
          json: {recipients: ["{{ to }}"], body: "{{ text }}", language: en-gb, voice: female, repeat: 2}
          ok_status: 201

Keys: kind (sms|voice, required), url (required), method (POST; GET sends `form` as query
parameters), headers (name -> template), auth (exactly one of basic: {username, password_file |
password_env}, bearer_file | bearer_env, header: {name, scheme?, value_file | value_env}), form or
json (exactly one, unless the method is GET), ok_status (a status, "200-299", or a list of them;
default 200-299), timeout (15s), max_length (SMS septets, 160; Twilio takes up to 1600),
idempotency_header (Idempotency-Key; null sends none; the value is watchd-page-<op_id>).

A contact's `apprise:` is a list of apprise URLs (https://appriseit.com/services/), or
`{urls_file: path}` / `{urls_env: VAR}` holding them one a line, since the URLs carry tokens.
Only the URL syntax is checked here: loading apprise costs about 0.4 s and 35 MB, which the daemon
pays only once an apprise contact is actually notified.
"""

from __future__ import annotations

import re
from typing import Any

from watchd.configkit import reader as r
from watchd.configkit.secrets import read_secret
from watchd.delivery.paging.gateway import (
    KINDS,
    METHODS,
    Auth,
    BasicAuth,
    BearerAuth,
    GatewaySettings,
    HeaderAuth,
    check_templates,
)

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token
_APPRISE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def read_gateways(rd: r.Reader, config_dir: str) -> dict[str, GatewaySettings]:
    """The named gateways under `notify.gateways` (`rd` is that mapping's reader)."""
    out: dict[str, GatewaySettings] = {}
    for name in rd.names():
        g = rd.child(name)
        if not g.ok:
            continue
        settings = _read_gateway(g, name, config_dir)
        if settings is not None:
            out[name] = settings
    rd.finish()
    return out


def _read_gateway(g: r.Reader, name: str, config_dir: str) -> GatewaySettings | None:
    before = len(g.problems)
    kind = g.get("kind", r.one_of(*KINDS))
    url = g.get("url", r.string)
    method = g.get("method", lambda v: r.one_of(*(m.lower() for m in METHODS))(v).upper(), "POST")
    headers = g.get("headers", _headers, {})
    auth = _read_auth(g.child("auth"), config_dir) if g.has("auth") else None
    form = g.get("form", r.string_map, None)
    body = g.get("json", _json_value, None)
    if form is not None and body is not None:
        g.problem("json", "give form or json, not both")
    elif form is None and body is None and method != "GET":
        g.problem(None, "a gateway needs a request body: form or json")
    if method == "GET" and body is not None:
        g.problem("json", "a GET request has no body; give form (sent as query parameters)")
    if g.has("idempotency_header") and g.raw("idempotency_header") is None:
        idempotency = None  # `idempotency_header: null`: the gateway gets no such header
    else:
        idempotency = g.get("idempotency_header", _header_name, "Idempotency-Key")
    settings = GatewaySettings(
        kind=kind,
        url=url,
        name=name,
        method=method,
        headers=headers,
        auth=auth,
        form=form,
        json=body,
        ok_status=g.get("ok_status", _ok_status, ((200, 299),)),
        timeout=g.get("timeout", r.duration, 15.0),
        max_length=g.get("max_length", _max_length, 160),
        idempotency_header=idempotency,
    )
    g.finish()
    if len(g.problems) > before:
        return None  # templates of a half-read gateway would only add noise
    for path, message in check_templates(settings):
        g.problem(path, message)
    return settings if len(g.problems) == before else None


def _read_auth(a: r.Reader, config_dir: str) -> Auth | None:
    given = [k for k in ("basic", "bearer_file", "bearer_env", "header") if a.has(k)]
    if len(given) != 1:
        a.problem(None, "give exactly one of basic, bearer_file, bearer_env, header")
        a.mark_read(*given)
        a.finish()
        return None
    auth: Auth | None = None
    if given[0] == "basic":
        b = a.child("basic")
        username = b.get("username", r.string)
        password = _secret(b, "password", config_dir)
        b.finish()
        auth = BasicAuth(username, password) if password is not None and username is not None else None
    elif given[0] == "header":
        h = a.child("header")
        header = h.get("name", _header_name)
        scheme = h.get("scheme", r.string, "")
        value = _secret(h, "value", config_dir)
        h.finish()
        if value is not None and header is not None:
            auth = HeaderAuth(header, f"{scheme} {value}" if scheme else value)
    else:
        a.mark_read(given[0])
        try:
            token = read_secret(a.raw("bearer_file"), a.raw("bearer_env"), config_dir)
            auth = BearerAuth(token)
        except ValueError as exc:
            a.problem(given[0], str(exc))
    a.finish()
    return auth


def _secret(rd: r.Reader, key: str, config_dir: str) -> str | None:
    """`<key>_file` or `<key>_env` from `rd`, or a problem."""
    rd.mark_read(f"{key}_file", f"{key}_env")
    if not rd.has(f"{key}_file") and not rd.has(f"{key}_env"):
        rd.problem(f"{key}_file", f"is required (or {key}_env)")
        return None
    try:
        value = read_secret(rd.raw(f"{key}_file"), rd.raw(f"{key}_env"), config_dir)
    except ValueError as exc:
        rd.problem(f"{key}_file" if rd.has(f"{key}_file") else f"{key}_env", str(exc))
        return None
    if "\n" in value or "\r" in value:
        rd.problem(f"{key}_file", "the secret must be one line")
        return None
    return value


def _headers(value: Any) -> dict[str, str]:
    headers = r.string_map(value)
    for name in headers:
        _header_name(name)
    return headers


def _header_name(value: Any) -> str:
    text = r.string(value)
    if not _HEADER_NAME.fullmatch(text):
        raise ValueError(f"not a valid HTTP header name: {r.shown(text)}")
    return text


def _json_value(value: Any) -> Any:
    """A JSON object or list as written in YAML (strings in it are templates)."""
    if not isinstance(value, dict | list):
        raise ValueError(f"expected a mapping or a list (the JSON body), not {r.kind(value)}")

    def check(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): check(x) for k, x in v.items()}
        if isinstance(v, list):
            return [check(x) for x in v]
        if v is None or isinstance(v, str | bool | int):
            return v
        if isinstance(v, float):
            return r.number(v)
        raise ValueError(f"{r.kind(v)} cannot be written as JSON")

    return check(value)


def _ok_status(value: Any) -> tuple[tuple[int, int], ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool):
            raise ValueError(f"expected an HTTP status or a range like 200-299, not {item!r}")
        m = re.fullmatch(r"\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?", str(item))
        if not m:
            raise ValueError(f"expected an HTTP status or a range like 200-299, not {r.shown(item)}")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if not 100 <= lo <= hi <= 599:
            raise ValueError(f"not a range of HTTP statuses: {r.shown(item)}")
        out.append((lo, hi))
    if not out:
        raise ValueError("expected at least one HTTP status")
    return tuple(out)


def _max_length(value: Any) -> int:
    n = r.positive_int(value)
    if not 40 <= n <= 1600:
        raise ValueError(f"expected 40 to 1600 (septets), not {n}")
    return n


# -- apprise --------------------------------------------------------------------------------------------


def read_apprise(rd: r.Reader, key: str, config_dir: str) -> tuple[str, ...]:
    """A contact's `apprise` (`rd` is the contact's reader, left for the caller to finish): a list
    of URLs, or a mapping with urls_file / urls_env (one URL a line, # comments)."""
    raw = rd.raw(key)
    if raw is None:
        return ()
    if isinstance(raw, dict):
        src = rd.child(key)
        src.mark_read("urls_file", "urls_env")
        try:
            text = read_secret(src.raw("urls_file"), src.raw("urls_env"), config_dir)
        except ValueError as exc:
            src.problem("urls_file" if src.has("urls_file") else None, str(exc))
            src.finish()
            return ()
        src.finish()
        lines = [line.strip() for line in text.splitlines()]
        urls = tuple(line for line in lines if line and not line.startswith("#"))
        where = f"{key}.urls_file" if src.has("urls_file") else f"{key}.urls_env"
    else:
        try:
            urls = r.string_list(raw)
        except ValueError as exc:
            rd.problem(key, f"{exc} (apprise URLs, or urls_file: path)")
            return ()
        where = key
    if not urls:
        rd.problem(key, "no apprise URLs given")
        return ()
    bad = False
    for i, url in enumerate(urls, 1):
        if not _APPRISE_URL.fullmatch(url):
            # Name the position and the scheme only: the URL itself carries the service's token.
            scheme = url.partition("://")[0] if "://" in url else "(none)"
            rd.problem(key, f"{where}: URL {i} is not an apprise URL (scheme {r.shown(scheme, 20)})")
            bad = True
    return () if bad else urls
