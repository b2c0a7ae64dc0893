"""The paging stand-ins of `bench/detect_to_ticket.py --paging`, in a process of their own.

    python bench/paging_standins.py     # prints one JSON line: the URLs; then serves until killed

One process runs every receiving end a page can have, so that their work is not counted in the
daemon's event loop: a real SMTP server (aiosmtpd, in its own thread), the Twilio stand-in (SMS
through Messages.json, voice through Calls.json), the PagerDuty Events API v2 and Opsgenie Alert API
stand-ins, and the ntfy stand-in that apprise publishes to (tests/paging/standins/). Each records
time.monotonic() when a page arrives (CLOCK_MONOTONIC is one clock for every process on Linux) and
what identifies its incident:

    email      key:<X-Watchd-Key header>
    sms/voice  op:<outbox row id> (from I-Twilio-Idempotency-Token: watchd-page-<op_id>)
    pagerduty  key:<dedup_key>       (trigger events)
    opsgenie   key:<alias>           (Create Alert)
    apprise    title:<the ntfy message's title> (the rendered subject; push services carry no key)

GET /pages?since=i lists arrivals [channel, ident, status, at] from the i-th on; GET /violations
gives each stand-in's list of requests that broke its documented API. `Pages` is the parent's side;
`contact_config` writes the contact and gateways that point at these stand-ins.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CHANNELS = ("email", "sms", "voice", "pagerduty", "opsgenie", "apprise")
PHONE = "+31612345678"
SENDER_PHONE = "+3197010000000"
TOPIC = "watchd-bench-oncall"
RCPT = "oncall@bench.test"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"

Arrival = tuple[str, str, int, float]  # channel, ident, HTTP status (250 for mail), monotonic time


# -- the child process --------------------------------------------------------------------------


def serve() -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from aiohttp import web
    from aiosmtpd.controller import Controller

    from paging.standins.opsgenie import OpsgenieStandIn
    from paging.standins.pagerduty import PagerDutyStandIn
    from paging.standins.push import Ntfy
    from paging.standins.twilio import Twilio

    lock = threading.Lock()  # the SMTP handler runs in aiosmtpd's thread
    arrivals: list[Arrival] = []
    smtp_violations: list[str] = []

    def record(channel: str, ident: str, status: int, at: float) -> None:
        with lock:
            arrivals.append((channel, ident, status, at))

    class TimedTwilio(Twilio):
        async def create_message(self, request: web.Request) -> web.Response:
            return await self._timed("sms", super().create_message, request)

        async def create_call(self, request: web.Request) -> web.Response:
            return await self._timed("voice", super().create_call, request)

        async def _timed(self, channel: str, handler: Any, request: web.Request) -> web.Response:
            at = time.monotonic()
            resp: web.Response = await handler(request)
            token = request.headers.get(IDEMPOTENCY_HEADER, "")
            record(channel, f"op:{token.removeprefix('watchd-page-')}", resp.status, at)
            return resp

    class TimedPagerDuty(PagerDutyStandIn):
        async def enqueue(self, request: web.Request) -> web.Response:
            at = time.monotonic()
            try:
                body = json.loads(await request.read())  # read() is cached: the stand-in reads it again
            except ValueError:
                body = {}
            resp = await super().enqueue(request)
            if isinstance(body, dict) and body.get("event_action") == "trigger":
                record("pagerduty", f"key:{body.get('dedup_key')}", resp.status, at)
            return resp

    class TimedOpsgenie(OpsgenieStandIn):
        async def create(self, request: web.Request) -> web.Response:
            at = time.monotonic()
            body = await request.json()
            resp = await super().create(request)
            record("opsgenie", f"key:{body.get('alias')}", resp.status, at)
            return resp

    class TimedNtfy(Ntfy):
        async def publish_json(self, request: web.Request) -> web.Response:
            at = time.monotonic()
            try:
                doc = json.loads(await request.read())
            except ValueError:
                doc = {}
            resp = await super().publish_json(request)
            record(
                "apprise", f"title:{doc.get('title', '') if isinstance(doc, dict) else ''}", resp.status, at
            )
            return resp

        async def publish(self, request: web.Request) -> web.Response:
            at = time.monotonic()
            resp = await super().publish(request)
            record("apprise", f"title:{request.headers.get('X-Title') or request.headers.get('Title', '')}",
                   resp.status, at)  # fmt: skip
            return resp

    class Mailbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            at = time.monotonic()
            msg = email.message_from_bytes(
                envelope.original_content or envelope.content, policy=email.policy.default
            )
            if RCPT not in envelope.rcpt_tos:
                smtp_violations.append(f"mail to {envelope.rcpt_tos}, not {RCPT}")
            if not msg["Message-ID"] or not msg["X-Watchd-Key"]:
                smtp_violations.append("mail without Message-ID or X-Watchd-Key")
            record("email", f"key:{msg['X-Watchd-Key']}", 250, at)
            return "250 2.0.0 Message accepted for delivery"

    async def main() -> None:
        twilio, pagerduty, opsgenie, ntfy = TimedTwilio(), TimedPagerDuty(), TimedOpsgenie(), TimedNtfy()
        for standin in (twilio, pagerduty, opsgenie, ntfy):
            await standin.start()
        smtp = Controller(Mailbox(), hostname="127.0.0.1", port=_free_port(), ready_timeout=10)
        smtp.start()

        async def pages(request: web.Request) -> web.Response:
            since = int(request.query.get("since", "0"))
            with lock:
                return web.json_response(arrivals[since:])

        async def violations(request: web.Request) -> web.Response:
            by_name = {"smtp": smtp_violations, "twilio": twilio.violations}
            by_name.update(pagerduty=pagerduty.violations, opsgenie=opsgenie.violations, ntfy=ntfy.violations)
            return web.json_response(by_name)

        app = web.Application()
        app.router.add_get("/pages", pages)
        app.router.add_get("/violations", violations)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        hello = {
            "control": f"http://127.0.0.1:{runner.addresses[0][1]}",
            "smtp_port": smtp.port,
            "twilio": twilio.base(),
            "pagerduty": pagerduty.url,
            "opsgenie": opsgenie.url,
            "ntfy": ntfy.url,
        }
        print(json.dumps(hello), flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the parent's side --------------------------------------------------------------------------


def contact_config(hello: dict[str, Any], channels: tuple[str, ...], secrets_dir: Path) -> str:
    """YAML for `contacts` (one on-call person, `alice`, with the chosen media) and `notify` (SMTP and
    the Twilio-style gateways), every endpoint one of the stand-ins in `hello`."""
    sys.path.insert(0, str(REPO / "tests"))
    from paging.standins.opsgenie import API_KEY
    from paging.standins.pagerduty import ROUTING_KEY
    from paging.standins.twilio import ACCOUNT_SID, AUTH_TOKEN

    def secret(name: str, value: str) -> str:
        path = secrets_dir / name
        path.write_text(value + "\n")
        return str(path)

    media: dict[str, Any] = {"kind": "oncall", "name": "Alice"}
    if "email" in channels:
        media["email"] = [RCPT]
    if "sms" in channels or "voice" in channels:
        media["phone"] = PHONE
    if "sms" in channels:
        media["sms"] = "twilio-sms"
    if "voice" in channels:
        media["voice"] = "twilio-voice"
    if "pagerduty" in channels:
        media["pagerduty"] = {"routing_key_file": secret("pd.key", ROUTING_KEY), "url": hello["pagerduty"]}
    if "opsgenie" in channels:
        media["opsgenie"] = {"api_key_file": secret("og.key", API_KEY), "url": hello["opsgenie"]}
    if "apprise" in channels:
        media["apprise"] = [hello["ntfy"].replace("http://", "ntfy://") + f"/{TOPIC}"]
    auth = {"basic": {"username": ACCOUNT_SID, "password_file": secret("twilio.token", AUTH_TOKEN)}}
    common = {"auth": auth, "ok_status": 201, "idempotency_header": IDEMPOTENCY_HEADER}
    gateways = {
        "twilio-sms": {"kind": "sms", "url": f"{hello['twilio']}/Messages.json", **common,
                       "form": {"To": "{{ to }}", "From": SENDER_PHONE, "Body": "{{ text }}"}},
        "twilio-voice": {"kind": "voice", "url": f"{hello['twilio']}/Calls.json", **common,
                         "form": {"To": "{{ to }}", "From": SENDER_PHONE,
                                  "Twiml": "<Response><Say loop='2'>{{ text | xml }}</Say></Response>"}},
    }  # fmt: skip
    notify = {"smtp": {"host": "127.0.0.1", "port": hello["smtp_port"], "from": "watchd@bench.test"},
              "gateways": gateways}  # fmt: skip
    # JSON is YAML: no quoting worries for the templates' braces
    return f"contacts:\n  alice: {json.dumps(media)}\nnotify: {json.dumps(notify)}\n"


class Pages:
    """Polls the stand-ins' /pages (one keep-alive session)."""

    def __init__(self, control: str) -> None:
        self.control = control
        self.items: list[Arrival] = []
        self._session: Any = None

    async def _get(self, path: str, **params: str) -> Any:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.get(f"{self.control}{path}", params=params) as resp:
            return await resp.json()

    async def poll(self) -> list[Arrival]:
        """The arrivals since the last poll (also appended to `items`)."""
        raw = await self._get("/pages", since=str(len(self.items)))
        new: list[Arrival] = [(str(c), str(i), int(s), float(at)) for c, i, s, at in raw]
        self.items += new
        return new

    async def violations(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = await self._get("/violations")
        return out

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


if __name__ == "__main__":
    serve()
