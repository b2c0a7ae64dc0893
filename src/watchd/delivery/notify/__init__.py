"""Customer and on-call contact: what to say (messages), in which shape (webhook formats), and how
to send it (transports). Every notification is an outbox row, rendered when it is delivered so it
can carry the ticket number of a ticket opened moments before."""
