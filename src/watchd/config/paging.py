"""A contact's `pagerduty:` and `opsgenie:` blocks, read into the paging transports' settings.

    pagerduty:
      routing_key_file: secrets/pd.key   # or routing_key_env; the Events API v2 integration key
      url: https://events.pagerduty.com/v2/enqueue   # optional
      source: web01.example.com          # optional payload.source; default: the incident's host
      timeout: 10s
    opsgenie:
      api_key_file: secrets/og.key       # or api_key_env; an API integration's key
      region: eu                         # us (default) or eu; or url: https://...
      responders: [{type: team, name: ops}, {type: user, username: ann@example.com}]
      tags: [shop]
      timeout: 10s

Secrets are read now (a missing file is a config error at load, not a failed page at 3 a.m.).
"""

from __future__ import annotations

from typing import Any

from watchd.configkit import reader as r
from watchd.configkit.secrets import read_secret
from watchd.delivery.paging.opsgenie import EU_URL, MAX_TAG, MAX_TAGS, US_URL, OpsgenieSettings
from watchd.delivery.paging.pagerduty import EVENTS_URL, PagerDutySettings

ROUTING_KEY_LENGTH = 32  # "the 32 character Integration Key" (Events API v2, Send an Alert Event)
RESPONDER_TYPES = ("team", "user", "escalation", "schedule")
REGIONS = {"us": US_URL, "eu": EU_URL}


def _url(value: Any) -> str:
    text = r.string(value).strip()
    if not text.startswith(("https://", "http://")) or len(text) < 10:
        raise ValueError(f"expected an http(s) URL, not {r.shown(value)}")
    return text


def _secret(rd: r.Reader, name: str, config_dir: str) -> str | None:
    """`<name>_file` or `<name>_env`, required; an inline `<name>` is refused."""
    if rd.has(name):
        rd.raw(name)
        rd.problem(name, f"inline secrets are not accepted: use {name}_file or {name}_env")
        return None
    file, env = rd.raw(f"{name}_file"), rd.raw(f"{name}_env")
    if file is None and env is None:
        rd.problem(None, f"{name}_file or {name}_env is required")
        return None
    try:
        return read_secret(file, env, config_dir).strip()
    except ValueError as exc:
        rd.problem(f"{name}_file" if file is not None else f"{name}_env", str(exc))
        return None


def read_pagerduty(rd: r.Reader, config_dir: str) -> PagerDutySettings | None:
    """The block's settings; None when it is absent or unusable (problems recorded)."""
    if not rd.ok:
        return None
    key = _secret(rd, "routing_key", config_dir)
    url = rd.get("url", _url, EVENTS_URL)
    timeout = rd.get("timeout", r.duration, 10.0)
    source = rd.get("source", r.string, "")
    rd.finish()
    if key is None:
        return None
    if len(key) != ROUTING_KEY_LENGTH:
        rd.problem(
            "routing_key_file" if rd.has("routing_key_file") else "routing_key_env",
            f"a PagerDuty integration key has {ROUTING_KEY_LENGTH} characters, this one {len(key)}",
        )
        return None
    return PagerDutySettings(routing_key=key, url=url, timeout=timeout, source=source)


def _responders(rd: r.Reader) -> tuple[dict[str, str], ...]:
    items = rd.raw("responders")
    if items is None:
        return ()
    if not isinstance(items, list):
        rd.problem("responders", f"expected a list of {{type, name|id|username}}, not {r.kind(items)}")
        return ()
    out = []
    for i, item in enumerate(items):
        one = r.Reader(item, f"{rd.key_path('responders')}[{i}]", rd.problems, rd.file, rd.line("responders"))
        kind = one.get("type", r.one_of(*RESPONDER_TYPES))
        # users are named by id or username, teams/escalations/schedules by id or name (Alert API)
        allowed = ("id", "username") if kind == "user" else ("id", "name")
        given = {k: one.get(k, r.string) for k in ("id", "name", "username") if one.has(k)}
        one.finish()
        if not one.ok or not isinstance(kind, str):
            continue
        if len(given) != 1 or next(iter(given)) not in allowed:
            one.problem(None, f"a {kind} responder needs exactly one of {' or '.join(allowed)}")
            continue
        out.append({"type": kind, **{k: str(v) for k, v in given.items()}})
    if len(out) > 50:
        rd.problem("responders", "Opsgenie accepts at most 50 responders")
    return tuple(out)


def _tags(value: Any) -> tuple[str, ...]:
    tags = r.string_list(value)
    if len(tags) > MAX_TAGS - 3:  # room for the watchd, priority and state tags every alert gets
        raise ValueError(f"at most {MAX_TAGS - 3} tags (Opsgenie allows {MAX_TAGS} in all)")
    for tag in tags:
        if not tag or len(tag) > MAX_TAG:
            raise ValueError(f"a tag has 1 to {MAX_TAG} characters: {r.shown(tag)}")
    return tags


def read_opsgenie(rd: r.Reader, config_dir: str) -> OpsgenieSettings | None:
    """The block's settings; None when it is absent or unusable (problems recorded)."""
    if not rd.ok:
        return None
    key = _secret(rd, "api_key", config_dir)
    region = rd.get("region", r.one_of(*REGIONS), None)
    url = rd.get("url", _url, None)
    if region is not None and url is not None:
        rd.problem("url", "give region or url, not both")
    responders = _responders(rd)
    tags = rd.get("tags", _tags, ())
    timeout = rd.get("timeout", r.duration, 10.0)
    rd.finish()
    if key is None:
        return None
    return OpsgenieSettings(
        api_key=key,
        url=url or REGIONS[region or "us"],
        responders=responders,
        tags=tags,
        timeout=timeout,
    )
