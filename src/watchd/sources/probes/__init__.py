"""Uptime probes over the network: each module registers its check type
(loaded on demand through watchd.sources.LAZY_TYPES).

    http  tls  tcp  dns  icmp

Each probe judges what it fetched with a pure `evaluate_*` function and reports every failure as a
CRITICAL result saying why (refused, timeout, DNS failure, TLS error, unexpected answer); UNKNOWN is
kept for a probe that could not run at all (unreadable secret, no ICMP socket allowed).
HTTP probes share one aiohttp session per event loop: the daemon awaits
`watchd.sources.probes.session.close_shared_sessions()` at shutdown. `http` is registered lazily
(watchd.sources.LAZY_TYPES): aiohttp is only loaded when an HTTP probe is configured.
"""
