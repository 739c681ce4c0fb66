"""The gateway's internal library. Free of web frameworks.

Its core (settings, logging, asgi, ids, money, errors, signing, resources, seed, simulation,
webhook_urls) needs only pydantic-settings and structlog: the dashboard and the checkout
install nothing more. The database and queue stack of the API and the workers (db, due,
events, housekeeping, jobstats, metrics, migrations, queues, worker) comes with the `backend`
extra: `shared[backend]` pulls in psycopg, psycopg-pool, redis, rq and prometheus-client.
"""
