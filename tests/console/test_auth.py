"""Console login against a real aiohttp server on 127.0.0.1, driven by a real aiohttp client:
password login, cookies, session expiry on an injected clock, logout, CSRF, roles, the reverse
proxy header, open redirects, the login rate limit and sessions that survive a restart."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from argon2 import PasswordHasher

from servers.http import serve
from watchd.console.accounts import Account, AuthConfig
from watchd.console.auth import (
    USER,
    Auth,
    auth_middleware,
    csrf_token,
    current_user,
    login_routes,
    require_role,
    requires,
)
from watchd.console.authpolicy import Role
from watchd.core.clock import FakeClock

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # tests only: fast to verify
ALICE_PW, VICTOR_PW = "alice's long password", "victor's long password"
ACCOUNTS = {
    "alice": Account("alice", Role.OPERATOR, "Alice A.", CHEAP.hash(ALICE_PW)),
    "victor": Account("victor", Role.VIEWER, "Victor V.", CHEAP.hash(VICTOR_PW)),
}
H = 3600.0
LOCAL = (ipaddress.ip_network("127.0.0.1/32"),)


def app_for(auth: Auth) -> web.Application:
    """A console stand-in: a dashboard, an action, an API, a health check and a customer page."""

    async def page(request: web.Request) -> web.Response:
        u = request[USER]
        assert u is not None  # the middleware let no one else in
        return web.Response(text=f"hello {u.name} ({u.role.value}) csrf={csrf_token(request)}")

    async def act(request: web.Request) -> web.Response:
        user = require_role(request, "operator")
        return web.Response(text=f"acted by {user.name}")

    @requires("operator")
    async def api_act(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def api(request: web.Request) -> web.Response:
        u = current_user(request)
        return web.json_response({"user": u.name if u else None})

    async def public(request: web.Request) -> web.Response:
        u = current_user(request)
        return web.Response(text=f"public, user={u.name if u else None}")

    app = web.Application(middlewares=[auth_middleware(auth)])
    app.add_routes(login_routes(auth))
    app.add_routes([web.get("/", page), web.get("/dashboard", page), web.post("/act", act),
                    web.get("/api/things", api), web.post("/api/act", api_act), web.get("/healthz", public),
                    web.get("/s/shop", public), web.post("/s/shop/subscribe", public)])  # fmt: skip
    return app


@dataclass
class Reply:
    status: int
    text: str
    headers: Any  # CIMultiDictProxy

    def cookies(self) -> SimpleCookie:
        jar: SimpleCookie = SimpleCookie()
        for header in self.headers.getall("Set-Cookie", []):
            jar.load(header)
        return jar


@dataclass
class Console:
    url: str
    http: aiohttp.ClientSession
    clock: FakeClock
    auth: Auth
    csrf: str = field(default="")

    async def call(self, method: str, path: str, **kw: Any) -> Reply:
        kw.setdefault("allow_redirects", False)
        async with self.http.request(method, self.url + path, **kw) as r:
            return Reply(r.status, await r.text(), r.headers)

    async def replay(self, path: str, cookie: str | None) -> Reply:
        """GET `path` with just this session cookie, from a client with no cookies of its own."""
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as other:
            headers = {"Cookie": f"{self.auth.cookie_name}={cookie}"}
            async with other.get(self.url + path, headers=headers, allow_redirects=False) as r:
                return Reply(r.status, await r.text(), r.headers)

    async def login(self, name: str, password: str, next: str | None = None) -> Reply:
        """Fill in the login form as a browser would: GET the form, POST it with its token."""
        form = await self.call("GET", "/login" + (f"?next={next}" if next else ""))
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        hidden_next = re.search(r'name="next" value="([^"]*)"', form.text)
        assert token, form.text
        assert hidden_next, form.text
        data = {"name": name, "password": password, "csrf": token.group(1), "next": hidden_next.group(1)}
        return await self.call("POST", "/login", data=data)

    async def page_token(self, path: str = "/dashboard", **kw: Any) -> str:
        page = await self.call("GET", path, **kw)
        assert page.status == 200, page
        m = re.search(r"csrf=(\S+)", page.text)
        assert m
        return m.group(1)

    def session_cookie(self) -> str | None:
        for c in self.http.cookie_jar:
            if c.key == self.auth.cookie_name:
                return c.value
        return None


@asynccontextmanager
async def console(
    config: AuthConfig | None = None,
    clock: FakeClock | None = None,
    db: sqlite3.Connection | None = None,
    http: aiohttp.ClientSession | None = None,
    **auth_kw: Any,
) -> AsyncIterator[Console]:
    clock = clock or FakeClock(1_700_000_000.0)
    auth = Auth(config or AuthConfig(accounts=ACCOUNTS), now=clock.time, db=db, **auth_kw)
    runner, url = await serve(app_for(auth))
    own = http is None
    # unsafe: take cookies from an IP address; secure origin: send Secure cookies over plain http here.
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[url])
    client = http or aiohttp.ClientSession(cookie_jar=jar)
    try:
        yield Console(url, client, clock, auth)
    finally:
        if own:
            await client.close()
        await runner.cleanup()


def is_login_redirect(reply: Reply) -> bool:
    return reply.status == 303 and reply.headers["Location"].startswith("/login?next=")


async def test_login_with_password_then_pages_know_the_user() -> None:
    """A page sends a browser to the login form and back; after login the page knows who it is."""
    async with console() as c:
        first = await c.call("GET", "/dashboard?view=hosts")
        assert first.status == 303
        location = urlsplit(first.headers["Location"])
        assert (location.path, parse_qs(location.query)) == ("/login", {"next": ["/dashboard?view=hosts"]})
        done = await c.login("alice", ALICE_PW, next="%2Fdashboard%3Fview%3Dhosts")
        assert (done.status, done.headers["Location"]) == (303, "/dashboard?view=hosts")
        page = await c.call("GET", "/dashboard")
        assert page.status == 200
        assert page.text.startswith("hello alice (operator)")
        assert "Logged in as Alice A." in (await c.call("GET", "/login")).text


@pytest.mark.parametrize(("name", "password"), [("alice", "wrong"), ("nobody", ALICE_PW)],
                         ids=["wrong-password", "unknown-user"])  # fmt: skip
async def test_failed_login_says_the_same_either_way(name: str, password: str) -> None:
    """A wrong password and an unknown name get the same 401 and no session."""
    async with console() as c:
        reply = await c.login(name, password)
        assert reply.status == 401
        assert "Wrong name or password." in reply.text
        assert c.auth.cookie_name not in reply.cookies()
        assert is_login_redirect(await c.call("GET", "/dashboard"))


@pytest.mark.parametrize(("public_url", "secure", "name"), [
    (None, False, "watchd_session"),
    ("http://console.example", False, "watchd_session"),
    ("https://console.example", True, "__Host-watchd_session"),
])  # fmt: skip
async def test_session_cookie_flags(public_url: str | None, secure: bool, name: str) -> None:
    """The session cookie is HttpOnly, SameSite=Lax, Path=/, and Secure (and __Host-) behind https."""
    async with console(public_url=public_url) as c:
        reply = await c.login("alice", ALICE_PW)
        cookie = reply.cookies()[name]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == "/"
        assert bool(cookie["secure"]) is secure
        assert not cookie["domain"]
        assert int(cookie["max-age"]) == 7 * 24 * 3600
        assert len(cookie.value) >= 43  # 32 random bytes, url-safe base64


async def test_idle_session_expires() -> None:
    """A session used within 8 h stays; 8 h without a request ends it."""
    async with console() as c:
        await c.login("alice", ALICE_PW)
        for _ in range(3):
            c.clock.advance(8 * H - 1)
            assert (await c.call("GET", "/dashboard")).status == 200
        c.clock.advance(8 * H)
        assert is_login_redirect(await c.call("GET", "/dashboard"))
        assert len(c.auth.sessions) == 0


async def test_busy_session_expires_after_seven_days() -> None:
    """However busy, a session ends 7 days after login."""
    async with console() as c:
        await c.login("alice", ALICE_PW)
        for _ in range(int(7 * 24 / 7) - 1):  # 23 requests 7 h apart: 161 h
            c.clock.advance(7 * H)
            assert (await c.call("GET", "/dashboard")).status == 200
        c.clock.advance(7 * H)  # 168 h
        assert is_login_redirect(await c.call("GET", "/dashboard"))


async def test_logout_ends_the_session_on_the_server() -> None:
    """After logout the old cookie is worthless, even sent again by hand."""
    async with console() as c:
        await c.login("alice", ALICE_PW)
        old = c.session_cookie()
        assert (await c.replay("/dashboard", cookie=old)).status == 200  # the replay itself works
        token = await c.page_token()
        reply = await c.call("POST", "/logout", data={"csrf": token})
        assert (reply.status, reply.headers["Location"]) == (303, "/login")
        assert reply.cookies()[c.auth.cookie_name]["max-age"] == "0"
        assert is_login_redirect(await c.call("GET", "/dashboard"))
        replay = await c.replay("/dashboard", cookie=old)
        assert is_login_redirect(replay)


async def test_logout_needs_the_csrf_token() -> None:
    """Another site cannot log a user out."""
    async with console() as c:
        await c.login("alice", ALICE_PW)
        assert (await c.call("POST", "/logout")).status == 403
        assert (await c.call("GET", "/dashboard")).status == 200


async def test_state_changes_need_the_csrf_token() -> None:
    """POST without or with a wrong token is 403; with it, as form field or header, it acts; a
    request from another site is refused even with the token."""
    async with console() as c:
        await c.login("alice", ALICE_PW)
        token = await c.page_token()
        assert (await c.call("POST", "/act")).status == 403
        assert (await c.call("POST", "/act", data={"csrf": "wrong"})).status == 403
        assert (await c.call("POST", "/act", headers={"X-CSRF-Token": token[:-1]})).status == 403
        ok = await c.call("POST", "/act", data={"csrf": token})
        assert (ok.status, ok.text) == (200, "acted by alice")
        assert (await c.call("POST", "/act", headers={"X-CSRF-Token": token})).status == 200
        evil = {"X-CSRF-Token": token, "Origin": "https://evil.example"}
        assert (await c.call("POST", "/act", headers=evil)).status == 403
        ours = {"X-CSRF-Token": token, "Origin": c.url}
        assert (await c.call("POST", "/act", headers=ours)).status == 200
        api = await c.call("POST", "/api/act", json={})
        assert api.status == 403
        assert "CSRF" in json_of(api)["error"]


def json_of(reply: Reply) -> dict[str, Any]:
    data = json.loads(reply.text)
    assert isinstance(data, dict)
    return data


async def test_viewer_sees_but_cannot_act() -> None:
    """A viewer gets the pages but a 403 from actions, even with a valid token."""
    async with console() as c:
        await c.login("victor", VICTOR_PW)
        token = await c.page_token()
        refused = await c.call("POST", "/act", data={"csrf": token})
        assert refused.status == 403
        assert "operator role (victor is a viewer)" in refused.text
        api = await c.call("POST", "/api/act", headers={"X-CSRF-Token": token})
        assert api.status == 403
        assert "operator" in json_of(api)["error"]


async def test_api_answers_401_json_and_public_paths_need_no_login() -> None:
    """Without a login: the API says 401 in JSON; health and customer pages are served."""
    async with console() as c:
        api = await c.call("GET", "/api/things")
        assert api.status == 401
        assert json_of(api) == {"error": "login required"}
        assert (await c.call("GET", "/healthz")).text == "public, user=None"
        assert (await c.call("GET", "/s/shop")).text == "public, user=None"
        assert (await c.call("POST", "/s/shop/subscribe")).status == 200


async def test_public_page_post_without_token_acts_for_nobody() -> None:
    """A cross-site POST to a public page arrives without the session's authority."""
    async with console() as c:
        await c.login("alice", ALICE_PW)
        assert (await c.call("GET", "/s/shop")).text == "public, user=alice"
        assert (await c.call("POST", "/s/shop/subscribe")).text == "public, user=None"
        token = await c.page_token()
        assert (await c.call("POST", "/s/shop/subscribe", data={"csrf": token})).text == "public, user=alice"


def proxy_config(trusted: tuple[Any, ...] = LOCAL, auto_viewer: bool = False) -> AuthConfig:
    return AuthConfig(accounts=ACCOUNTS, proxy_header="X-Remote-User", trusted_proxies=trusted,
                      proxy_auto_viewer=auto_viewer)  # fmt: skip


async def test_proxy_header_from_a_trusted_proxy_logs_in() -> None:
    """From a trusted address the proxy's header names the user on every request (no session is
    kept for them); their actions still need their CSRF token, which is theirs alone."""
    async with console(proxy_config()) as c:
        alice = {"X-Remote-User": "alice"}
        page = await c.call("GET", "/dashboard", headers=alice)
        assert page.status == 200
        assert page.text.startswith("hello alice (operator)")
        assert page.cookies() == SimpleCookie()  # nothing to remember: a cookie-less client makes no state
        assert len(c.auth.sessions) == 0
        token = await c.page_token("/dashboard", headers=alice)
        assert (await c.call("POST", "/act", headers=alice)).status == 403  # the token is still needed
        acted = await c.call("POST", "/act", headers={**alice, "X-CSRF-Token": token})
        assert acted.text == "acted by alice"
        victor = {"X-Remote-User": "victor"}
        assert await c.page_token("/dashboard", headers=victor) != token
        # The header wins over a session cookie of someone else.
        await c.login("victor", VICTOR_PW)
        assert (await c.call("GET", "/dashboard", headers=alice)).text.startswith("hello alice")
        assert (await c.call("GET", "/dashboard")).text.startswith("hello victor")


async def test_proxy_user_without_account() -> None:
    """A proxy user without an account gets in only with proxy_auto_viewer, and then as a viewer."""
    async with console(proxy_config(auto_viewer=True)) as c:
        page = await c.call("GET", "/dashboard", headers={"X-Remote-User": "zed@example.com"})
        assert page.text.startswith("hello zed@example.com (viewer)")
    async with console(proxy_config(auto_viewer=False)) as c:
        assert is_login_redirect(await c.call("GET", "/dashboard", headers={"X-Remote-User": "zed"}))


async def test_proxy_header_from_an_untrusted_peer_is_ignored() -> None:
    """The same header from an address outside trusted_proxies logs nobody in."""
    async with console(proxy_config(trusted=(ipaddress.ip_network("10.0.0.0/8"),))) as c:
        assert is_login_redirect(await c.call("GET", "/dashboard", headers={"X-Remote-User": "alice"}))
        api = await c.call("GET", "/api/things", headers={"X-Remote-User": "alice"})
        assert api.status == 401


@pytest.mark.parametrize("target", ["//evil.example", "//evil.example/%2F..", "https://evil.example/",
                                    "/\\evil.example", "/\t/evil.example"])  # fmt: skip
async def test_login_never_redirects_off_site(target: str) -> None:
    """`next` pointing elsewhere is dropped: the form does not carry it, and a hand-made POST that
    sends it anyway is sent to the dashboard."""
    async with console() as c:
        form = await c.call("GET", "/login", params={"next": target})
        assert 'name="next" value="/"' in form.text
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        data = {"name": "alice", "password": ALICE_PW, "csrf": token.group(1), "next": target}
        reply = await c.call("POST", "/login", data=data)
        assert (reply.status, reply.headers["Location"]) == (303, "/")


async def test_login_form_needs_its_own_token() -> None:
    """A login posted from elsewhere (no form cookie, or a token that does not match it) is 403."""
    async with console() as c:
        data = {"name": "alice", "password": ALICE_PW, "csrf": "made-up"}
        assert (await c.call("POST", "/login", data=data)).status == 403
        await c.call("GET", "/login")  # now the form cookie is set, but the token is still made up
        assert (await c.call("POST", "/login", data=data)).status == 403
        assert c.session_cookie() is None


async def test_login_rate_limit() -> None:
    """Five failures in five minutes: the sixth try is 429 with Retry-After, even with the right
    password; five minutes after the first failure the right password works again."""
    async with console() as c:
        for _ in range(5):
            assert (await c.login("alice", "wrong")).status == 401
            c.clock.advance(1)
        blocked = await c.login("alice", ALICE_PW)
        assert blocked.status == 429
        assert blocked.headers["Retry-After"] == "295"
        assert (await c.login("victor", VICTOR_PW)).status == 303  # another user is not locked out
        c.clock.advance(295)
        assert (await c.login("alice", ALICE_PW)).status == 303


async def test_parallel_tries_do_not_slip_past_the_limit() -> None:
    """Ten wrong passwords sent at once: five are checked, the rest are refused unchecked."""
    async with console() as c:
        form = await c.call("GET", "/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        data = {"name": "alice", "password": "wrong", "csrf": token.group(1)}
        replies = await asyncio.gather(*(c.call("POST", "/login", data=data) for _ in range(10)))
        assert sorted(r.status for r in replies) == [401] * 5 + [429] * 5


async def test_a_new_login_gets_a_new_session_id() -> None:
    """Logging in again replaces the session: the id from before login is no longer valid."""
    async with console() as c:
        await c.login("victor", VICTOR_PW)
        before = c.session_cookie()
        await c.login("alice", ALICE_PW)
        after = c.session_cookie()
        assert before
        assert after
        assert before != after
        assert (await c.replay("/dashboard", cookie=after)).status == 200
        replay = await c.replay("/dashboard", cookie=before)
        assert is_login_redirect(replay)


async def test_sessions_survive_a_restart(tmp_path: Path) -> None:
    """With a sqlite file, a console restarted on the same file still knows the session and when it
    was last used; the file holds no session id a reader could reuse."""
    path = tmp_path / "console.db"
    clock = FakeClock()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        db = sqlite3.connect(path)
        async with console(clock=clock, db=db, http=http) as c:
            await c.login("alice", ALICE_PW)
            token = await c.page_token()
            session_id = c.session_cookie()
            clock.advance(7 * H)
            assert (await c.call("GET", "/dashboard")).status == 200  # activity the file must keep
        db.close()
        clock.advance(2 * H)  # 9 h after login, 2 h after the last request
        db = sqlite3.connect(path)
        try:
            async with console(clock=clock, db=db, http=http) as c:
                assert (await c.call("GET", "/dashboard")).text.startswith("hello alice")
                assert (await c.call("POST", "/act", data={"csrf": token})).text == "acted by alice"
                clock.advance(8 * H)  # idle since the last request: over after a restart too
                assert is_login_redirect(await c.call("GET", "/dashboard"))
            rows = db.execute("SELECT key, user FROM console_sessions").fetchall()
        finally:
            db.close()
    assert session_id
    assert all(session_id not in str(row) for row in rows)


async def test_restart_keeps_logout(tmp_path: Path) -> None:
    """A session ended before a restart stays ended after it."""
    path = tmp_path / "console.db"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        with sqlite3.connect(path) as db:
            async with console(db=db, http=http) as c:
                await c.login("alice", ALICE_PW)
                old = c.session_cookie()
                await c.call("POST", "/logout", data={"csrf": await c.page_token()})
        db.close()
        db = sqlite3.connect(path)
        try:
            async with console(db=db, http=http) as c:
                replay = await c.replay("/dashboard", cookie=old)
                assert is_login_redirect(replay)
        finally:
            db.close()


async def test_removed_account_loses_its_session() -> None:
    """A reload that removes an account ends what that account could do at once."""
    async with console() as c:
        await c.login("victor", VICTOR_PW)
        c.auth.reconfigure(AuthConfig(accounts={"alice": ACCOUNTS["alice"]}))
        assert is_login_redirect(await c.call("GET", "/dashboard"))
