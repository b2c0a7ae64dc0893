"""HTTP API, Prometheus metrics and the status page (aiohttp), plus SLA reports from the store.

Importing this package is cheap; `watchd.api.server` pulls in aiohttp and prometheus-client.
"""
