"""shared's core: what every service of the gateway uses, whatever it does: settings,
logging, the correlation-id middleware, whose address a request is, ids, money and
webhook signatures.

Imports nothing else of ours but core, and needs only pydantic-settings and structlog:
the dashboard and the checkout install nothing more.
"""
