"""The merchant dashboard: server-rendered pages over the gateway API, on port 3000.

It is a client of the API over HTTP and never opens the database. Sessions live in Redis.
"""
