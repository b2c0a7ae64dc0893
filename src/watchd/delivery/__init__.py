"""The edge where incidents leave watchd: the outbox (`outbox`, exactly-once delivery with retries),
what an incident action writes (`effects`), the channels a config defines (`channels`), ticket
backends (`tickets/`) and customer notifiers (`notify/`). May import `core`, `store` and `config`."""
