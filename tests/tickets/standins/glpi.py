"""GLPI's REST API (apirest.md, GLPI 10): initSession with `Authorization: user_token ...` and
`App-Token`, `Session-Token` on every other call, getFullSession, killSession; getItems with
`searchText[field]` and `range`; getItem; addItems/updateItems with `{"input": {...}}`; sub-items
`/Ticket/:id/ITILFollowup` and `/Ticket/:id/Ticket_User`; `/User/:id`; errors as
`["ERROR_...", "message"]` (400 ERROR_BAD_ARRAY, 401 ERROR_SESSION_TOKEN_INVALID /
ERROR_GLPI_LOGIN_USER_TOKEN, 404 ERROR_ITEM_NOT_FOUND)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aiohttp import web

from . import Comment, StandIn, StandInTicket

USER_TOKEN, APP_TOKEN = "glpi-user-token", "glpi-app-token"
ME = 7
USERS = {ME: ("watchd", "", "Bot"), 8: ("alice", "Alice", "Agent"), 9: ("carl", "Carl", "Customer")}
IDS = {"Alice Agent": 8, "Carl Customer": 9}
BASE = "/apirest.php"


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()) + f".{time.monotonic_ns() % 10**6}"


class Glpi(StandIn):
    name = "glpi"

    def __init__(self) -> None:
        super().__init__()
        self.sessions: set[str] = set()

    def authorized(self, request: web.Request) -> bool:
        if request.headers.get("App-Token") != APP_TOKEN:
            return False
        if request.path == f"{BASE}/initSession":
            return True
        return request.headers.get("Session-Token") in self.sessions

    def unauthorized(self) -> web.StreamResponse:
        return web.json_response(["ERROR_SESSION_TOKEN_INVALID", "session_token seems invalid"], status=401)

    def config(self, secrets_dir: Path) -> dict[str, Any]:
        (secrets_dir / "glpi.user").write_text(USER_TOKEN)
        (secrets_dir / "glpi.app").write_text(APP_TOKEN)
        return {
            "url": self.url + BASE,
            "user_token_file": str(secrets_dir / "glpi.user"),
            "app_token_file": str(secrets_dir / "glpi.app"),
        }

    def wrong_auth(self, cfg: dict[str, Any]) -> dict[str, Any]:
        Path(cfg["user_token_file"]).write_text("wrong")
        return cfg

    def is_closed(self, t: StandInTicket) -> bool:
        return t.status >= 5

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{BASE}/initSession", self.init_session),
            web.get(f"{BASE}/killSession", self.kill_session),
            web.get(f"{BASE}/getFullSession", self.full_session),
            web.get(f"{BASE}/Ticket", self.list_tickets),
            web.post(f"{BASE}/Ticket", self.add),
            web.get(f"{BASE}/Ticket/{{id}}", self.get),
            web.put(f"{BASE}/Ticket/{{id}}", self.update),
            web.get(f"{BASE}/Ticket/{{id}}/ITILFollowup", self.followups),
            web.post(f"{BASE}/Ticket/{{id}}/ITILFollowup", self.add_followup),
            web.get(f"{BASE}/Ticket/{{id}}/Ticket_User", self.actors),
            web.get(f"{BASE}/User/{{id}}", self.user),
        ]

    @staticmethod
    def error(status: int, code: str, text: str) -> web.Response:
        return web.json_response([code, text], status=status)

    def doc(self, t: StandInTicket) -> dict[str, Any]:
        return {
            "id": t.id,
            "name": t.subject,
            "content": t.body,
            "status": t.status,
            "priority": t.priority,
            "externalid": t.key,
            "is_deleted": 0,
            "date_mod": t.fields.get("date_mod", stamp()),
            "users_id_lastupdater": t.fields.get("updater", ME),
        }

    def found(self, request: web.Request) -> StandInTicket | None:
        ident = request.match_info["id"]
        return self.tickets.get(int(ident)) if ident.isdigit() else None

    def missing(self) -> web.Response:
        return self.error(404, "ERROR_ITEM_NOT_FOUND", "Item not found")

    async def init_session(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"user_token {USER_TOKEN}":
            return self.error(401, "ERROR_GLPI_LOGIN_USER_TOKEN", "parameter user_token seems invalid")
        token = f"sess-{next(self.ids)}"
        self.sessions.add(token)
        return web.json_response({"session_token": token})

    async def kill_session(self, request: web.Request) -> web.Response:
        self.sessions.discard(request.headers.get("Session-Token", ""))
        return web.json_response(True)

    async def full_session(self, request: web.Request) -> web.Response:
        return web.json_response({"session": {"glpiID": ME, "glpiname": "watchd"}})

    async def list_tickets(self, request: web.Request) -> web.Response:
        wanted = request.query.get("searchText[externalid]")
        rng = request.query.get("range", "0-49")
        if not rng.replace("-", "").isdigit():
            self.violation(f"getItems: range {rng!r}")
            return self.error(400, "ERROR_RANGE_EXCEED_TOTAL", "range")
        hits = [self.doc(t) for t in self.tickets.values() if wanted is None or wanted in t.key]  # LIKE
        return web.json_response(
            hits, headers={"Content-Range": f"0-{len(hits)}/{len(hits)}"}
        )

    async def add(self, request: web.Request) -> web.Response:
        body = await request.json()
        doc = body.get("input") if isinstance(body, dict) else None
        if not isinstance(doc, dict) or not doc.get("name") or not doc.get("content"):
            self.violation("addItems: input with name and content required")
            return self.error(400, "ERROR_BAD_ARRAY", "input parameter must be an array of objects")
        if doc.get("priority", 3) not in range(1, 7) or doc.get("type", 1) not in (1, 2):
            self.violation("addItems: priority 1..6, type 1 (incident) or 2 (request)")
        t = self.new_ticket(
            str(doc.get("externalid") or ""), doc["name"], doc["content"], doc.get("priority", 3), 1
        )
        return web.json_response(
            {"id": t.id, "message": ""}, status=201, headers={"Location": f"{self.url}{BASE}/Ticket/{t.id}"}
        )

    async def get(self, request: web.Request) -> web.Response:
        t = self.found(request)
        return web.json_response(self.doc(t)) if t else self.missing()

    async def update(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.missing()
        body = await request.json()
        doc = body.get("input") if isinstance(body, dict) else None
        if not isinstance(doc, dict) or not doc:
            self.violation("updateItems: input required")
            return self.error(400, "ERROR_BAD_ARRAY", "input parameter must be an array of objects")
        if "status" in doc:
            if doc["status"] not in range(1, 7):
                self.violation(f"update: status {doc['status']!r}")
            t.status = doc["status"]
            t.fields.update(date_mod=stamp(), updater=ME)
        if "priority" in doc:
            t.priority = doc["priority"]
        return web.json_response([{str(t.id): True, "message": ""}])

    async def followups(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.missing()
        return web.json_response(
            [
                {
                    "id": c.id,
                    "items_id": t.id,
                    "itemtype": "Ticket",
                    "content": c.text,
                    "users_id": IDS.get(c.author, ME),
                    "is_private": int(not c.public),
                    "date_creation": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(c.at)),
                }
                for c in t.comments
            ]
        )

    async def add_followup(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.missing()
        body = await request.json()
        doc = body.get("input") if isinstance(body, dict) else None
        if (
            not isinstance(doc, dict)
            or doc.get("itemtype") != "Ticket"
            or doc.get("items_id") != t.id
            or not doc.get("content")
        ):
            self.violation(f"ITILFollowup: input needs itemtype Ticket, items_id {t.id} and content: {doc!r}")
            return self.error(400, "ERROR_BAD_ARRAY", "input parameter must be an array of objects")
        c = Comment(next(self.event_ids), "watchd", doc["content"], time.time(), not doc.get("is_private"))
        t.comments.append(c)
        return web.json_response({"id": c.id, "message": ""}, status=201)

    async def actors(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.missing()
        out = [{"id": 1, "tickets_id": t.id, "users_id": ME, "type": 1}]
        if t.owner:
            out.append({"id": 2, "tickets_id": t.id, "users_id": IDS[t.owner], "type": 2})
        return web.json_response(out)

    async def user(self, request: web.Request) -> web.Response:
        uid = int(request.match_info["id"])
        if uid not in USERS:
            return self.missing()
        login, first, real = USERS[uid]
        return web.json_response({"id": uid, "name": login, "firstname": first, "realname": real})

    def take(self, ref: str, who: str) -> None:
        t = self.ticket(ref)
        t.owner, t.status = who, 2

    def reply(self, ref: str, who: str, text: str) -> None:
        self.ticket(ref).comments.append(Comment(next(self.event_ids), who, text, time.time(), True, True))

    def close(self, ref: str, who: str) -> None:
        t = self.ticket(ref)
        t.status = 5
        t.fields.update(date_mod=stamp(), updater=IDS[who])
