"""Local stand-ins for the paging services that cannot run here, one aiohttp app per service, each
checking every request against the service's published API (path, method, auth, fields) and
answering as documented (status codes, error bodies, 429 with Retry-After). A request the
documentation does not allow is recorded in `violations`; tests assert there are none."""
