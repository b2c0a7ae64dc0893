"""The edge where incidents leave watchd: the outbox (`outbox`, exactly-once delivery with retries),
what an incident action writes (`effects`), ticket backends (`tickets/`), customer notifiers
(`notify/`), the HTTP and SMTP calls they share (`httpcall`, `smtp`) and the best-effort forwarding of
results to an Icinga 2 beside watchd (`icinga2/`). May import `core`, `nagios` (perfdata text for
Icinga), `store` and `runtime`; `daemon.channels` builds the channels a config defines."""
