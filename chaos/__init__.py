"""`make chaos`: the gateway under load while its workers, Redis and PostgreSQL are killed,
flushed and restarted; afterwards every payment, refund and webhook is checked (see
`chaos.__main__`)."""
