"""shared's domain: the gateway's own rules and resources, shared by the API, the
workers and the dashboard: typed errors, events, resources built from rows, the
simulated bank, the seeded test merchant, webhook URLs.

Imports core and domain; backends for annotations only (under TYPE_CHECKING), so it
needs no more than core does.
"""
