"""Test harness: a real PostgreSQL and Redis, the API and workers in this process or as real
processes, Chromium and a webhook receiver. Each lives in its own fixture module under
tests/fixtures/, registered here for every test."""

pytest_plugins = [
    "fixtures.environment",
    "fixtures.datastores",
    "fixtures.in_process",
    "fixtures.live",
    "fixtures.browser",
    "fixtures.receiver",
]
