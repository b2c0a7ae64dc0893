"""Login for the console's web UI (aiohttp): who is asking, and may they.

    auth = Auth(config.auth, now=clock.time, db=sqlite3.connect(...), public_url=config.public_url)
    app = web.Application(middlewares=[auth_middleware(auth)])
    app.add_routes(login_routes(auth))
    ...
    require_role(request, "operator")          # in a handler that acts

A user comes in by password (`POST /login`, argon2 hashes from the config) and then holds a
server-side session (cookie HttpOnly, SameSite=Lax, Secure behind https) with an idle timeout and
an absolute lifetime; or, when configured, by a reverse proxy's header, believed only from
`trusted_proxies` and read afresh at every request. The middleware sets `request[USER]` (a User,
or None on public paths; also `current_user(request)`) and `request[CSRF]` (`csrf_token(request)`:
the token every form and script must send back on POST/PUT/PATCH/DELETE, as form field `csrf` or
header `X-CSRF-Token`), sends browsers without a login to `/login?next=...` and answers `/api/`
with 401 JSON. GET never changes state. The decisions are in watchd.console.authpolicy (pure),
accounts and their config in watchd.console.accounts, the session table in watchd.console.sessions.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import html
import json
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from watchd.console.accounts import (
    NAME,
    Accounts,
    AuthConfig,
    Verified,
    hash_password,
    passwd_main,
    read_auth,
)
from watchd.console.authpolicy import (
    RateLimiter,
    Role,
    User,
    Verdict,
    client_address,
    path_is_public,
    peer_trusted,
    safe_next,
    same_origin,
    session_verdict,
    token_matches,
)
from watchd.console.sessions import Session, SessionStore

__all__ = ["CSRF", "SESSION", "USER", "Auth", "AuthConfig", "Role", "User", "auth_middleware", "csrf_token",
           "current_user", "hash_password", "login_routes", "passwd_main", "read_auth", "require_role",
           "requires"]  # fmt: skip

log = structlog.get_logger("watchd.console.auth")

LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
MAX_PASSWORD = 1024  # longer is no password of ours; refused before argon2 spends time on it
VERIFY_SLOTS = 2  # argon2 verifications at once: each takes ~64 MiB and a core for ~0.1 s

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Typed request keys (aiohttp 3.14 warns about plain string keys).
USER: web.RequestKey[User | None] = web.RequestKey("user")
SESSION: web.RequestKey[Session | None] = web.RequestKey("session")
CSRF: web.RequestKey[str | None] = web.RequestKey("csrf")


# Behind auth_middleware every request has all three; elsewhere reading them is a wiring error.


def current_user(request: web.Request) -> User | None:
    return request[USER]


def csrf_token(request: web.Request) -> str | None:
    """The token a page puts into its forms (field `csrf`) or scripts send as X-CSRF-Token."""
    return request[CSRF]


@dataclass(frozen=True, slots=True)
class Identity:
    user: User | None
    session: Session | None  # None for a proxy user: the proxy's header is their login, every time
    csrf: str | None = None  # what an unsafe request of this user must carry


class Auth:
    """Accounts, sessions and the login limiter for one console. `now` gives epoch seconds; `db`
    keeps sessions across restarts; `public_url` (or `secure`) decides the cookies' Secure flag."""

    def __init__(
        self,
        config: AuthConfig,
        now: Callable[[], float] = time.time,
        db: sqlite3.Connection | None = None,
        public_url: str | None = None,
        secure: bool | None = None,
    ) -> None:
        self.now = now
        self.sessions = SessionStore(db)
        url = urlsplit(public_url) if public_url else None
        self.secure = secure if secure is not None else bool(url and url.scheme == "https")
        self.public_host = url.netloc if url else None
        # __Host-: a browser takes such a cookie only Secure, Path=/ and from this very host, so a
        # sibling subdomain cannot plant one (that would defeat the login form's double submit).
        prefix = "__Host-" if self.secure else ""
        self.cookie_name = f"{prefix}watchd_session"
        self.login_cookie = f"{prefix}watchd_login"
        self._slots = asyncio.Semaphore(VERIFY_SLOTS)
        self._rehash_noted: set[str] = set()
        self._unknown_noted: set[str] = set()
        # Proxy users have no session (a client that keeps no cookies would make one per request):
        # their CSRF token is a MAC of their name under this key, new with every start.
        self._proxy_key = secrets.token_bytes(32)
        self.config = config
        self.accounts = Accounts(config.accounts)
        self.limiter = RateLimiter(now, config.login_failures, config.login_window)

    def reconfigure(self, config: AuthConfig) -> None:
        """A reload: accounts, roles and timeouts apply to the next request, sessions stay."""
        accounts = Accounts(config.accounts)
        self.config, self.accounts = config, accounts
        self.limiter.failures, self.limiter.window = config.login_failures, config.login_window

    def is_public(self, path: str) -> bool:
        return path_is_public(path, (*self.config.public_paths, LOGIN_PATH), self.config.protected_prefix)

    # -- who is asking -------------------------------------------------------------------------

    def identify(self, request: web.Request) -> Identity:
        proxy_user = self._proxy_user(request)
        if proxy_user is not None:  # the proxy's word wins over any session cookie
            mac = hmac.new(self._proxy_key, proxy_user.name.encode(), hashlib.sha256).digest()
            return Identity(proxy_user, None, base64.urlsafe_b64encode(mac).decode().rstrip("="))
        session = self._session(request.cookies.get(self.cookie_name), self.now())
        if session is None:
            return Identity(None, None)
        account = self.accounts.get(session.user)
        if account is None:  # removed from the config since the login
            return Identity(None, None)
        return Identity(account.user(), session, session.csrf)

    def _session(self, session_id: str | None, now: float) -> Session | None:
        if not session_id:
            return None
        s = self.sessions.get(session_id)
        if s is None:
            return None
        cfg = self.config
        verdict = session_verdict(s.created, s.last_seen, now, cfg.idle_timeout, cfg.max_lifetime)
        if verdict is not Verdict.VALID:
            log.info("console session ended", user=s.user, why=verdict.value)
            self.sessions.delete(s)
            return None
        self.sessions.touch(s, now)
        return s

    def _proxy_user(self, request: web.Request) -> User | None:
        cfg = self.config
        if cfg.proxy_header is None:
            return None
        name = request.headers.get(cfg.proxy_header, "").strip()
        if not name:
            return None
        if not peer_trusted(request.remote, cfg.trusted_proxies):
            log.debug("proxy header from an untrusted peer ignored", peer=request.remote)
            return None
        account = self.accounts.get(name)
        if account is not None:
            return account.user()
        if cfg.proxy_auto_viewer and NAME.match(name):
            return User(name, Role.VIEWER, name)
        if name not in self._unknown_noted and len(self._unknown_noted) < 1000:  # once, not per request
            self._unknown_noted.add(name)
            log.warning("proxy user without a console account", user=name[:64])
        return None

    def client(self, request: web.Request) -> str:
        return client_address(request.remote, request.headers.get("X-Forwarded-For"),
                              self.config.trusted_proxies)  # fmt: skip

    # -- passwords and sessions ----------------------------------------------------------------

    async def verify(self, name: str, password: str) -> Verified:
        """Check a password off the event loop (argon2 is slow on purpose), a few at a time."""
        async with self._slots:
            result = await asyncio.get_running_loop().run_in_executor(
                None, self.accounts.verify, name, password
            )
        if result.user is not None and result.needs_rehash and name not in self._rehash_noted:
            self._rehash_noted.add(name)
            log.info("console password hash uses old parameters; run `watchd console passwd`", user=name)
        return result

    def start_session(self, user: str, response: web.StreamResponse) -> Session:
        now = self.now()
        self.sessions.purge(now, self.config.idle_timeout, self.config.max_lifetime)
        session_id, session = self.sessions.create(user, now)
        self.set_session_cookie(response, session_id)
        return session

    def set_session_cookie(self, response: web.StreamResponse, session_id: str) -> None:
        response.set_cookie(self.cookie_name, session_id, max_age=int(self.config.max_lifetime), path="/",
                            httponly=True, samesite="Lax", secure=self.secure)  # fmt: skip

    def end_session(self, session: Session | None, response: web.StreamResponse) -> None:
        if session is not None:
            self.sessions.delete(session)
        response.del_cookie(self.cookie_name, path="/", secure=self.secure, httponly=True, samesite="Lax")

    def from_our_pages(self, request: web.Request) -> bool:
        hosts = [request.host, self.public_host or ""]
        return same_origin(request.headers.get("Origin"), request.headers.get("Referer"), hosts)


# -- middleware -------------------------------------------------------------------------------------


def auth_middleware(auth: Auth) -> Middleware:
    """Identify every request, keep unauthenticated users out of protected paths, and refuse a
    logged-in user's state-changing requests without their CSRF token or from another site."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        ident = auth.identify(request)
        request[USER] = ident.user
        request[SESSION] = ident.session
        request[CSRF] = ident.csrf
        path = request.path
        public = auth.is_public(path)
        if not public and ident.user is None:
            if _is_api(path):
                return web.json_response({"error": "login required"}, status=401)
            target = request.rel_url.raw_path_qs if request.method in SAFE_METHODS else "/"
            raise web.HTTPSeeOther(f"{LOGIN_PATH}?{urlencode({'next': target})}")
        if request.method not in SAFE_METHODS and ident.user is not None and path != LOGIN_PATH:
            problem = await _csrf_problem(auth, request, ident.csrf)
            if problem is not None:
                if public:  # a public page acts for nobody: withdraw the login's authority
                    request[USER] = None
                else:
                    log.warning("console request refused", why=problem, path=path, user=ident.user.name,
                                peer=request.remote)  # fmt: skip
                    return _refuse(path, 403, problem)
        return await handler(request)

    return middleware


async def _csrf_problem(auth: Auth, request: web.Request, expected: str | None) -> str | None:
    if not auth.from_our_pages(request):
        return "cross-site request (Origin or Referer is another site)"
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            value = (await request.post()).get(CSRF_FIELD)
        except ValueError:  # a malformed body
            value = None
        given = value if isinstance(value, str) else None
    if not token_matches(expected, given):
        return f"missing or wrong CSRF token (form field {CSRF_FIELD!r} or header {CSRF_HEADER})"
    return None


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _refuse(path: str, status: int, message: str) -> web.Response:
    if _is_api(path):
        return web.json_response({"error": message}, status=status)
    return web.Response(status=status, text=message)


def require_role(request: web.Request, role: Role | str) -> User:
    """The user, when they have at least `role`; else HTTPForbidden (viewers see, operators act)."""
    user = current_user(request)
    if user is None or not user.has(role):
        who = f"{user.name} is a {user.role.value}" if user is not None else "not logged in"
        message = f"this needs the {Role(role).value} role ({who})"
        if _is_api(request.path):
            raise web.HTTPForbidden(text=json.dumps({"error": message}), content_type="application/json")
        raise web.HTTPForbidden(text=message)
    return user


def requires(role: Role | str) -> Callable[[Handler], Handler]:
    """Decorator form of require_role."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            require_role(request, role)
            return await handler(request)

        return guarded

    return wrap


# -- login and logout --------------------------------------------------------------------------------


def login_routes(auth: Auth) -> list[web.RouteDef]:
    async def login_form(request: web.Request) -> web.StreamResponse:
        # Shown to a logged-in user too: logging in again switches the account (with a new session).
        return _login_page(auth, request, safe_next(request.query.get("next")))

    async def login(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        name, password, token, raw_next = (form.get(k) for k in ("name", "password", CSRF_FIELD, "next"))
        target = safe_next(raw_next if isinstance(raw_next, str) else None)
        name = name.strip() if isinstance(name, str) else ""
        password = password if isinstance(password, str) else ""
        # The login form has no session yet: its token is a double-submit cookie set with the form.
        token = token if isinstance(token, str) else None
        if not token_matches(request.cookies.get(auth.login_cookie), token):
            return _login_page(auth, request, target, "The login form expired. Please try again.", 403)
        if not auth.from_our_pages(request):
            return _login_page(auth, request, target, "Log in from this site's own login page.", 403)
        key = (name[:128], auth.client(request))
        wait = auth.limiter.retry_after(key)
        if wait is not None:
            log.warning("console login rate-limited", user=name[:64], peer=key[1], retry_after=wait)
            page = _login_page(auth, request, target, f"Too many failed logins. Try again in {wait} s.", 429)
            page.headers["Retry-After"] = str(wait)
            return page
        auth.limiter.failed(key)  # counted before the check, so parallel tries cannot slip past the limit
        result = Verified(None) if len(password) > MAX_PASSWORD else await auth.verify(name, password)
        if result.user is None:
            log.warning("console login failed", user=name[:64], peer=key[1])
            return _login_page(auth, request, target, "Wrong name or password.", 401, name)
        auth.limiter.succeeded(key)
        response = web.HTTPSeeOther(target)
        old = request[SESSION]
        if old is not None:  # a fresh id at every login: no session fixation
            auth.sessions.delete(old)
        auth.start_session(result.user.name, response)
        response.del_cookie(auth.login_cookie, path="/", secure=auth.secure, httponly=True, samesite="Strict")
        log.info("console login", user=result.user.name, role=result.user.role.value, peer=key[1])
        raise response

    async def logout(request: web.Request) -> web.StreamResponse:
        response = web.HTTPSeeOther(LOGIN_PATH)
        session = request[SESSION]
        auth.end_session(session, response)
        if session is not None:
            log.info("console logout", user=session.user)
        raise response

    return [web.get(LOGIN_PATH, login_form), web.post(LOGIN_PATH, login), web.post(LOGOUT_PATH, logout)]


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Log in - watchd console</title>
<style>body{{font-family:sans-serif;max-width:22em;margin:4em auto;padding:0 1em}}
label,input,button{{display:block;width:100%;box-sizing:border-box;margin:.3em 0}}
.error{{color:#a00}}</style></head>
<body><h1>watchd console</h1>{who}{error}
<form method="post" action="{action}">
<input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="next" value="{next}">
<label for="name">Name</label><input id="name" name="name" value="{name}" autocomplete="username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Log in</button>
</form></body></html>
"""


def _login_page(
    auth: Auth, request: web.Request, target: str, error: str | None = None, status: int = 200, name: str = ""
) -> web.Response:
    user = current_user(request)
    nonce = request.cookies.get(auth.login_cookie)
    if not nonce or len(nonce) > 64:  # keep a well-formed one, so two open tabs both work
        nonce = secrets.token_urlsafe(32)
    body = _PAGE.format(
        error=f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "",
        who=f"<p>Logged in as {html.escape(user.display_name)}.</p>" if user is not None else "",
        action=LOGIN_PATH,
        csrf=html.escape(nonce),
        next=html.escape(target),
        name=html.escape(name[:64]),
    )
    response = web.Response(text=body, status=status, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    )
    response.set_cookie(auth.login_cookie, nonce, max_age=3600, path="/", httponly=True, samesite="Strict",
                        secure=auth.secure)  # fmt: skip
    return response
