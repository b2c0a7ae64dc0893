"""SLA and availability reports from the store: the figures (`availability`, over the pure
`core.sla` arithmetic) and their renderings (`formats`). Used by the CLI, the HTTP API and its
status page. May import `core`, `store` and `config`."""
