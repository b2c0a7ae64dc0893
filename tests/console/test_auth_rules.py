"""The console's login rules without a server: next-URL, origin and path checks, session expiry,
the rate limiter, the `auth` config section, password verification and `watchd console passwd`."""

from __future__ import annotations

import io
import ipaddress
from pathlib import Path

import pytest
from argon2 import PasswordHasher, extract_parameters
from structlog.testing import capture_logs

from watchd.configkit.reader import Reader
from watchd.configkit.yamlfile import load_yaml
from watchd.console.accounts import Account, Accounts, AuthConfig, hash_password, passwd_main, read_auth
from watchd.console.auth import Auth
from watchd.console.authpolicy import (
    RateLimiter,
    Role,
    User,
    Verdict,
    client_address,
    path_is_public,
    safe_next,
    same_origin,
    session_verdict,
    token_matches,
)
from watchd.core.clock import FakeClock
from watchd.core.errors import Problem

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # tests only: fast to verify


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("/incidents?host=web1", "/incidents?host=web1", id="local-path-with-query"),
        pytest.param("/", "/", id="root"),
        pytest.param("//evil.example", "/", id="protocol-relative"),
        pytest.param("//evil.example/path", "/", id="protocol-relative-path"),
        pytest.param("/\\evil.example", "/", id="backslash-host"),
        pytest.param("/ok\\..\\x", "/", id="backslash-anywhere"),
        pytest.param("https://evil.example/", "/", id="absolute-url"),
        pytest.param("javascript:alert(1)", "/", id="javascript"),
        pytest.param("/a\r\nSet-Cookie: x=1", "/", id="header-injection"),
        pytest.param("/\t/evil.example", "/", id="tab-is-stripped-by-browsers"),
        pytest.param("evil.example", "/", id="relative"),
        pytest.param("", "/", id="empty"),
        pytest.param(None, "/", id="missing"),
        pytest.param("/" + "a" * 3000, "/", id="too-long"),
    ],
)
def test_safe_next(value: str | None, expected: str) -> None:
    """Only a path on this site is a place to go after login; anything else goes to the dashboard."""
    assert safe_next(value) == expected


HOSTS = ("console.example:8443", "127.0.0.1:8080")


@pytest.mark.parametrize(
    ("origin", "referer", "expected"),
    [
        pytest.param("https://console.example:8443", None, True, id="origin-ours"),
        pytest.param("http://127.0.0.1:8080", None, True, id="origin-ours-http"),
        pytest.param("https://evil.example", None, False, id="origin-other"),
        pytest.param("https://console.example", None, False, id="origin-other-port"),
        pytest.param("null", None, False, id="origin-null"),
        pytest.param("https://evil.example", "https://console.example:8443/", False,
                     id="origin-beats-referer"),
        pytest.param(None, "https://console.example:8443/hosts", True, id="referer-ours"),
        pytest.param(None, "https://evil.example/x", False, id="referer-other"),
        pytest.param(None, "https://[::1/x", False, id="referer-malformed"),
        pytest.param(None, None, True, id="neither-token-decides"),
    ],
)
def test_same_origin(origin: str | None, referer: str | None, expected: bool) -> None:
    """A state change must come from our own pages when the browser says where it comes from."""
    assert same_origin(origin, referer, HOSTS) is expected


PUBLIC = ("/login", "/static/", "/s/", "/healthz")


@pytest.mark.parametrize(
    ("path", "prefix", "expected"),
    [
        pytest.param("/login", "/", True, id="login"),
        pytest.param("/login/extra", "/", False, id="login-is-exact"),
        pytest.param("/static/app.css", "/", True, id="static-prefix"),
        pytest.param("/s/shop", "/", True, id="customer-page"),
        pytest.param("/s", "/", False, id="s-without-slash"),
        pytest.param("/healthz", "/", True, id="healthz"),
        pytest.param("/", "/", False, id="dashboard"),
        pytest.param("/api/hosts", "/", False, id="api"),
        pytest.param("/static/../hosts", "/", False, id="dot-dot-never-public"),
        pytest.param("/status", "/ops/", True, id="outside-protected-prefix"),
        pytest.param("/ops/hosts", "/ops/", False, id="inside-protected-prefix"),
    ],
)
def test_path_is_public(path: str, prefix: str, expected: bool) -> None:
    """Everything under the protected prefix needs a login except the listed public paths."""
    assert path_is_public(path, PUBLIC, prefix) is expected


H = 3600.0


@pytest.mark.parametrize(
    ("created", "last_seen", "now", "expected"),
    [
        pytest.param(0.0, 0.0, 8 * H - 1, Verdict.VALID, id="just-within-idle"),
        pytest.param(0.0, 0.0, 8 * H, Verdict.IDLE, id="idle"),
        pytest.param(0.0, 7 * 24 * H - 1, 7 * 24 * H - 0.5, Verdict.VALID, id="busy-within-lifetime"),
        pytest.param(0.0, 7 * 24 * H - 1, 7 * 24 * H, Verdict.EXPIRED, id="busy-but-too-old"),
        pytest.param(0.0, 0.0, 8 * 24 * H, Verdict.EXPIRED, id="both-expired-says-expired"),
    ],
)
def test_session_verdict(created: float, last_seen: float, now: float, expected: Verdict) -> None:
    """A session ends after 8 h unused or 7 days after login, whichever comes first."""
    assert session_verdict(created, last_seen, now, 8 * H, 7 * 24 * H) is expected


def test_token_matches() -> None:
    """A CSRF token must be given and equal; two missing tokens are no match."""
    assert token_matches("abc", "abc")
    assert not token_matches("abc", "abd")
    assert not token_matches("abc", None)
    assert not token_matches(None, None)
    assert not token_matches("", "")


def test_rate_limiter_blocks_after_five_failures_and_forgets_after_the_window() -> None:
    """Five failures in five minutes lock that user at that address, and only them, until the
    oldest failure is five minutes old; a success clears the count."""
    clock = FakeClock(0.0)
    limiter = RateLimiter(clock.time, failures=5, window=300.0)
    key = ("alice", "192.0.2.1")
    for _ in range(4):
        limiter.failed(key)
        clock.advance(10)
    assert limiter.retry_after(key) is None
    limiter.failed(key)  # the fifth, at t=40
    assert limiter.retry_after(key) == 260  # the first failure (t=0) is 300 s old at t=300
    assert limiter.retry_after(("alice", "192.0.2.2")) is None
    assert limiter.retry_after(("bob", "192.0.2.1")) is None
    clock.advance(259)
    assert limiter.retry_after(key) == 1
    clock.advance(1)  # the failure at t=0 is now 300 s old
    assert limiter.retry_after(key) is None
    limiter.failed(key)
    assert limiter.retry_after(key) is not None
    limiter.succeeded(key)
    assert limiter.retry_after(key) is None


def test_rate_limiter_memory_is_bounded() -> None:
    """A flood of distinct names keeps at most max_keys entries."""
    clock = FakeClock(0.0)
    limiter = RateLimiter(clock.time, failures=2, window=300.0, max_keys=100)
    for i in range(1000):
        limiter.failed((f"user{i}", "192.0.2.1"))
    assert len(limiter._seen) <= 100


def test_client_address_behind_a_trusted_proxy() -> None:
    """X-Forwarded-For counts only from a trusted proxy, and only its last hop."""
    nets = (ipaddress.ip_network("127.0.0.1/32"),)
    assert client_address("127.0.0.1", "10.9.9.9, 192.0.2.7", nets) == "192.0.2.7"
    assert client_address("192.0.2.50", "10.9.9.9", nets) == "192.0.2.50"
    assert client_address("127.0.0.1", None, nets) == "127.0.0.1"


def test_user_roles() -> None:
    """An operator is also a viewer; a viewer is no operator."""
    op, viewer = User("a", Role.OPERATOR, "A"), User("b", Role.VIEWER, "B")
    assert op.has("viewer")
    assert op.has(Role.OPERATOR)
    assert viewer.has("viewer")
    assert not viewer.has("operator")


# -- config ------------------------------------------------------------------------------------------


def read(tmp_path: Path, text: str) -> tuple[AuthConfig, list[Problem]]:
    path = tmp_path / "console.yaml"
    path.write_text(text)
    problems: list[Problem] = []
    cfg = read_auth(Reader(load_yaml(str(path))["auth"], "auth", problems))
    return cfg, problems


def test_config_reads_accounts_proxy_and_timeouts(tmp_path: Path) -> None:
    """A full section: inline and file hashes (relative to the config file), roles, proxy settings."""
    alice, bob = CHEAP.hash("alice-password"), CHEAP.hash("bob-password")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "bob.hash").write_text(bob + "\n")
    cfg, problems = read(tmp_path, f"""
auth:
  accounts:
    alice: {{password_hash: "{alice}", role: operator, display_name: Alice A.}}
    bob: {{password_hash_file: secrets/bob.hash}}
    carol: {{role: operator}}
  proxy_header: X-Remote-User
  trusted_proxies: [127.0.0.1/32, "::1"]
  proxy_auto_viewer: true
  idle_timeout: 1h
  max_lifetime: 2d
  public_paths: [/login, /s/]
  login_failures: 3
  login_window: 10m
""")  # fmt: skip
    assert problems == []
    assert cfg.accounts["alice"] == Account("alice", Role.OPERATOR, "Alice A.", alice)
    assert cfg.accounts["bob"] == Account("bob", Role.VIEWER, "bob", bob)
    assert cfg.accounts["carol"].password_hash is None  # proxy login only
    assert cfg.proxy_header == "X-Remote-User"
    assert [str(n) for n in cfg.trusted_proxies] == ["127.0.0.1/32", "::1/128"]
    assert (cfg.idle_timeout, cfg.max_lifetime) == (3600, 172800)
    assert (cfg.login_failures, cfg.login_window) == (3, 600)
    assert cfg.public_paths == ("/login", "/s/")


def test_config_defaults(tmp_path: Path) -> None:
    """Defaults: 8 h idle, 7 days absolute, 5 failures per 5 minutes, the usual public paths."""
    cfg, problems = read(tmp_path, f'auth: {{accounts: {{a: {{password_hash: "{CHEAP.hash("x")}"}}}}}}\n')
    assert problems == []
    assert (cfg.idle_timeout, cfg.max_lifetime) == (8 * H, 7 * 24 * H)
    assert (cfg.login_failures, cfg.login_window) == (5, 300)
    assert cfg.public_paths == ("/login", "/static/", "/s/", "/healthz")
    assert cfg.accounts["a"].role is Role.VIEWER  # the least a forgotten role can do


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        pytest.param("accounts: {a: {password: hunter2}}", "auth.accounts.a.password", "plain passwords",
                     id="inline-password"),
        pytest.param("accounts: {a: {password_hash: nope}}", "auth.accounts.a.password_hash",
                     "not an argon2 hash", id="not-a-hash"),
        pytest.param("accounts: {a: {password_hash_file: missing.hash}}",
                     "auth.accounts.a.password_hash_file", "cannot read secret file", id="missing-hash-file"),
        pytest.param("accounts: {a: {role: admin, password_hash: 'HASH'}}", "auth.accounts.a.role",
                     "expected operator or viewer", id="bad-role"),
        pytest.param("accounts: {a: {}}", "auth.accounts.a", "needs password_hash", id="no-hash-no-proxy"),
        pytest.param("accounts: {a: {password_hash: 'HASH', password_hash_file: f}}",
                     "auth.accounts.a.password_hash_file", "not both", id="hash-and-file"),
        pytest.param("accounts: {'a b': {password_hash: 'HASH'}}", "auth.accounts.a b", "account names",
                     id="bad-name"),
        pytest.param("accounts: {a: {password_hash: 'HASH', colour: red}}", "auth.accounts.a.colour",
                     "unknown key", id="unknown-account-key"),
        pytest.param("accounts: {a: {password_hash: 'HASH'}}\n  proxy_header: X-Remote-User",
                     "auth.proxy_header", "needs trusted_proxies", id="header-without-proxies"),
        pytest.param("accounts: {a: {password_hash: 'HASH'}}\n  proxy_header: X-Remote-User\n"
                     "  trusted_proxies: [10.0.0.1/8]", "auth.trusted_proxies", "host bits set",
                     id="bad-network"),
        pytest.param("accounts: {a: {password_hash: 'HASH'}}\n  idle_timeout: 8d", "auth.idle_timeout",
                     "longer than max_lifetime", id="idle-longer-than-lifetime"),
        pytest.param("accounts: {}", "auth.accounts", "no account can log in", id="no-accounts"),
    ],
)  # fmt: skip
def test_config_problems(tmp_path: Path, body: str, path: str, message: str) -> None:
    """Each mistake is reported with the file, line and key path, and what is wrong."""
    _, problems = read(tmp_path, "auth:\n  " + body.replace("HASH", CHEAP.hash("x")) + "\n")
    matching = [p for p in problems if p.path == path]
    assert matching, problems
    assert message in matching[0].message
    assert matching[0].file.endswith("console.yaml")
    assert matching[0].line is not None


# -- passwords -----------------------------------------------------------------------------------------


def accounts() -> Accounts:
    return Accounts({
        "alice": Account("alice", Role.OPERATOR, "Alice", CHEAP.hash("alice-password")),
        "carol": Account("carol", Role.OPERATOR, "Carol"),  # proxy only
    })  # fmt: skip


def test_verify_right_wrong_unknown_and_passwordless() -> None:
    """Only the right password of an account with a hash lets someone in."""
    acc = accounts()
    assert acc.verify("alice", "alice-password").user == User("alice", Role.OPERATOR, "Alice")
    assert acc.verify("alice", "wrong").user is None
    assert acc.verify("mallory", "alice-password").user is None
    assert acc.verify("carol", "").user is None


def test_unknown_names_cost_the_same_verification() -> None:
    """The dummy hash an unknown name is checked against has the accounts' own argon2 parameters,
    so a failed login takes as long for a made-up name as for a real one."""
    acc = accounts()
    assert extract_parameters(acc.dummy_hash) == extract_parameters(acc.accounts["alice"].password_hash or "")
    assert extract_parameters(Accounts({}).dummy_hash) == extract_parameters(hash_password("some password"))


async def test_old_hash_parameters_are_logged_once() -> None:
    """A hash weaker than today's defaults still logs in; the console says so once, not per login."""
    auth = Auth(AuthConfig(accounts=accounts().accounts))
    with capture_logs() as logs:
        for _ in range(2):
            assert (await auth.verify("alice", "alice-password")).user is not None
    assert [e["event"] for e in logs if "old parameters" in e["event"]] == [
        "console password hash uses old parameters; run `watchd console passwd`"
    ]


def test_hash_password_makes_a_default_argon2id_hash() -> None:
    """hash_password gives an argon2id hash with argon2-cffi's default cost that verifies."""
    hashed = hash_password("a good password")
    assert hashed.startswith("$argon2id$")
    assert not PasswordHasher().check_needs_rehash(hashed)
    assert PasswordHasher().verify(hashed, "a good password")


@pytest.mark.parametrize(
    ("stdin", "code", "err"),
    [
        pytest.param("a good password\na good password\n", 0, "", id="twice"),
        pytest.param("a good password\n", 0, "", id="once-piped"),
        pytest.param("a good password\nanother one\n", 1, "differ", id="mismatch"),
        pytest.param("short\nshort\n", 1, "at least 8", id="too-short"),
        pytest.param("", 1, "at least 8", id="empty"),
    ],
)
def test_passwd_main(stdin: str, code: int, err: str) -> None:
    """`watchd console passwd` prints a hash of the password read from standard input."""
    out, errs = io.StringIO(), io.StringIO()
    assert passwd_main([], stdin=io.StringIO(stdin), stdout=out, stderr=errs) == code
    assert err in errs.getvalue()
    if code == 0:
        assert PasswordHasher().verify(out.getvalue().strip(), "a good password")
    else:
        assert out.getvalue() == ""
