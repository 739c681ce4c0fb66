"""The gateway's internal library. Free of web frameworks. Three rooms:

- `shared.core`: settings, logging, asgi, client_address, ids, money, signing. Imports
  nothing else of ours.
- `shared.backends`: db, migrations, due, queues, worker, jobstats, housekeeping, metrics.
  Imports core. Comes with the `backend` extra: `shared[backend]` pulls in psycopg,
  psycopg-pool, redis, rq and prometheus-client.
- `shared.domain`: errors, events, serializers, simulation, seed, webhook_urls. Imports core,
  and backends for annotations only.

core and domain need only pydantic-settings and structlog: the dashboard and the checkout
install nothing more. shared never imports a service. tests/shared/test_rooms.py keeps
these rules.
"""
