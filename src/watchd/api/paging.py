"""The pages behind the acknowledge and resolve links that pages and emails carry.

    GET  /page/{id}/{action}/{token}   what the link would do, with one button
    POST /page/{id}/{action}/{token}   do it (once): the incident is acknowledged or resolved

GET never acts: mail scanners and chat previews fetch links, and must not acknowledge an incident
nobody has seen. The form posts back to the URL it came from, so the page works behind a reverse
proxy at any prefix. The signed token is the credential (no API token needed); it acts on the
incident and action it names only, until it expires, and once.

    POST /api/v1/paging/pagerduty      PagerDuty V3 webhooks (signature checked)
    POST /api/v1/paging/opsgenie       Opsgenie webhook integration (shared token checked)

An acknowledgement or resolve made in PagerDuty or Opsgenie acts here too (control.pageback).
"""

from __future__ import annotations

import html
from string import Template

from aiohttp import web

from watchd.api.app import Api, ApiError, api_of, json_response, kick_delivery, operation
from watchd.api.schemas import STR, err, json_body, obj, path_param
from watchd.control import actions, links, pageback
from watchd.core import acklink, timefmt
from watchd.core.model import Incident
from watchd.delivery.paging import inbound as inbound_parse
from watchd.store import incidents as incident_store

routes = web.RouteTableDef()

PATH = "/page/{id}/{action}/{token}"
VERB = {"ack": "Acknowledge", "resolve": "Resolve"}
DONE = {"ack": "acknowledged", "resolve": "resolved"}

_HTML = {"content": {"text/html": {"schema": STR}}}
_PARAMS = [
    path_param("id", "integer", "incident id"),
    path_param("action", "string", "ack or resolve"),
    path_param("token", "string", "the signed token from the page"),
]
_ANSWERS = {
    "200": {"description": "the incident and a button (GET) or what was done (POST)", **_HTML},
    "403": {"description": "the link is not valid, expired or for another incident", **_HTML},
    "404": {"description": "no such incident, or links are not enabled", **_HTML},
    "409": {"description": "already used, or the incident cannot take the action any more", **_HTML},
}

_PAGE = Template(
    "<!doctype html><html lang=en><head><meta charset=utf-8>"
    '<meta name=viewport content="width=device-width,initial-scale=1"><title>$title</title>'
    "<style>body{font-family:system-ui,sans-serif;max-width:34em;margin:2em auto;padding:0 1em}"
    "button{font-size:1.3em;padding:.6em 1.4em}dt{font-weight:600}.note{color:#555}</style></head>"
    "<body><h1>$title</h1>$body</body></html>"
)


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = _PAGE.substitute(title=html.escape(title), body=body)
    return web.Response(
        text=text, status=status, content_type="text/html", headers={"Cache-Control": "no-store"}
    )


def _facts(inc: Incident, zone: str) -> str:
    rows = [
        ("Incident", inc.key),
        ("Priority", inc.priority),
        ("Check", f"{inc.check} on {inc.host}"),
        ("State", inc.state.name),
        ("Summary", inc.summary),
        ("Opened", timefmt.local(inc.opened_at, zone, "")),
    ]
    if inc.acked_by:
        rows.append(("Acknowledged by", inc.acked_by))
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{html.escape(str(v))}</dd>" for k, v in rows) + "</dl>"


def _unusable(exc: acklink.LinkError) -> web.Response:
    status = 409 if isinstance(exc, acklink.LinkUsed) else 403
    return _page("Link not usable", f"<p>{html.escape(str(exc))}.</p>", status)


def _target(request: web.Request) -> tuple[Api, int, str, str] | web.Response:
    api = api_of(request)
    action = request.match_info["action"]
    raw_id = request.match_info["id"]
    if action not in acklink.ACTIONS or not raw_id.isdigit() or not actions.valid_id(int(raw_id)):
        return _page("Not found", "<p>There is no such link.</p>", 404)
    if not api.daemon.config.oncall.public_url:
        return _page("Not found", "<p>Links in pages are not enabled here.</p>", 404)
    return api, int(raw_id), action, request.match_info["token"]


@routes.get(PATH)
@operation("What an acknowledge/resolve link would do (HTML, never acts)", "paging", _ANSWERS, _PARAMS)
async def show(request: web.Request) -> web.Response:
    target = _target(request)
    if isinstance(target, web.Response):
        return target
    api, incident_id, action, token = target
    daemon = api.daemon
    try:
        grant = links.check(links.key(daemon.config), daemon.store, incident_id, action, token, api.now())
    except acklink.LinkError as exc:
        return _unusable(exc)
    inc = incident_store.get(daemon.store.db, incident_id)
    if inc is None:
        return _page("Not found", "<p>There is no such incident.</p>", 404)
    facts = _facts(inc, daemon.config.timezone)
    if not inc.is_open or (action == "ack" and inc.acked_at is not None):
        state = "resolved" if not inc.is_open else "acknowledged"
        return _page(f"Already {state}", facts + f"<p>This incident is already {state}.</p>")
    until = timefmt.local(grant.expires, daemon.config.timezone, "")
    who = html.escape(grant.contact)
    form = (
        f"<form method=post><button type=submit>{VERB[action]} as {who}</button></form>"
        f"<p class=note>Link valid until {html.escape(until)}.</p>"
    )
    return _page(f"{VERB[action]} incident #{incident_id}?", facts + form)


@routes.post(PATH)
@operation("Acknowledge or resolve through a link from a page (HTML)", "paging", _ANSWERS, _PARAMS)
async def act(request: web.Request) -> web.Response:
    target = _target(request)
    if isinstance(target, web.Response):
        return target
    api, incident_id, action, token = target
    daemon = api.daemon
    try:
        inc = links.act(links.key(daemon.config), daemon.store, incident_id, action, token, api.now())
    except acklink.LinkError as exc:
        return _unusable(exc)
    except actions.ActionError as exc:
        status = 404 if "no incident" in str(exc) else 409
        return _page("Nothing done", f"<p>{html.escape(str(exc))}.</p>", status)
    kick_delivery(api)
    stopped = " Escalation has stopped." if action == "ack" else ""
    return _page(
        f"Incident #{incident_id} {DONE[action]}",
        _facts(inc, daemon.config.timezone) + f"<p>Done.{stopped}</p>",
    )


# -- acknowledgements flowing back from PagerDuty and Opsgenie ------------------------------------

_INBOUND = {
    "200": json_body(
        obj({"outcomes": {"type": "array", "items": obj({"key": STR, "action": STR, "result": STR})}}),
        "applied",
    ),
    "400": err("not a webhook body the service sends"),
    "401": err("missing or wrong signature / token"),
    "404": err("this receiver is not configured (oncall.inbound)"),
}


@routes.post("/api/v1/paging/{service}")
@operation(
    "Acknowledgements from PagerDuty (V3 webhook, signed) or Opsgenie (webhook integration, shared token)",
    "paging", _INBOUND, [path_param("service", "string", "pagerduty or opsgenie")],
)  # fmt: skip
async def inbound(request: web.Request) -> web.Response:
    api = api_of(request)
    service = request.match_info["service"]
    o = api.daemon.config.oncall
    raw = await request.read()
    headers = dict(request.headers)
    try:
        if service == "pagerduty" and o.pagerduty_secrets:
            acks = inbound_parse.parse_pagerduty(raw, headers, o.pagerduty_secrets, api.now())
        elif service == "opsgenie" and o.opsgenie_token:
            acks = inbound_parse.parse_opsgenie(raw, headers, o.opsgenie_token, api.now())
        else:
            raise ApiError(404, f"no receiver for {service!r} is configured (oncall.inbound.{service})")
    except inbound_parse.SignatureError as exc:
        raise ApiError(401, str(exc)) from None
    except inbound_parse.InboundError as exc:
        raise ApiError(400, str(exc)) from None
    outcomes = pageback.apply(api.daemon.store, acks, api.now())
    if any(o.result == "done" for o in outcomes):
        kick_delivery(api)
    return json_response(
        {"outcomes": [{"key": x.key, "action": x.action, "result": x.result} for x in outcomes]}
    )
