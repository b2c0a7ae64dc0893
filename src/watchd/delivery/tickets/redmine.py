"""Redmine (5.x, REST API with an API key): one issue per incident, found by an issue custom field.

- Auth: `X-Redmine-API-Key`. Redmine answers an unknown key, or any key while the REST API is
  switched off, as the anonymous user (empty lists, not 401), so `ready()` first asks for
  `/users/current.json` (401 for anonymous) and keeps our user id: journals by it are ours.
- `open`: `GET /issues.json?project_id=P&status_id=*&cf_<id>=<key>&sort=id` and keep only issues
  whose field really holds the key (Redmine silently drops a filter on a field it does not know and
  would list every issue); none: `POST /issues.json` with the key field (and the last-op field).
  The answer must echo the key field, else the field is not enabled for the project/tracker.
- Every comment is one `PUT /issues/N.json` with `notes`, the last-op field and the status: Redmine
  saves the journal, the field and the status in one database transaction, so a retry that finds
  its op id in the field skips the comment. Without a last-op field the `[watchd op N]` marker in
  the journals does the same (one more read).
- Redmine silently ignores a status its workflow does not allow this user (204 all the same): after
  a status change the issue is read back and a status that did not change is a permanent error.
- Two-way: `changes()` reads the journals after the cursor (a journal id): an assignment is
  `taken`, a change to a closed status (or the configured resolved status) is `closed`, other notes
  by someone else are `reply`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watchd.core.errors import DeliveryError, ParamError
from watchd.delivery.httpcall import JsonApi
from watchd.delivery.tickets import TicketChange, TicketIntent, TwoWay
from watchd.delivery.tickets.keyed import KeyedBackend, Status, Ticket, as_int, epoch, log, oldest
from watchd.delivery.tickets.render import Options, has_marker, marked_text, render_text

DEFAULT_PRIORITIES: Mapping[str, str] = {"P1": "Immediate", "P2": "Urgent", "P3": "High", "P4": "Normal"}
LEVELS = ("P1", "P2", "P3", "P4")


class RedmineBackend(KeyedBackend):
    name = "redmine"
    label = "Redmine"

    def __init__(
        self,
        url: str,
        project: str,
        api_key: str,
        *,
        key_field_id: int,
        last_op_field_id: int | None = None,
        tracker_id: int | None = None,
        priorities: Mapping[str, str] = DEFAULT_PRIORITIES,
        resolved_status: str = "Resolved",
        reopen_status: str = "New",
        two_way: TwoWay | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.project = project
        self.key_field_id = key_field_id
        self.last_op_field_id = last_op_field_id
        self.tracker_id = tracker_id
        self.priority_names = dict(priorities)
        self.resolved_status = resolved_status
        self.reopen_status = reopen_status
        self.two_way = two_way or TwoWay()
        self.api = JsonApi(self.url, "Redmine", {"X-Redmine-API-Key": api_key}, timeout=timeout)
        self._me: int | None = None
        self._status_ids: dict[str, int] = {}
        self._closed: set[int] = set()
        self._priority_ids: dict[str, int] = {}

    @classmethod
    def from_config(cls, params: Mapping[str, Any], *, base_dir: str | None = None) -> RedmineBackend:
        o = Options(params, base_dir)
        url = o.required("url")
        if not url.startswith(("http://", "https://")):
            raise ParamError("url", f"expected an http:// or https:// URL, got {url!r}")
        project = o.required("project")
        api_key = o.secret("api_key", required=True)
        assert api_key is not None
        key_field = o.integer("key_field_id", 0, low=1, high=10**9)
        if not key_field:
            raise ParamError(
                "key_field_id", "required: the id of the issue custom field for the incident key"
            )
        last_op = o.integer("last_op_field_id", 0, low=1, high=10**9) or None
        tracker = o.integer("tracker_id", 0, low=1, high=10**9) or None
        priorities = dict(DEFAULT_PRIORITIES)
        for level, value in (o.mapping("priorities") or {}).items():
            if level not in LEVELS:
                raise ParamError(f"priorities.{level}", "unknown priority: expected P1, P2, P3 or P4")
            if not isinstance(value, str) or not value.strip():
                raise ParamError(f"priorities.{level}", "expected the name of a Redmine issue priority")
            priorities[level] = value
        resolved = o.text("resolved_status", "Resolved") or "Resolved"
        reopen = o.text("reopen_status", "New") or "New"
        two_way = o.two_way(poll=True, push=False)
        timeout = o.number("timeout", 10.0, low=0.5, high=300.0)
        o.done()
        return cls(
            url,
            project,
            api_key,
            key_field_id=key_field,
            last_op_field_id=last_op,
            tracker_id=tracker,
            priorities=priorities,
            resolved_status=resolved,
            reopen_status=reopen,
            two_way=two_way,
            timeout=timeout,
        )

    # -- setup ------------------------------------------------------------------------------------

    async def ready(self) -> None:
        if self._me is not None:
            return
        me = await self.api.request("GET", "/users/current.json", what="current user", allow=(401,))
        if me.status == 401:
            raise DeliveryError(
                "Redmine answered 401 for /users/current.json: the API key is wrong, or the REST API is "
                "switched off (Administration > Settings > API)",
                retryable=False,
            )
        project = await self.api.request(
            "GET", f"/projects/{self.project}.json", what=f"project {self.project}", allow=(404, 403)
        )
        if project.status in (403, 404):
            raise DeliveryError(
                f"Redmine project {self.project!r} not found or not visible to this user ({project.status})",
                retryable=False,
            )
        statuses = await self.api.request("GET", "/issue_statuses.json", what="issue statuses")
        for s in _items(statuses.body, "issue_statuses"):
            self._status_ids[str(s.get("name"))] = int(s["id"])
            if s.get("is_closed"):
                self._closed.add(int(s["id"]))
        priorities = await self.api.request("GET", "/enumerations/issue_priorities.json", what="priorities")
        names = {str(p.get("name")): int(p["id"]) for p in _items(priorities.body, "issue_priorities")}
        missing = [n for n in (self.resolved_status, self.reopen_status) if n not in self._status_ids]
        missing += [n for n in self.priority_names.values() if n not in names]
        if missing:
            raise DeliveryError(
                f"Redmine has no status or priority named {', '.join(map(repr, missing))} "
                f"(statuses: {', '.join(self._status_ids)}; priorities: {', '.join(names)})",
                retryable=False,
            )
        self._closed.add(self._status_ids[self.resolved_status])
        self._priority_ids = {level: names[name] for level, name in self.priority_names.items()}
        user = me.body.get("user") if isinstance(me.body, dict) else None
        self._me = int(user["id"]) if isinstance(user, dict) and "id" in user else -1

    # -- reading ----------------------------------------------------------------------------------

    def _ticket(self, issue: Mapping[str, Any]) -> Ticket:
        status = as_int((issue.get("status") or {}).get("id"))
        last_op = self._field(issue, self.last_op_field_id) if self.last_op_field_id else None
        return Ticket(str(issue["id"]), status not in self._closed, last_op, issue)

    @staticmethod
    def _field(issue: Mapping[str, Any], field_id: int | None) -> str | None:
        for cf in issue.get("custom_fields") or ():
            if isinstance(cf, Mapping) and cf.get("id") == field_id:
                value = cf.get("value")
                return str(value) if value not in (None, "") else None
        return None

    async def get(self, ref: str) -> Ticket | None:
        params = {} if self.last_op_field_id else {"include": "journals"}
        reply = await self.api.request(
            "GET", f"/issues/{ref}.json", what=f"issue {ref}", params=params, allow=(404,)
        )
        if reply.status == 404:
            return None
        return self._ticket(_issue(reply.body))

    async def find(self, key: str) -> Ticket | None:
        params = {
            "project_id": self.project,
            "status_id": "*",
            f"cf_{self.key_field_id}": key,
            "sort": "id",
            "limit": "25",
        }
        reply = await self.api.request("GET", "/issues.json", what="issue search", params=params)
        hit = oldest(
            _items(reply.body, "issues"), lambda i: self._field(i, self.key_field_id), key, "redmine"
        )
        if hit is None:
            return None
        return await self.get(str(hit["id"])) if not self.last_op_field_id else self._ticket(hit)

    async def applied(self, ticket: Ticket, op_id: int) -> bool:
        if self.last_op_field_id:
            return ticket.last_op == str(op_id)
        journals = (ticket.raw or {}).get("journals") or []
        return has_marker([str(j.get("notes") or "") for j in journals], op_id)

    # -- writing ----------------------------------------------------------------------------------

    async def create(self, intent: TicketIntent) -> str:
        fields: list[dict[str, Any]] = [{"id": self.key_field_id, "value": intent.key}]
        if self.last_op_field_id:
            fields.append({"id": self.last_op_field_id, "value": str(intent.op_id)})
        issue: dict[str, Any] = {
            "project_id": self.project,
            "subject": intent.subject[:255],
            "description": render_text(intent),
            "priority_id": self._priority_ids[intent.priority],
            "custom_fields": fields,
        }
        if self.tracker_id:
            issue["tracker_id"] = self.tracker_id
        reply = await self.api.request("POST", "/issues.json", what="create issue", json={"issue": issue})
        created = _issue(reply.body)
        if self._field(created, self.key_field_id) != intent.key:
            raise DeliveryError(
                f"Redmine created issue #{created['id']} without the key field (custom field "
                f"{self.key_field_id}): enable it for project {self.project!r} and the tracker, or retries "
                "could open duplicates",
                retryable=False,
            )
        log.info("redmine issue created", key=intent.key, issue=created["id"], op_id=intent.op_id)
        return str(created["id"])

    async def comment(self, ticket: Ticket, intent: TicketIntent, status: Status | None) -> None:
        text = render_text(intent) if self.last_op_field_id else marked_text(intent)
        update: dict[str, Any] = {"notes": text}
        if self.last_op_field_id:
            update["custom_fields"] = [{"id": self.last_op_field_id, "value": str(intent.op_id)}]
        await self._put(ticket, update, status)

    async def set_status(self, ticket: Ticket, status: Status) -> None:
        if ticket.active != (status == "reopen"):
            await self._put(ticket, {}, status)

    async def set_priority(self, ticket: Ticket, priority: str) -> None:
        wanted = self._priority_ids[priority]
        if as_int(((ticket.raw or {}).get("priority") or {}).get("id")) != wanted:
            await self.api.request(
                "PUT",
                f"/issues/{ticket.id}.json",
                what=f"issue {ticket.id}",
                json={"issue": {"priority_id": wanted}},
            )

    async def _put(self, ticket: Ticket, update: dict[str, Any], status: Status | None) -> None:
        wanted = None
        if status is not None:
            wanted = self._status_ids[self.resolved_status if status == "resolve" else self.reopen_status]
            update["status_id"] = wanted
        await self.api.request(
            "PUT", f"/issues/{ticket.id}.json", what=f"issue {ticket.id}", json={"issue": update}
        )
        if wanted is None:
            return
        after = await self.api.request("GET", f"/issues/{ticket.id}.json", what=f"issue {ticket.id}")
        got = as_int((_issue(after.body).get("status") or {}).get("id"))
        if got != wanted:
            raise DeliveryError(
                f"Redmine did not change issue #{ticket.id} to status id {wanted} (it is {got}): the "
                "workflow does not allow that transition for this user's role and tracker",
                retryable=False,
            )

    # -- two-way ----------------------------------------------------------------------------------

    async def changes(self, ref: str, since: str | None) -> list[TicketChange]:
        await self.ready()
        reply = await self.api.request(
            "GET", f"/issues/{ref}.json", what=f"issue {ref}", params={"include": "journals"}, allow=(404,)
        )
        if reply.status == 404:
            return []
        issue = _issue(reply.body)
        after = as_int(since) or 0
        assignee = issue.get("assigned_to") or {}
        out: list[TicketChange] = []
        for j in sorted(issue.get("journals") or [], key=lambda j: int(j.get("id", 0))):
            jid = int(j.get("id", 0))
            user = j.get("user") or {}
            if jid <= after or as_int(user.get("id")) == self._me:
                continue
            who = str(user.get("name") or f"user #{user.get('id')}")
            at = epoch(j.get("created_on"))
            notes = str(j.get("notes") or "")
            cursor = str(jid)
            closed = False
            for d in j.get("details") or []:
                if d.get("property") != "attr":
                    continue
                if d.get("name") == "assigned_to_id" and d.get("new_value"):
                    taker = assignee.get("name") if str(assignee.get("id")) == str(d["new_value"]) else None
                    out.append(TicketChange("taken", f"j{jid}:taken", str(taker or who), "", at, cursor))
                if d.get("name") == "status_id" and as_int(d.get("new_value")) in self._closed:
                    closed = True
            if closed:
                out.append(TicketChange("closed", f"j{jid}:closed", who, notes, at, cursor))
            elif notes.strip():
                out.append(TicketChange("reply", f"j{jid}:reply", who, notes, at, cursor))
        return out

    async def close(self) -> None:
        await self.api.close()


def _issue(body: Any) -> Mapping[str, Any]:
    issue = body.get("issue") if isinstance(body, Mapping) else None
    if not isinstance(issue, Mapping) or "id" not in issue:
        raise DeliveryError(f"Redmine answered with an unexpected issue shape: {str(body)[:200]}", False)
    return issue


def _items(body: Any, name: str) -> list[Mapping[str, Any]]:
    items = body.get(name) if isinstance(body, Mapping) else None
    if not isinstance(items, list):
        raise DeliveryError(f"Redmine answered without {name!r}: {str(body)[:200]}", False)
    return [i for i in items if isinstance(i, Mapping) and "id" in i]
