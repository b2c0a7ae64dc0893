"""Jira Service Management / Jira (REST API v2, Cloud or Data Center): one issue per incident,
found by a label that is the incident key.

Documented means used (developer.atlassian.com, Jira platform REST API v2):
- Auth: basic `email:api_token` (Cloud), or `Authorization: Bearer <personal access token>` (Data
  Center) when no email is given.
- Search with JQL `project = "<P>" AND labels = "<key>" ORDER BY created ASC`: Cloud's
  `GET /rest/api/2/search/jql`, Data Center's `GET /rest/api/2/search` (`search_api: legacy`);
  hits are checked for the label. Jira's index follows a create within about a second; the outbox's
  first retry waits `base_backoff` (2 s).
- `POST /rest/api/2/issue` (project, issue type, summary, description, labels, priority).
- Comments are internal for Service Management (`sd.public.comment` property `internal: true`)
  and end with the `[watchd op N]` marker; a retry reads the newest comments first.
- Resolve and reopen are workflow transitions: `GET .../transitions`, then one
  `POST .../transitions` that also adds the comment (`update.comment`), so the comment and the
  status change are one Jira operation. No transition to the configured status is a permanent
  error naming the ones there are.
- 429 with `Retry-After` (Jira Cloud's rate limiting): the outbox waits that long.
- Two-way: the changelog after the cursor (assignee set is `taken`, a change to one of
  `closed_statuses` is `closed`) and comments by others (`reply`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from watchd.core.errors import DeliveryError, ParamError
from watchd.delivery.httpcall import JsonApi
from watchd.delivery.tickets import TicketChange, TicketIntent, TwoWay
from watchd.delivery.tickets.keyed import KeyedBackend, Status, Ticket, as_int, epoch, log, oldest
from watchd.delivery.tickets.render import Options, has_marker, marked_text

PRIORITIES = {"P1": "Highest", "P2": "High", "P3": "Medium", "P4": "Low"}
LEVELS = ("P1", "P2", "P3", "P4")
_ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")
_PROJECT = re.compile(r"^[A-Z][A-Z0-9_]*$")


class JiraBackend(KeyedBackend):
    name = "jira"
    label = "Jira"

    def __init__(
        self,
        url: str,
        project: str,
        token: str,
        *,
        email: str | None = None,
        issue_type: str = "Task",
        priorities: Mapping[str, str] = PRIORITIES,
        resolved_status: str = "Resolved",
        reopen_status: str = "Open",
        closed_statuses: tuple[str, ...] = ("Resolved", "Done", "Closed", "Canceled"),
        service_desk: bool = True,
        search_api: str = "jql",
        two_way: TwoWay | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.project = project
        self.issue_type = issue_type
        self.priorities = dict(priorities)
        self.resolved_status = resolved_status
        self.reopen_status = reopen_status
        self.closed_statuses = frozenset(closed_statuses) | {resolved_status}
        self.service_desk = service_desk
        self.search_path = "/rest/api/2/search/jql" if search_api == "jql" else "/rest/api/2/search"
        self.two_way = two_way or TwoWay()
        if email is not None:
            auth = "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode("ascii")
        else:
            auth = f"Bearer {token}"
        self.api = JsonApi(self.url, "Jira", {"Authorization": auth}, timeout=timeout)
        self._me: str | None = None

    @classmethod
    def from_config(cls, params: Mapping[str, Any], *, base_dir: str | None = None) -> JiraBackend:
        o = Options(params, base_dir)
        url = o.required("url")
        if not url.startswith(("http://", "https://")):
            raise ParamError("url", f"expected an http:// or https:// URL, got {url!r}")
        project = o.required("project")
        if not _PROJECT.match(project):
            raise ParamError("project", f"expected a project key such as OPS, got {project!r}")
        email = o.text("email")
        token = o.secret("api_token", required=True)
        assert token is not None
        priorities = dict(PRIORITIES)
        for level, value in (o.mapping("priorities") or {}).items():
            if level not in LEVELS or not isinstance(value, str) or not value.strip():
                raise ParamError(f"priorities.{level}", "expected P1..P4 mapped to Jira priority names")
            priorities[level] = value
        search_api = o.text("search_api", "jql") or "jql"
        if search_api not in ("jql", "legacy"):
            raise ParamError("search_api", "expected jql (Jira Cloud) or legacy (Data Center)")
        backend = cls(
            url,
            project,
            token,
            email=email,
            issue_type=o.text("issue_type", "Task") or "Task",
            priorities=priorities,
            resolved_status=o.text("resolved_status", "Resolved") or "Resolved",
            reopen_status=o.text("reopen_status", "Open") or "Open",
            closed_statuses=o.text_list("closed_statuses") or ("Resolved", "Done", "Closed", "Canceled"),
            service_desk=o.flag("service_desk", True),
            search_api=search_api,
            two_way=o.two_way(poll=True, push=True),
            timeout=o.number("timeout", 10.0, low=0.5, high=300.0),
        )
        o.done()
        return backend

    def valid_ref(self, ref: str) -> bool:
        return bool(_ISSUE_KEY.match(ref))

    async def ready(self) -> None:
        if self._me is None:
            reply = await self.api.request("GET", "/rest/api/2/myself", what="current user")
            doc = reply.body if isinstance(reply.body, Mapping) else {}
            me = doc.get("accountId") or doc.get("name")
            if not me:
                raise DeliveryError(f"Jira /myself answered {str(reply.body)[:200]}", False)
            self._me = str(me)

    def _ticket(self, issue: Mapping[str, Any]) -> Ticket:
        status = (issue.get("fields") or {}).get("status") or {}
        done = (status.get("statusCategory") or {}).get("key") == "done" or status.get(
            "name"
        ) in self.closed_statuses
        return Ticket(str(issue["key"]), not done, None, issue)

    async def get(self, ref: str) -> Ticket | None:
        reply = await self.api.request(
            "GET",
            f"/rest/api/2/issue/{ref}",
            what=f"issue {ref}",
            params={"fields": "status,labels,priority,assignee"},
            allow=(404,),
        )
        if reply.status == 404 or not isinstance(reply.body, Mapping):
            return None
        return self._ticket(reply.body)

    async def find(self, key: str) -> Ticket | None:
        jql = f'project = "{self.project}" AND labels = "{key}" ORDER BY created ASC'
        reply = await self.api.request(
            "GET",
            self.search_path,
            what="issue search",
            params={"jql": jql, "fields": "status,labels,priority,assignee", "maxResults": "20"},
        )
        issues = reply.body.get("issues") if isinstance(reply.body, Mapping) else None
        if not isinstance(issues, list):
            raise DeliveryError(f"Jira search answered {str(reply.body)[:200]}", False)
        hits = [i for i in issues if isinstance(i, Mapping) and "key" in i]
        hit = oldest(
            hits, lambda i: key if key in ((i.get("fields") or {}).get("labels") or []) else None, key, "jira"
        )
        return self._ticket(hit) if hit is not None else None

    async def _comments(self, ref: str) -> list[Mapping[str, Any]]:
        reply = await self.api.request(
            "GET",
            f"/rest/api/2/issue/{ref}/comment",
            what=f"comments of {ref}",
            params={"orderBy": "-created", "maxResults": "100"},
        )
        items = reply.body.get("comments") if isinstance(reply.body, Mapping) else None
        return [c for c in items or [] if isinstance(c, Mapping)]

    async def applied(self, ticket: Ticket, op_id: int) -> bool:
        return has_marker([str(c.get("body") or "") for c in await self._comments(ticket.id)], op_id)

    async def create(self, intent: TicketIntent) -> str:
        fields = {
            "project": {"key": self.project},
            "issuetype": {"name": self.issue_type},
            "summary": intent.subject[:255],
            "description": marked_text(intent),
            "labels": [intent.key, "watchd"],
            "priority": {"name": self.priorities[intent.priority]},
        }
        reply = await self.api.request(
            "POST", "/rest/api/2/issue", what="create issue", json={"fields": fields}
        )
        if not isinstance(reply.body, Mapping) or "key" not in reply.body:
            raise DeliveryError(f"Jira created no issue: {str(reply.body)[:200]}", False)
        log.info("jira issue created", key=intent.key, issue=reply.body["key"], op_id=intent.op_id)
        return str(reply.body["key"])

    def _comment_doc(self, intent: TicketIntent) -> dict[str, Any]:
        doc: dict[str, Any] = {"body": marked_text(intent)}
        if self.service_desk:
            doc["properties"] = [{"key": "sd.public.comment", "value": {"internal": True}}]
        return doc

    async def comment(self, ticket: Ticket, intent: TicketIntent, status: Status | None) -> None:
        if status is None:
            await self.api.request(
                "POST",
                f"/rest/api/2/issue/{ticket.id}/comment",
                what=f"comment on {ticket.id}",
                json=self._comment_doc(intent),
            )
        else:
            await self._transition(ticket, status, {"comment": [{"add": self._comment_doc(intent)}]})

    async def set_status(self, ticket: Ticket, status: Status) -> None:
        if ticket.active == (status == "resolve"):
            await self._transition(ticket, status, None)

    async def _transition(self, ticket: Ticket, status: Status, update: dict[str, Any] | None) -> None:
        target = self.resolved_status if status == "resolve" else self.reopen_status
        reply = await self.api.request(
            "GET", f"/rest/api/2/issue/{ticket.id}/transitions", what=f"transitions of {ticket.id}"
        )
        options = reply.body.get("transitions") if isinstance(reply.body, Mapping) else None
        options = [t for t in options or [] if isinstance(t, Mapping)]
        chosen = next((t for t in options if (t.get("to") or {}).get("name") == target), None)
        if chosen is None:
            names = (
                ", ".join(f"{t.get('name')} -> {(t.get('to') or {}).get('name')}" for t in options) or "none"
            )
            raise DeliveryError(
                f"Jira issue {ticket.id} has no transition to {target!r} (available: {names})", False
            )
        doc: dict[str, Any] = {"transition": {"id": str(chosen["id"])}}
        if update:
            doc["update"] = update
        await self.api.request(
            "POST", f"/rest/api/2/issue/{ticket.id}/transitions", what=f"transition {ticket.id}", json=doc
        )

    async def set_priority(self, ticket: Ticket, priority: str) -> None:
        name = self.priorities[priority]
        if (((ticket.raw or {}).get("fields") or {}).get("priority") or {}).get("name") != name:
            await self.api.request(
                "PUT",
                f"/rest/api/2/issue/{ticket.id}",
                what=f"issue {ticket.id}",
                json={"fields": {"priority": {"name": name}}},
            )

    async def changes(self, ref: str, since: str | None) -> list[TicketChange]:
        await self.ready()
        if not self.valid_ref(ref):
            return []
        reply = await self.api.request(
            "GET",
            f"/rest/api/2/issue/{ref}",
            what=f"issue {ref}",
            params={"fields": "status,assignee,comment", "expand": "changelog"},
            allow=(404,),
        )
        if reply.status == 404 or not isinstance(reply.body, Mapping):
            return []
        last_h, _, last_c = (since or "h0|c0").partition("|")
        after_h, after_c = as_int(last_h[1:]) or 0, as_int(last_c[1:]) or 0
        found: list[tuple[float, int, TicketChange]] = []
        histories = (reply.body.get("changelog") or {}).get("histories") or []
        comments = (((reply.body.get("fields") or {}).get("comment") or {}).get("comments")) or []
        top_h = max([after_h] + [as_int(h.get("id")) or 0 for h in histories])
        top_c = max([after_c] + [as_int(c.get("id")) or 0 for c in comments])
        cursor = f"h{top_h}|c{top_c}"
        for h in histories:
            hid = as_int(h.get("id")) or 0
            author = h.get("author") or {}
            if hid <= after_h or str(author.get("accountId") or author.get("name")) == self._me:
                continue
            who, at = str(author.get("displayName") or "someone"), epoch(h.get("created"))
            for n, item in enumerate(h.get("items") or []):
                if item.get("field") == "assignee" and item.get("to"):
                    found.append(
                        (
                            at,
                            0,
                            TicketChange(
                                "taken", f"h{hid}.{n}", str(item.get("toString") or who), "", at, cursor
                            ),
                        )
                    )
                elif item.get("field") == "status" and item.get("toString") in self.closed_statuses:
                    found.append((at, 2, TicketChange("closed", f"h{hid}.{n}", who, "", at, cursor)))
        for c in comments:
            cid = as_int(c.get("id")) or 0
            author = c.get("author") or {}
            if cid <= after_c or str(author.get("accountId") or author.get("name")) == self._me:
                continue
            at = epoch(c.get("created"))
            found.append(
                (
                    at,
                    1,
                    TicketChange(
                        "reply",
                        f"c{cid}",
                        str(author.get("displayName") or "someone"),
                        str(c.get("body") or ""),
                        at,
                        cursor,
                    ),
                )
            )
        return [c for _, _, c in sorted(found, key=lambda f: (f[0], f[1]))]

    async def close(self) -> None:
        await self.api.close()
