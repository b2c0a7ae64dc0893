"""Passive check results for an Icinga 2 that runs beside watchd (docs/migration.md): `settings` (the
`icinga2:` section's values), `payload` (pure: which Icinga object a check maps to, the request body,
what an answer means), `queue` (pure: the bounded backlog) and `forwarder` (the sender task)."""
