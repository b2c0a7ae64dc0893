"""Znuny's GenericInterface ticket connector over REST (GenericTicketConnectorREST: TicketCreate
`POST /Ticket`, TicketGet `GET /Ticket/:TicketID`, TicketUpdate `PATCH /Ticket/:TicketID`,
TicketSearch on the added `POST /TicketSearch`), as documented in Znuny's GenericInterface
manual and each operation's parameters: `UserLogin`/`Password` in the body (query string for
GET), `Ticket` (Title, Queue, State, Priority, CustomerUser required on create), `Article`
(CommunicationChannel, Subject, Body, ContentType), `DynamicField` [{Name, Value}]; errors as HTTP
200 with `{"Error": {"ErrorCode", "ErrorMessage"}}`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aiohttp import web

from . import Comment, StandIn, StandInTicket

BASE = "/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST"
USER, PASSWORD = "watchd", "znuny-pass"
STATES = {
    "new": "new",
    "open": "open",
    "closed successful": "closed",
    "closed unsuccessful": "closed",
    "pending reminder": "pending reminder",
}
PRIORITIES = {"1 very low", "2 low", "3 normal", "4 high", "5 very high"}


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()) + f".{time.monotonic_ns() % 10**6}"


class Znuny(StandIn):
    name = "znuny"

    def authorized(self, request: web.Request) -> bool:
        return True  # credentials travel in the body; checked per operation (AuthFail is HTTP 200)

    def config(self, secrets_dir: Path) -> dict[str, Any]:
        (secrets_dir / "znuny.pass").write_text(PASSWORD)
        return {
            "url": self.url + BASE,
            "username": USER,
            "password_file": str(secrets_dir / "znuny.pass"),
            "queue": "Hosting",
            "customer": "noc@hosting.test",
        }

    def wrong_auth(self, cfg: dict[str, Any]) -> dict[str, Any]:
        Path(cfg["password_file"]).write_text("wrong")
        return cfg

    def is_closed(self, t: StandInTicket) -> bool:
        return STATES[t.status] == "closed"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(f"{BASE}/Ticket", self.create),
            web.get(f"{BASE}/Ticket/{{id}}", self.get),
            web.patch(f"{BASE}/Ticket/{{id}}", self.update),
            web.post(f"{BASE}/TicketSearch", self.search),
        ]

    @staticmethod
    def error(code: str, text: str) -> web.Response:
        return web.json_response({"Error": {"ErrorCode": code, "ErrorMessage": text}})

    def login_ok(self, source: Any) -> bool:
        return (
            isinstance(source, dict)
            and source.get("UserLogin") == USER
            and source.get("Password") == PASSWORD
        )

    def article(self, t: StandInTicket, art: Any, op: str) -> web.Response | None:
        if not isinstance(art, dict) or not all(art.get(k) for k in ("Subject", "Body", "ContentType")):
            self.violation(f"{op}: Article needs Subject, Body, ContentType")
            return self.error(f"{op}.MissingParameter", "Article->Subject/Body/ContentType is missing")
        if art.get("CommunicationChannel", "Internal") not in ("Internal", "Email", "Phone"):
            self.violation(f"{op}: CommunicationChannel {art.get('CommunicationChannel')!r}")
        t.comments.append(
            Comment(
                next(self.event_ids),
                "watchd",
                art["Body"],
                time.time(),
                bool(art.get("IsVisibleForCustomer")),
            )
        )
        return None

    def doc(self, t: StandInTicket, articles: bool) -> dict[str, Any]:
        d: dict[str, Any] = {
            "TicketID": str(t.id),
            "TicketNumber": str(2026000 + t.id),
            "Title": t.subject,
            "State": t.status,
            "StateType": STATES[t.status],
            "Priority": t.priority,
            "Queue": "Hosting",
            "Owner": t.owner or "root@localhost",
            "Lock": "lock" if t.owner else "unlock",
            "Changed": t.fields.get("changed", stamp()),
            "DynamicField": [{"Name": "WatchdKey", "Value": t.key}],
        }
        if articles:
            d["Article"] = [
                {
                    "ArticleID": str(c.id),
                    "Body": c.text,
                    "From": f'"{c.author}" <{c.author.split()[0].lower()}@hosting.test>',
                    "SenderType": "customer" if c.customer else "agent",
                    "CreateTime": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(c.at)),
                }
                for c in t.comments
            ]
        return d

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not self.login_ok(body):
            return self.error("TicketCreate.AuthFail", "User could not be authenticated!")
        ticket = body.get("Ticket")
        if not isinstance(ticket, dict) or not all(
            ticket.get(k) for k in ("Title", "Queue", "State", "Priority", "CustomerUser")
        ):
            self.violation("TicketCreate: Ticket needs Title, Queue, State, Priority, CustomerUser")
            return self.error("TicketCreate.MissingParameter", "Ticket->Title etc. parameter is missing!")
        if ticket["State"] not in STATES or ticket["Priority"] not in PRIORITIES:
            self.violation(f"TicketCreate: State {ticket['State']!r} / Priority {ticket['Priority']!r}")
            return self.error("TicketCreate.InvalidParameter", "Ticket->State/Priority is invalid!")
        fields = {df.get("Name"): df.get("Value") for df in body.get("DynamicField") or []}
        t = self.new_ticket(
            str(fields.get("WatchdKey") or ""), ticket["Title"], "", ticket["Priority"], ticket["State"]
        )
        if (bad := self.article(t, body.get("Article"), "TicketCreate")) is not None:
            del self.tickets[t.id]
            return bad
        return web.json_response(
            {"TicketID": str(t.id), "TicketNumber": str(2026000 + t.id), "ArticleID": "1"}
        )

    async def get(self, request: web.Request) -> web.Response:
        if not self.login_ok(dict(request.query)):
            return self.error("TicketGet.AuthFail", "User could not be authenticated!")
        ident = request.match_info["id"]
        t = self.tickets.get(int(ident)) if ident.isdigit() else None
        if t is None:
            return self.error("TicketGet.AccessDenied", "User does not have access to the ticket!")
        return web.json_response({"Ticket": [self.doc(t, request.query.get("AllArticles") == "1")]})

    async def update(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not self.login_ok(body):
            return self.error("TicketUpdate.AuthFail", "User could not be authenticated!")
        ident = request.match_info["id"]
        t = self.tickets.get(int(ident)) if ident.isdigit() else None
        if t is None:
            return self.error("TicketUpdate.AccessDenied", "User does not have access to the ticket!")
        ticket = body.get("Ticket") or {}
        if not ticket and not body.get("Article") and not body.get("DynamicField"):
            self.violation("TicketUpdate: nothing to update")
        if "State" in ticket:
            if ticket["State"] not in STATES:
                self.violation(f"TicketUpdate: State {ticket['State']!r}")
                return self.error("TicketUpdate.InvalidParameter", "Ticket->State is invalid!")
            t.status = ticket["State"]
            t.fields["changed"] = stamp()
        if "Priority" in ticket:
            t.priority = ticket["Priority"]
        if body.get("Article") and (bad := self.article(t, body["Article"], "TicketUpdate")) is not None:
            return bad
        return web.json_response({"TicketID": str(t.id), "TicketNumber": str(2026000 + t.id)})

    async def search(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not self.login_ok(body):
            return self.error("TicketSearch.AuthFail", "User could not be authenticated!")
        cond = body.get("DynamicField_WatchdKey")
        if not isinstance(cond, dict) or "Equals" not in cond:
            self.violation(f"TicketSearch: DynamicField_WatchdKey must be {{Equals: ...}}, got {cond!r}")
            return web.json_response({})
        ids = [str(t.id) for t in self.tickets.values() if t.key == cond["Equals"]]
        return web.json_response({"TicketID": ids} if ids else {})  # none: no TicketID key at all

    def take(self, ref: str, who: str) -> None:
        t = self.ticket(ref)
        t.owner, t.status = who, "open"

    def reply(self, ref: str, who: str, text: str) -> None:
        self.ticket(ref).comments.append(Comment(next(self.event_ids), who, text, time.time(), True, True))

    def close(self, ref: str, who: str) -> None:
        t = self.ticket(ref)
        t.status = "closed successful"
        t.fields["changed"] = stamp()
