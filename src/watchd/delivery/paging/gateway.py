"""SMS and voice pages through an HTTP gateway described in config (Twilio, MessageBird, a provider's
own HTTP API): one request per page, built from templates.

The templates (Jinja2, sandboxed, StrictUndefined, no autoescaping) see `to` (the phone number),
`text` (the short text: `short.sms_text` for kind sms, `short.voice_text` for kind voice), `event`,
`subject`, `op_id`, `idempotency_key` and every fact (key, priority, host, check, summary, ack_url,
...). Each string is rendered on its own and then encoded by the code, never by the template: form
fields are form-encoded, `json` bodies are rendered string by string inside the JSON value (a summary
with quotes cannot change the JSON's structure), every value put into the URL is percent-encoded
(a summary with `&` cannot add a parameter), header values lose line breaks. The `xml` filter
escapes for XML (Twilio's inline `Twiml`).

Answers: a status in `ok_status` (default 200-299) is delivered; 429 and 503 are retried after the
gateway's Retry-After (30 s when it gives none); other 4xx fail for good with the gateway's own
error text (Twilio `{code, message}`, MessageBird `{errors: [{code, description, parameter}]}`);
5xx, timeouts and connection errors are retried. Errors name the gateway, never its URL (many
gateways take an API key in the query string). The request carries `Idempotency-Key:
watchd-page-<op_id>` (stable across retries) unless `idempotency_header` names another header or
none, or the configured headers set it themselves.
"""

from __future__ import annotations

import base64
import functools
import json as jsonlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from watchd.core.errors import DeliveryError
from watchd.delivery.notify.messages import Message
from watchd.delivery.paging import short

KINDS = ("sms", "voice")
METHODS = ("GET", "POST", "PUT", "PATCH")
DEFAULT_RETRY_AFTER = 30.0  # a 429/503 without Retry-After still waits
MAX_BODY = 64 * 1024
# Every fact the notify channel may pass, so that a template naming one that is missing for this
# incident (no ack link configured, not acknowledged yet) renders as empty instead of failing.
FACTS = (
    "key", "host", "check", "description", "state", "summary", "priority", "impact", "urgency",
    "opened_at", "respond_by", "resolve_by", "at", "acked_by", "why", "detail", "ticket",
    "contact_name", "timezone", "ack_url", "resolve_url",
)  # fmt: skip
OWN = ("to", "text", "event", "subject", "op_id", "idempotency_key")


@dataclass(frozen=True, slots=True)
class BasicAuth:
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class BearerAuth:
    token: str


@dataclass(frozen=True, slots=True)
class HeaderAuth:
    name: str
    value: str  # the whole header value, e.g. "AccessKey live_xxx"


Auth = BasicAuth | BearerAuth | HeaderAuth


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """One configured gateway. Template strings are kept as written; secrets are already read."""

    kind: str  # sms | voice: which short text is offered as `text`
    url: str
    name: str = "gateway"
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)  # name -> template
    auth: Auth | None = None
    form: Mapping[str, str] | None = None  # field -> template (query parameters for GET)
    json: Any = None  # a JSON value whose strings are templates; None: no JSON body
    ok_status: tuple[tuple[int, int], ...] = ((200, 299),)  # inclusive ranges
    timeout: float = 15.0
    max_length: int = 160  # SMS septets offered to `text`
    idempotency_header: str | None = "Idempotency-Key"

    def ok(self, status: int) -> bool:
        return any(lo <= status <= hi for lo, hi in self.ok_status)


# -- templates -------------------------------------------------------------------------------------------


def xml_escape(value: Any) -> str:
    """Text safe inside an XML element or attribute (Twilio's inline TwiML)."""
    from xml.sax.saxutils import escape

    return escape(str(value), {'"': "&quot;", "'": "&apos;"})


@functools.cache
def _environment(url: bool) -> Any:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        # In the URL every value is percent-encoded here, so no summary can add a parameter.
        finalize=(lambda v: quote(str(v), safe="")) if url else None,
    )
    env.filters["xml"] = xml_escape
    return env


def compile_template(source: str, *, url: bool = False) -> Any:
    """The compiled template; jinja2.TemplateSyntaxError (a ValueError-like config problem) if bad."""
    return _environment(url).from_string(source)


def template_paths(settings: GatewaySettings) -> Iterable[tuple[str, str, bool]]:
    """Every template of a gateway as (key path, source, is the URL)."""
    yield "url", settings.url, True
    for name, value in settings.headers.items():
        yield f"headers.{name}", value, False
    for name, value in (settings.form or {}).items():
        yield f"form.{name}", value, False
    yield from _json_strings(settings.json, "json") if settings.json is not None else ()


def _json_strings(value: Any, path: str) -> Iterable[tuple[str, str, bool]]:
    if isinstance(value, str):
        yield path, value, False
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _json_strings(v, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _json_strings(v, f"{path}.{k}")


def sample_context() -> dict[str, Any]:
    """A context with every variable a template may use, for checking templates at config time."""
    ctx: dict[str, Any] = dict.fromkeys(FACTS, "x")
    ctx.update(to="+31600000000", text="text", event="open", subject="subject", op_id=1)
    ctx["idempotency_key"] = "watchd-page-1"
    return ctx


def check_templates(settings: GatewaySettings) -> list[tuple[str, str]]:
    """(key path, problem) for each template that does not compile or names an unknown variable."""
    import jinja2

    problems: list[tuple[str, str]] = []
    ctx = sample_context()
    for path, source, is_url in template_paths(settings):
        try:
            compile_template(source, url=is_url).render(ctx)
        except jinja2.TemplateSyntaxError as exc:
            problems.append((path, f"template syntax error (line {exc.lineno}): {exc.message}"))
        except jinja2.UndefinedError as exc:
            known = ", ".join(sorted((*OWN, *FACTS)))
            problems.append((path, f"{exc.message}; the variables are {known}"))
        except jinja2.TemplateError as exc:  # e.g. a sandbox SecurityError
            problems.append((path, f"template error: {exc}"))
        except (TypeError, ValueError, ArithmeticError) as exc:
            problems.append((path, f"template error: {type(exc).__name__}: {exc}"))
    return problems


def context(settings: GatewaySettings, phone: str, msg: Message, event: str, facts: Mapping[str, Any],
            op_id: int) -> dict[str, Any]:  # fmt: skip
    ctx: dict[str, Any] = dict.fromkeys(FACTS, "")
    ctx.update({k: ("" if v is None else v) for k, v in facts.items() if isinstance(k, str)})
    text = (
        short.voice_text(event, facts)
        if settings.kind == "voice"
        else short.sms_text(event, facts, settings.max_length)
    )
    ctx.update(
        to=phone, text=text, event=event, subject=msg.subject, op_id=op_id,
        idempotency_key=f"watchd-page-{op_id}",
    )  # fmt: skip
    return ctx


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    form: dict[str, str] | None
    json_body: Any
    has_json: bool


class Templates:
    """A gateway's templates compiled once; `request` renders one page's request."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self._url = compile_template(settings.url, url=True)
        self._headers = {k: compile_template(v) for k, v in settings.headers.items()}
        self._form = {k: compile_template(v) for k, v in (settings.form or {}).items()}
        self._json = _compile_json(settings.json)

    def request(self, ctx: Mapping[str, Any]) -> Request:
        s = self.settings
        headers = {k: _header_value(t.render(ctx)) for k, t in self._headers.items()}
        if s.idempotency_header and not any(k.lower() == s.idempotency_header.lower() for k in headers):
            headers[s.idempotency_header] = str(ctx["idempotency_key"])
        if isinstance(s.auth, BasicAuth):
            pair = f"{s.auth.username}:{s.auth.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        elif isinstance(s.auth, BearerAuth):
            headers["Authorization"] = f"Bearer {s.auth.token}"
        elif isinstance(s.auth, HeaderAuth):
            headers[s.auth.name] = s.auth.value
        form = {k: t.render(ctx) for k, t in self._form.items()} if s.form is not None else None
        has_json = s.json is not None
        body = _render_json(self._json, ctx) if has_json else None
        if has_json and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        return Request(s.method, self._url.render(ctx), headers, form, body, has_json)


def _header_value(text: str) -> str:
    return " ".join(text.split())  # a line break would be a header injection (aiohttp refuses it)


def _compile_json(value: Any) -> Any:
    if isinstance(value, str):
        return compile_template(value)
    if isinstance(value, list):
        return [_compile_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _compile_json(v) for k, v in value.items()}
    return value


def _render_json(value: Any, ctx: Mapping[str, Any]) -> Any:
    if isinstance(value, list):
        return [_render_json(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: _render_json(v, ctx) for k, v in value.items()}
    if hasattr(value, "render"):
        return value.render(ctx)
    return value


# -- answers ---------------------------------------------------------------------------------------------


def gateway_detail(body: Any, raw: bytes) -> str:
    """The gateway's own words: Twilio `{code, message, more_info}`, MessageBird `{errors: [{code,
    description, parameter}]}`, else the shared ticket-API rules."""
    from watchd.delivery import httpcall

    if isinstance(body, dict):
        if isinstance(body.get("message"), str) and "code" in body:
            return f"{body['code']}: {body['message']}"
        errors = body.get("errors")
        if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
            parts = []
            for e in errors:
                text = str(e.get("description") or e.get("message") or "")
                where = f" ({e['parameter']})" if e.get("parameter") else ""
                parts.append(f"{e.get('code', '?')}: {text}{where}")
            return "; ".join(parts)[:300]
    return httpcall.error_detail(body, raw)


def _url_secrets(url: str) -> list[str]:
    """Parts of a rendered URL that may be credentials (query values, user info, path segments)."""
    parts = urlsplit(url)
    out = [parts.username or "", parts.password or ""]
    out += [v for _, _, v in (p.partition("=") for p in parts.query.split("&"))]
    out += [seg for seg in parts.path.split("/") if len(seg) >= 12]  # account ids, keys in paths
    return sorted({s for s in out if len(s) >= 4}, key=len, reverse=True)


def redact(text: str, url: str) -> str:
    for secret in _url_secrets(url):
        text = text.replace(secret, "***")
    return re.sub(r"https?://\S+", "<gateway url>", text)


class GatewayTransport:
    """Pages one phone number through one gateway (a Transport: `await t(msg, event, facts, op_id)`)."""

    def __init__(self, settings: GatewaySettings, phone: str) -> None:
        self.settings = settings
        self.phone = phone
        self.templates = Templates(settings)
        self._session: Any = None  # aiohttp.ClientSession, made on first use

    @property
    def what(self) -> str:
        return f"{self.settings.kind} gateway {self.settings.name}"

    async def __call__(self, msg: Message, event: str, facts: dict[str, Any], op_id: int) -> None:
        import aiohttp
        import jinja2

        from watchd.delivery import httpcall

        try:
            req = self.templates.request(context(self.settings, self.phone, msg, event, facts, op_id))
        except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
            # Checked at config time against sample values; this incident's values broke it.
            raise DeliveryError(f"{self.what}: template error: {exc}", retryable=False) from None
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        kw: dict[str, Any] = {"headers": req.headers}
        if req.form is not None:
            kw["params" if req.method == "GET" else "data"] = req.form
        elif req.has_json:
            kw["data"] = jsonlib.dumps(req.json_body, ensure_ascii=False).encode()
        try:
            answer = await httpcall.call(
                self._session, req.method, req.url, what=self.what, timeout=self.settings.timeout,
                max_body=MAX_BODY, **kw,
            )  # fmt: skip
        except DeliveryError as exc:
            raise DeliveryError(redact(exc.reason, req.url), exc.retryable, exc.retry_after) from None
        except ValueError as exc:  # aiohttp refuses a malformed URL or header before sending
            raise DeliveryError(f"{self.what}: bad request: {redact(str(exc), req.url)}", False) from None
        if self.settings.ok(answer.status):
            return
        detail = redact(gateway_detail(httpcall.decode_json(answer.body), answer.body), req.url)
        err = httpcall.failure(answer, self.what, detail)
        if answer.status in (429, 503) and err.retry_after is None:
            err = DeliveryError(err.reason, True, DEFAULT_RETRY_AFTER)
        raise DeliveryError(redact(err.reason, req.url), err.retryable, err.retry_after)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
