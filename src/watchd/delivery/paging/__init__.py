"""Paging channels: the media that wake the person on call (PagerDuty Events v2, Opsgenie alerts,
SMS and voice through an HTTP gateway, the long tail through apprise), and the parsers of what
those services send back (acknowledgements). Each transport has the notify Transport signature
`(msg, event, facts, op_id)` and raises DeliveryError, so the outbox gives it exactly-once,
ordered, retried delivery like any other channel."""
