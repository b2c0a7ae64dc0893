"""What people do to incidents and checks (acknowledge, resolve, silence, schedule downtime), one
store transaction each, shared by the CLI, the HTTP API and MQTT commands. May import `core`,
`store`, `delivery` and `config`."""
