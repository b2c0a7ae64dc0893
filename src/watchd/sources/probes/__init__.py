"""Uptime probes over the network: importing this package registers their check types.

    http  tls  tcp  dns  icmp

Each probe judges what it fetched with a pure `evaluate_*` function and reports every failure as a
CRITICAL result saying why (refused, timeout, DNS failure, TLS error, unexpected answer); UNKNOWN is
kept for a probe that could not run at all (unreadable secret, no ICMP socket allowed).
HTTP probes share one aiohttp session per event loop: the daemon awaits `close_shared_sessions()`
at shutdown.
"""

from watchd.sources.probes import dns, http, icmp, tcp, tls  # noqa: F401  (imported to register the types)
from watchd.sources.probes.session import close_shared_sessions

__all__ = ["close_shared_sessions"]
