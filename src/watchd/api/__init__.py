"""HTTP API, Prometheus metrics and the status page (aiohttp), plus SLA reports from the store.

`app` owns the Api object and the helpers every route module shares; one route module per resource
(`health`, `checks`, `incidents`, `maintenance`, `services`, `statuspage`, `metrics`, `openapi`);
`server` runs them. Importing this package is cheap; `watchd.api.server` pulls in aiohttp and
prometheus-client. May import `core`, `config`, `configkit`, `store`, `control`, `delivery`, `reports`.
"""
