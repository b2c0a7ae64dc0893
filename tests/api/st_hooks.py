"""Schemathesis hooks for the API fuzzing (loaded by `st run` through SCHEMATHESIS_HOOKS; see
apifuzz.py): names the daemon knows, and one more check, `reads_render`.

A schema cannot say "a configured check" or "not over yet", so most generated writes would be
refused with a 400 and never reach the store. Half the time, then, a generated check, tag or
incident id is replaced by one the test daemon has (checks web and db, tags webtag and dbtag,
incident 1), and valid times and spans by ones around now: always a valid value for a valid one
(a string for a string), so a case the document allows stays allowed and one it forbids stays
forbidden, and what reaches the store is still generated.

After every write the server accepted (a non-GET answered 2xx), the reads that render what writes
store must still answer 200 with a body the document allows: the maintenance list, incidents,
checks, services (the status page's data, uncached) and the status page itself. A write that stores
something no read can render (a time past year 9999, a NaN) fails here, on the write that did it.
"""

from __future__ import annotations

import functools
import re
import time
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import requests
import schemathesis
from apihelpers import response_schema
from hypothesis import strategies as st

from watchd.core import timespec

READS = ("/api/v1/maintenance", "/api/v1/incidents", "/api/v1/checks", "/api/v1/services", "/status")


CHECKS = ("web", "db")
TAGS = ("webtag", "dbtag")


def _instant_ok(v: Any) -> bool:
    """Whether the document allows `v` as a time (not whether the server will take it)."""
    if v is None:
        return True
    if isinstance(v, str):
        return len(v) <= 100 and re.fullmatch(timespec.ISO_PATTERN, v) is not None
    return isinstance(v, int | float) and not isinstance(v, bool) and timespec.EARLIEST <= v < timespec.LATEST


def _span_ok(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return len(v) <= 100 and re.fullmatch(timespec.SPAN_PATTERN, v) is not None
    return isinstance(v, int | float) and not isinstance(v, bool) and 0 < v <= timespec.MAX_SPAN


SPANS = st.one_of(
    st.tuples(st.integers(1, 300), st.sampled_from(["s", "m", "h", "d"])).map(lambda p: f"{p[0]}{p[1]}"),
    st.floats(1, timespec.MAX_SPAN),
)


NOW = time.time()  # fixed for the run: hypothesis replays a case and must draw the same values


def _plausible(body: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    now = NOW
    known: dict[str, Any] = {}
    if isinstance(body.get("check"), str):
        known["check"] = st.sampled_from(CHECKS)
    if isinstance(body.get("target"), str):
        known["target"] = st.sampled_from(TAGS if body.get("scope") == "tag" else CHECKS)
    if "starts_at" in body and _instant_ok(body["starts_at"]):
        known["starts_at"] = st.floats(now - 3600, now + 86400)
    if _instant_ok(body.get("ends_at")) and _span_ok(body.get("duration")):
        if "ends_at" in body:  # ends in the future; then duration, if given, must be null
            known["ends_at"] = st.floats(now + 2 * 86400, now + 30 * 86400)
            if "duration" in body:
                known["duration"] = st.none()
        else:
            known["duration"] = SPANS
    return st.fixed_dictionaries(known).map(lambda names: {**body, **names})


@schemathesis.hook
def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
    """Known names and times around now in silence and downtime bodies, half the time."""
    path = getattr(getattr(context, "operation", None), "path", "")
    if not isinstance(body, dict) or path not in ("/api/v1/silences", "/api/v1/downtimes"):
        return st.just(body)
    return st.one_of(st.just(body), _plausible(body))


@schemathesis.hook
def flatmap_path_parameters(context: Any, params: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A known check name or incident id in the path, half the time."""
    if not isinstance(params, dict):
        return st.just(params)
    known = {k: st.sampled_from(CHECKS) if k == "name" else st.just(1) for k in params if k in ("name", "id")}
    if not known or (params.get("name") is not None and not isinstance(params.get("name"), str)):
        return st.just(params)
    if "id" in params and not isinstance(params["id"], int):
        return st.just(params)
    return st.one_of(st.just(params), st.fixed_dictionaries(known).map(lambda names: {**params, **names}))


@functools.cache
def document(base: str) -> dict[str, Any]:
    return requests.get(f"{base}/api/v1/openapi.json", timeout=30).json()  # type: ignore[no-any-return]


@schemathesis.check
def reads_render(ctx: Any, response: Any, case: Any) -> None:
    """After an accepted write, every read that renders stored rows answers 200 as documented."""
    if case.method.upper() == "GET" or not 200 <= response.status_code < 300:
        return
    url = urlsplit(response.request.url)
    base = f"{url.scheme}://{url.netloc}"
    for path in READS:
        r = requests.get(base + path, timeout=30)
        if r.status_code != 200:
            raise AssertionError(f"after this write, GET {path} answered {r.status_code}: {r.text[:300]}")
        if r.headers.get("Content-Type", "").startswith("application/json"):
            try:
                jsonschema.validate(r.json(), response_schema(document(base), path, "get", 200))
            except jsonschema.ValidationError as exc:
                why = f"after this write, GET {path} violates the document: {exc.message}"
                raise AssertionError(why) from None
