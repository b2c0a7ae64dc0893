"""Acknowledge and resolve links: expiring, single-use, HMAC-signed tokens. Pure.

    token = base64url("v1:<incident>:<action>:<contact>:<expires>:<nonce>") "." base64url(hmac[:20])

A link names its incident twice, in the path and inside the signed token, and `verify` refuses a
token whose incident or action differs from the route's: a token can act on one incident, one way.
The nonce is derived from the outbox row id, so a page that is re-sent after a retry carries the
same link; the caller records used nonces (store) so that a second click is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

ACTIONS = ("ack", "resolve")
_SIG_BYTES = 20


class LinkError(ValueError):
    """The link cannot act: the message says why in words a person who clicked it understands."""


class LinkUsed(LinkError):
    """A valid link that has acted once already (the caller keeps track of used nonces)."""

    def __init__(self) -> None:
        super().__init__("this link has already been used")


@dataclass(frozen=True, slots=True)
class Grant:
    incident_id: int
    action: str
    contact: str
    expires: float
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()[:_SIG_BYTES]


def mint(key: bytes, incident_id: int, action: str, contact: str, expires: float, seed: str) -> str:
    """A token for `action` on `incident_id`, told to `contact`; `seed` (the outbox row) makes it stable."""
    if action not in ACTIONS:
        raise ValueError(f"unknown link action {action!r}")
    if ":" in contact:
        raise ValueError("a contact name in a link cannot contain ':'")
    nonce = _b64(hmac.new(key, f"nonce:{seed}:{action}".encode(), hashlib.sha256).digest()[:12])
    body = f"v1:{incident_id}:{action}:{contact}:{int(expires)}:{nonce}".encode()
    return f"{_b64(body)}.{_b64(_sign(key, body))}"


def verify(key: bytes, token: str, incident_id: int, action: str, now: float) -> Grant:
    """The grant a token gives for this route, or LinkError (forged, other incident, expired)."""
    try:
        body_part, sig_part = token.split(".")
        body, sig = _unb64(body_part), _unb64(sig_part)
    except ValueError:
        raise LinkError("this link is damaged (copy the whole link)") from None
    if len(body) > 512 or not hmac.compare_digest(sig, _sign(key, body)):
        raise LinkError("this link is not valid")
    try:
        version, inc, act, contact, expires, nonce = body.decode().split(":")
        grant = Grant(int(inc), act, contact, float(expires), nonce)
    except ValueError:
        raise LinkError("this link is not valid") from None
    if version != "v1" or grant.incident_id != incident_id or grant.action != action:
        raise LinkError("this link is for another incident or action")
    if now >= grant.expires:
        raise LinkError("this link has expired")
    return grant


def path(incident_id: int, action: str, token: str) -> str:
    """The link's path under the API's public URL."""
    return f"/page/{incident_id}/{action}/{token}"
