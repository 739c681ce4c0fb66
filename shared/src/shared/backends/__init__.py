"""shared's backends: the database and queue machinery of the API and the workers:
PostgreSQL (db, migrations), the due-time design (due), RQ queues and their workers
(queues, worker, jobstats), housekeeping purges and Prometheus metrics.

Imports core and backends only. Comes with the `backend` extra (`shared[backend]`:
psycopg, psycopg-pool, redis, rq, prometheus-client).
"""
