"""The console's login decisions, pure: who a user is, when a session ends, which `next` URL and
which request origin are acceptable, which paths need a login, and the login rate limiter.
No I/O and no clock of its own: callers pass `now`. The aiohttp glue is watchd.console.auth."""

from __future__ import annotations

import enum
import hmac
import ipaddress
import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Role(enum.StrEnum):
    """What a console user may do: a viewer sees everything, an operator also acts (ack, silence, run)."""

    VIEWER = "viewer"
    OPERATOR = "operator"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1}


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    display_name: str

    def has(self, role: Role | str) -> bool:
        """At least `role` (an operator is also a viewer)."""
        return self.role.rank >= Role(role).rank


# -- sessions ------------------------------------------------------------------------------------


class Verdict(enum.StrEnum):
    VALID = "valid"
    IDLE = "idle"  # unused for longer than the idle timeout
    EXPIRED = "expired"  # older than the absolute lifetime, however busy


def session_verdict(
    created: float, last_seen: float, now: float, idle_timeout: float, max_lifetime: float
) -> Verdict:
    if now - created >= max_lifetime:
        return Verdict.EXPIRED
    if now - last_seen >= idle_timeout:
        return Verdict.IDLE
    return Verdict.VALID


# -- request checks --------------------------------------------------------------------------------

MAX_NEXT = 2000


def safe_next(value: str | None, default: str = "/") -> str:
    """`value` if it is a path on this site, else `default`: no scheme, no host, no `//` or `/\\`
    (browsers read both as another host), no backslash or control character anywhere."""
    if not value or len(value) > MAX_NEXT or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def same_origin(origin: str | None, referer: str | None, hosts: Iterable[str]) -> bool:
    """Whether a state-changing request comes from one of our own pages. `hosts` are the host[:port]
    this console answers as (the Host header, the public URL's). Origin is preferred; Referer is
    the fallback for browsers that send no Origin; a request with neither (curl, older clients) is
    let through, since the CSRF token still has to match. Origin `null` (sandboxed frames, some
    cross-site redirects) is refused."""
    allowed = {h.lower() for h in hosts if h}
    if origin is not None:
        if origin.strip().lower() == "null":
            return False
        return _netloc(origin) in allowed
    if referer:
        return _netloc(referer) in allowed
    return True


def _netloc(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None
    return parts.netloc.lower() if parts.scheme in ("http", "https") and parts.netloc else None


def token_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token; a missing token on either side never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def path_is_public(path: str, public: Sequence[str], protected_prefix: str = "/") -> bool:
    """Whether `path` is served without a login: outside `protected_prefix`, or listed in `public`
    (an entry ending in "/" is a prefix, any other an exact path). A path with "." or ".." segments
    is never public, so `/static/../admin` cannot borrow the static prefix's exemption."""
    if not path.startswith(protected_prefix):
        return True
    if any(seg in (".", "..") for seg in path.split("/")):
        return False
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in public)


def peer_trusted(address: str | None, networks: Sequence[IPNetwork]) -> bool:
    if not address or not networks:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(peer: str | None, forwarded_for: str | None, networks: Sequence[IPNetwork]) -> str:
    """The client's address: the last X-Forwarded-For hop when the peer is a trusted proxy (the
    hop the proxy itself added; earlier ones are the client's word), else the peer."""
    if forwarded_for and peer_trusted(peer, networks):
        last = forwarded_for.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return peer or "?"


# -- login rate limit ------------------------------------------------------------------------------


class RateLimiter:
    """At most `failures` failed logins per key (user and address) within a sliding `window` of
    seconds. Memory is bounded: at most `max_keys` keys are tracked, the oldest dropped first."""

    def __init__(
        self, now: Callable[[], float], failures: int = 5, window: float = 300.0, max_keys: int = 10_000
    ) -> None:
        self.now = now
        self.failures = failures
        self.window = window
        self.max_keys = max_keys
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def retry_after(self, key: tuple[str, str]) -> int | None:
        """Whole seconds until `key` may try again, or None when it may try now."""
        times = self._recent(key)
        if times is None or len(times) < self.failures:
            return None
        return max(1, math.ceil(times[0] + self.window - self.now()))

    def failed(self, key: tuple[str, str]) -> None:
        times = self._recent(key)
        if times is None:
            if len(self._seen) >= self.max_keys:
                self._prune()
            times = self._seen[key] = deque(maxlen=self.failures)
        times.append(self.now())

    def succeeded(self, key: tuple[str, str]) -> None:
        self._seen.pop(key, None)

    def _recent(self, key: tuple[str, str]) -> deque[float] | None:
        times = self._seen.get(key)
        if times is None:
            return None
        horizon = self.now() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._seen[key]
            return None
        return times

    def _prune(self) -> None:
        horizon = self.now() - self.window
        for key in [k for k, t in self._seen.items() if not t or t[-1] <= horizon]:
            del self._seen[key]
        while len(self._seen) >= self.max_keys:  # all recent: drop the oldest keys
            del self._seen[next(iter(self._seen))]
