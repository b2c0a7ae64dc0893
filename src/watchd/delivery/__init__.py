"""The edge where incidents leave watchd: the outbox (`outbox`, exactly-once delivery with retries),
what an incident action writes (`effects`), ticket backends (`tickets/`), customer notifiers
(`notify/`) and the HTTP and SMTP calls they share (`httpcall`, `smtp`). May import `core`, `store`
and `runtime`; `daemon.channels` builds the channels a config defines."""
