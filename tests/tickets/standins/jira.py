"""Jira Cloud platform REST API v2 (developer.atlassian.com/cloud/jira/platform/rest/v2/) with Jira
Service Management's comment property: basic auth `email:api_token`; myself; create issue
(`fields.project`, `issuetype`, `summary` required; labels without spaces); get issue (`fields`,
`expand=changelog`); search with JQL (`GET /rest/api/2/search/jql`); comments (`orderBy`,
`sd.public.comment`); transitions (list, and do with an optional `update.comment`); edit issue;
errors as `{"errorMessages": [...], "errors": {...}}`; 429 with Retry-After."""

from __future__ import annotations

import base64
import itertools
import re
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from . import Comment, StandIn, StandInTicket, require

EMAIL, TOKEN = "watchd@hosting.test", "jira-token-1"
ME = "acc-watchd"
PEOPLE = {"Alice Agent": "acc-alice", "Carl Customer": "acc-carl"}
STATUSES = {"Open": "new", "In Progress": "indeterminate", "Resolved": "done", "Closed": "done"}
TRANSITIONS = [
    ("11", "Start", "In Progress"),
    ("21", "Resolve", "Resolved"),
    ("31", "Reopen", "Open"),
    ("41", "Close", "Closed"),
]
_tick = itertools.count()


def jira_time() -> str:
    t = time.time() + next(_tick) / 1000  # strictly increasing, as Jira's milliseconds in practice
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}+0000"


class Jira(StandIn):
    name = "jira"

    def __init__(self) -> None:
        super().__init__()
        self.histories: dict[int, list[dict[str, Any]]] = {}

    def authorized(self, request: web.Request) -> bool:
        return (
            request.headers.get("Authorization")
            == "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
        )

    def unauthorized(self) -> web.StreamResponse:
        return web.Response(status=401, text="Client must be authenticated to access this resource.")

    def throttled(self) -> web.StreamResponse:
        return web.json_response(
            {"errorMessages": ["Rate limit exceeded."], "errors": {}},
            status=429,
            headers={"Retry-After": self.retry_after},
        )

    def config(self, secrets_dir: Path) -> dict[str, Any]:
        (secrets_dir / "jira.token").write_text(TOKEN)
        return {
            "url": self.url,
            "project": "OPS",
            "email": EMAIL,
            "api_token_file": str(secrets_dir / "jira.token"),
            "issue_type": "[System] Incident",
        }

    def wrong_auth(self, cfg: dict[str, Any]) -> dict[str, Any]:
        return {**cfg, "email": "someone@else.test"}

    def is_closed(self, t: StandInTicket) -> bool:
        return STATUSES[t.status] == "done"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/rest/api/2/myself", self.myself),
            web.get("/rest/api/2/search/jql", self.search),
            web.post("/rest/api/2/issue", self.create),
            web.get("/rest/api/2/issue/{key}", self.get),
            web.put("/rest/api/2/issue/{key}", self.edit),
            web.get("/rest/api/2/issue/{key}/comment", self.comments),
            web.post("/rest/api/2/issue/{key}/comment", self.add_comment),
            web.get("/rest/api/2/issue/{key}/transitions", self.transitions),
            web.post("/rest/api/2/issue/{key}/transitions", self.do_transition),
        ]

    @staticmethod
    def error(status: int, messages: list[str], errors: dict[str, str] | None = None) -> web.Response:
        return web.json_response({"errorMessages": messages, "errors": errors or {}}, status=status)

    def found(self, request: web.Request) -> StandInTicket | None:
        m = re.fullmatch(r"OPS-(\d+)", request.match_info["key"])
        return self.tickets.get(int(m.group(1))) if m else None

    def missing(self) -> web.Response:
        return self.error(404, ["Issue does not exist or you do not have permission to see it."])

    def ticket(self, ref: str) -> StandInTicket:
        return self.tickets[int(ref.split("-")[1])]

    def by_key(self, key: str) -> list[StandInTicket]:
        return [t for t in self.tickets.values() if t.key == key]

    def comment_doc(self, c: Comment) -> dict[str, Any]:
        account = PEOPLE.get(c.author, ME)
        return {
            "id": str(c.id),
            "body": c.text,
            "author": {"accountId": account, "displayName": c.author},
            "created": c.fields_created if hasattr(c, "fields_created") else jira_time(),
        }

    def issue(self, t: StandInTicket, expand: bool) -> dict[str, Any]:
        fields = {
            "summary": t.subject,
            "labels": t.fields["labels"],
            "priority": {"name": t.priority},
            "status": {"name": t.status, "statusCategory": {"key": STATUSES[t.status]}},
            "assignee": {"accountId": PEOPLE[t.owner], "displayName": t.owner} if t.owner else None,
            "comment": {"comments": [self.comment_doc(c) for c in t.comments], "total": len(t.comments)},
        }
        doc: dict[str, Any] = {"id": str(10000 + t.id), "key": f"OPS-{t.id}", "fields": fields}
        if expand:
            doc["changelog"] = {"histories": self.histories.get(t.id, [])}
        return doc

    def history(self, t: StandInTicket, who: str, items: list[dict[str, Any]]) -> None:
        account = PEOPLE.get(who, ME)
        self.histories.setdefault(t.id, []).append(
            {
                "id": str(next(self.event_ids)),
                "created": jira_time(),
                "author": {"accountId": account, "displayName": who},
                "items": items,
            }
        )

    def add(self, t: StandInTicket, who: str, body: Any, where: str) -> web.Response | None:
        if not require(self, where, body, "body"):
            return self.error(400, [], {"comment": "Comment body can not be empty!"})
        if body.get("properties") not in (
            None,
            [{"key": "sd.public.comment", "value": {"internal": True}}],
            [{"key": "sd.public.comment", "value": {"internal": False}}],
        ):
            self.violation(f"{where}: properties {body.get('properties')!r}")
        c = Comment(next(self.event_ids), who, body["body"], time.time())
        c.fields_created = jira_time()  # type: ignore[attr-defined]
        t.comments.append(c)
        return None

    async def myself(self, request: web.Request) -> web.Response:
        return web.json_response({"accountId": ME, "displayName": "watchd"})

    async def search(self, request: web.Request) -> web.Response:
        jql = request.query.get("jql", "")
        m = re.fullmatch(r'project = "OPS" AND labels = "([^"]+)" ORDER BY created ASC', jql)
        if not m:
            self.violation(f"search: jql {jql!r}")
            return self.error(400, [f"Error in the JQL Query: {jql}"])
        hits = [
            self.issue(t, False)
            for t in sorted(self.tickets.values(), key=lambda t: t.id)
            if m.group(1) in t.fields["labels"]
        ]
        return web.json_response({"issues": hits, "isLast": True})

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        fields = body.get("fields") if isinstance(body, dict) else None
        if not require(self, "create", fields, "project", "issuetype", "summary"):
            return self.error(400, [], {"summary": "You must specify a summary of the issue."})
        assert isinstance(fields, dict)
        if fields["project"] != {"key": "OPS"}:
            return self.error(400, [], {"project": "valid project is required"})
        labels = fields.get("labels", [])
        if any(" " in label for label in labels):
            self.violation("create: a label with a space")
            return self.error(400, [], {"labels": "The label must not contain spaces."})
        key = next((label for label in labels if label.startswith("watchd-")), "")
        t = self.new_ticket(
            key,
            fields["summary"],
            fields.get("description", ""),
            (fields.get("priority") or {}).get("name", "Medium"),
            "Open",
            labels=labels,
        )
        t.comments = []
        self.tickets[t.id] = t
        return web.json_response(
            {"id": str(10000 + t.id), "key": f"OPS-{t.id}", "self": f"{self.url}/rest/api/2/issue/{t.id}"},
            status=201,
        )

    async def get(self, request: web.Request) -> web.Response:
        t = self.found(request)
        return (
            web.json_response(self.issue(t, "changelog" in request.query.get("expand", "")))
            if t
            else self.missing()
        )

    async def edit(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.missing()
        body = await request.json()
        prio = (
            ((body.get("fields") or {}).get("priority") or {}).get("name") if isinstance(body, dict) else None
        )
        if not prio:
            self.violation(f"edit: unexpected body {body!r}")
            return self.error(400, ["nothing to edit"])
        t.priority = prio
        return web.Response(status=204)

    async def comments(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.missing()
        order = request.query.get("orderBy", "created")
        if order not in ("created", "-created", "+created"):
            self.violation(f"comments: orderBy {order!r}")
        items = [self.comment_doc(c) for c in t.comments]
        return web.json_response(
            {"comments": items[::-1] if order == "-created" else items, "total": len(items)}
        )

    async def add_comment(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.missing()
        bad = self.add(t, "watchd", await request.json(), "comment")
        return bad or web.json_response(self.comment_doc(t.comments[-1]), status=201)

    async def transitions(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.missing()
        return web.json_response(
            {
                "transitions": [
                    {"id": i, "name": n, "to": {"name": to, "statusCategory": {"key": STATUSES[to]}}}
                    for i, n, to in TRANSITIONS
                    if to != t.status
                ]
            }
        )

    async def do_transition(self, request: web.Request) -> web.Response:
        t = self.found(request)
        if t is None:
            return self.missing()
        body = await request.json()
        tid = ((body.get("transition") or {}).get("id")) if isinstance(body, dict) else None
        match = next((to for i, _, to in TRANSITIONS if i == tid and to != t.status), None)
        if match is None:
            self.violation(f"transition: {tid!r} is not available")
            return self.error(400, ["Transition id is not valid for this issue."])
        for item in (body.get("update") or {}).get("comment") or []:
            if (bad := self.add(t, "watchd", item.get("add"), "transition comment")) is not None:
                return bad
        t.status = match
        self.history(t, "watchd", [{"field": "status", "toString": match}])
        return web.Response(status=204)

    def take(self, ref: str, who: str) -> None:
        t = self.ticket(ref)
        t.owner = who
        self.history(t, who, [{"field": "assignee", "to": PEOPLE[who], "toString": who}])

    def reply(self, ref: str, who: str, text: str) -> None:
        c = Comment(next(self.event_ids), who, text, time.time(), True, True)
        c.fields_created = jira_time()  # type: ignore[attr-defined]
        self.ticket(ref).comments.append(c)

    def close(self, ref: str, who: str) -> None:
        t = self.ticket(ref)
        t.status = "Resolved"
        self.history(t, who, [{"field": "status", "toString": "Resolved"}])
