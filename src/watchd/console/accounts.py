"""Console operator accounts: the `auth` section of the console config, argon2 password hashes, and
`watchd console passwd` (which prints a hash to paste into the config).

```yaml
auth:
  accounts:
    alice: {password_hash: "$argon2id$v=19$m=65536,t=3,p=4$...", role: operator, display_name: Alice}
    bob: {password_hash_file: secrets/bob.hash, role: viewer}   # relative to the config file
    carol: {role: operator}             # no password: can only come in through the proxy header
  proxy_header: X-Remote-User           # trusted only from trusted_proxies
  trusted_proxies: [127.0.0.1/32, "::1/128"]
  proxy_auto_viewer: false              # true: a proxy user without an account is a viewer
  idle_timeout: 8h
  max_lifetime: 7d
  protected_prefix: /
  public_paths: [/login, /static/, /s/, /healthz]   # "/" at the end: a prefix
  login_failures: 5                     # per user and address ...
  login_window: 5m                      # ... within this window, then 429
```
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from watchd.configkit import reader as r
from watchd.configkit.secrets import SecretError, read_secret
from watchd.console.authpolicy import IPNetwork, Role, User

NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")  # also what a proxy may send: e-mail style names
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}$")
DEFAULT_PUBLIC = ("/login", "/static/", "/s/", "/healthz")
MIN_PASSWORD = 8


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    role: Role
    display_name: str
    password_hash: str | None = None  # None: proxy login only

    def user(self) -> User:
        return User(self.name, self.role, self.display_name)


@dataclass(frozen=True, slots=True)
class AuthConfig:
    accounts: Mapping[str, Account] = field(default_factory=dict)
    proxy_header: str | None = None
    trusted_proxies: tuple[IPNetwork, ...] = ()
    proxy_auto_viewer: bool = False
    idle_timeout: float = 8 * 3600.0
    max_lifetime: float = 7 * 86400.0
    protected_prefix: str = "/"
    public_paths: tuple[str, ...] = DEFAULT_PUBLIC
    login_failures: int = 5
    login_window: float = 300.0


def read_auth(rd: r.Reader) -> AuthConfig:
    """Read the `auth` section (hash files are read now, so a missing one is a config error)."""
    d = AuthConfig()
    base = os.path.dirname(os.path.abspath(rd.file)) if rd.file not in ("", "?") else os.getcwd()
    proxy_header = rd.get("proxy_header", _header, "") or None
    trusted = rd.get("trusted_proxies", _networks, ())
    if proxy_header and not trusted:
        rd.problem("proxy_header", "needs trusted_proxies: the header is believed only from those addresses")
    if trusted and not proxy_header:
        rd.problem("trusted_proxies", "has no effect without proxy_header")

    accounts: dict[str, Account] = {}
    acc_rd = rd.child("accounts")
    names = acc_rd.names()
    for name in names:
        if not NAME.match(name):
            acc_rd.problem(name, "account names are 1-64 letters, digits and _ . @ + -")
            continue
        account = _account(acc_rd.child(name), name, base, proxy_header is not None)
        if account is not None:
            accounts[name] = account
    auto_viewer = rd.get("proxy_auto_viewer", r.boolean, d.proxy_auto_viewer)
    if not names and not (auto_viewer and proxy_header):
        rd.problem("accounts", "no account can log in: add accounts (hash from `watchd console passwd`)")

    idle = rd.get("idle_timeout", r.duration, d.idle_timeout)
    lifetime = rd.get("max_lifetime", r.duration, d.max_lifetime)
    if idle > lifetime:
        rd.problem("idle_timeout", "is longer than max_lifetime")
    prefix = rd.get("protected_prefix", _path, d.protected_prefix)
    public = rd.get("public_paths", _paths, d.public_paths)
    out = AuthConfig(
        accounts=accounts,
        proxy_header=proxy_header,
        trusted_proxies=trusted,
        proxy_auto_viewer=auto_viewer,
        idle_timeout=idle,
        max_lifetime=lifetime,
        protected_prefix=prefix,
        public_paths=public,
        login_failures=rd.get("login_failures", r.positive_int, d.login_failures),
        login_window=rd.get("login_window", r.duration, d.login_window),
    )
    rd.finish()
    return out


def _account(rd: r.Reader, name: str, base: str, proxy: bool) -> Account | None:
    if rd.has("password"):
        rd.mark_read("password")
        rd.problem("password", "plain passwords are not accepted: give the password_hash that "
                   "`watchd console passwd` prints")
    inline = rd.get("password_hash", r.string, "") or None
    file = rd.get("password_hash_file", r.string, "") or None
    role = rd.get("role", _role, Role.VIEWER)
    display = rd.get("display_name", r.string, name)
    rd.finish()
    if inline is not None and file is not None:
        rd.problem("password_hash_file", "give password_hash or password_hash_file, not both")
        return None
    key = "password_hash" if inline is not None else "password_hash_file"
    hashed = inline
    if file is not None:
        try:
            hashed = read_secret(os.path.expanduser(file), None, base).strip()
        except SecretError as exc:
            rd.problem(key, str(exc))
            return None
    if hashed is None:
        if not proxy:
            rd.problem(None, "needs password_hash or password_hash_file (or a proxy_header to log in by)")
        return Account(name, role, display)
    try:
        extract_parameters(hashed)
    except InvalidHashError:
        rd.problem(key, "is not an argon2 hash (make one with `watchd console passwd`)")
        return None
    return Account(name, role, display, hashed)


def _role(value: Any) -> Role:
    try:
        return Role(r.string(value))
    except ValueError:
        raise ValueError(f"expected operator or viewer, not {r.shown(value)}") from None


def _header(value: Any) -> str:
    text = r.string(value)
    if not _HEADER.match(text):
        raise ValueError(f"expected an HTTP header name like X-Remote-User, not {r.shown(value)}")
    return text


def _networks(value: Any) -> tuple[IPNetwork, ...]:
    out = []
    for item in r.string_list(value):
        try:
            out.append(ipaddress.ip_network(item))
        except ValueError as exc:
            raise ValueError(f"expected addresses or networks like 127.0.0.1/32: {exc}") from None
    return tuple(out)


def _path(value: Any) -> str:
    text = r.string(value)
    if not text.startswith("/"):
        raise ValueError(f"expected a path starting with /, not {r.shown(value)}")
    return text


def _paths(value: Any) -> tuple[str, ...]:
    return tuple(_path(v) for v in r.string_list(value))


# -- passwords ------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """An argon2id hash with argon2-cffi's default (RFC 9106 low-memory) parameters."""
    return PasswordHasher().hash(password)


@dataclass(frozen=True, slots=True)
class Verified:
    user: User | None  # None: unknown name or wrong password (callers must not say which)
    needs_rehash: bool = False  # the hash's parameters are weaker than today's defaults


class Accounts:
    """Password checks against the configured accounts. `verify` costs one argon2 verification
    whether or not the name exists (a dummy hash with the accounts' own parameters stands in), so
    the time it takes does not tell which names are accounts. It is CPU-bound and thread-safe: run
    it in an executor."""

    def __init__(self, accounts: Mapping[str, Account]) -> None:
        self.accounts = dict(accounts)
        self._hasher = PasswordHasher()
        model = next((a.password_hash for a in accounts.values() if a.password_hash), None)
        dummy_hasher = PasswordHasher.from_parameters(extract_parameters(model)) if model else self._hasher
        self.dummy_hash = dummy_hasher.hash(os.urandom(16).hex())

    def get(self, name: str) -> Account | None:
        return self.accounts.get(name)

    def verify(self, name: str, password: str) -> Verified:
        account = self.accounts.get(name)
        hashed = account.password_hash if account is not None else None
        try:
            self._hasher.verify(hashed or self.dummy_hash, password)
        except VerificationError:  # also a mismatch (VerifyMismatchError is a subclass)
            return Verified(None)
        except InvalidHashError:  # checked at config load; a defence, not a path
            return Verified(None)
        if account is None or hashed is None:  # the dummy matched: impossible in practice
            return Verified(None)
        return Verified(account.user(), self._hasher.check_needs_rehash(hashed))


def passwd_main(
    argv: Sequence[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """`watchd console passwd`: read a password twice (from the terminal without echo, or as one
    or two lines of standard input) and print its hash for `password_hash`."""
    parser = argparse.ArgumentParser(
        prog="watchd console passwd",
        description="Print an argon2 hash of a console password, for password_hash or password_hash_file.",
    )
    parser.parse_args(argv)
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        second: str | None = getpass.getpass("Repeat: ")
    else:
        first = stdin.readline().rstrip("\r\n")
        second = stdin.readline().rstrip("\r\n") or None  # a second line, when piped, must match
    if second is not None and second != first:
        print("watchd console passwd: the passwords differ", file=stderr)
        return 1
    if len(first) < MIN_PASSWORD:
        print(f"watchd console passwd: a password needs at least {MIN_PASSWORD} characters", file=stderr)
        return 1
    print(hash_password(first), file=stdout)
    return 0
