"""Migration 004 carries live data over: a previous secret still in its overlap, attempts
numbered per schedule (two attempts numbered 1 after a manual retry) and errors logged as '[Errno
111]'."""

import psycopg
import pytest
from psycopg.rows import dict_row

from shared.backends.migrations import apply_migrations


@pytest.fixture
def database_before_004(scratch_database):
    return scratch_database("_before_004", before="004")


def test_live_rotation_and_attempt_history_are_carried_over(database_before_004):
    with psycopg.connect(database_before_004, autocommit=True, row_factory=dict_row) as conn:
        merchants = conn.execute(
            "INSERT INTO merchants (name, email, api_key, api_secret, webhook_secret,"
            " previous_webhook_secret, previous_webhook_secret_expires_at) VALUES"
            " ('Live', 'live@x.test', 'k1', 's1', 'whsec_new', 'whsec_old', now() + interval '3 hours'),"
            " ('Done', 'done@x.test', 'k2', 's2', 'whsec_b', 'whsec_a', now() - interval '1 hour')"
            " RETURNING id"
        ).fetchall()
        log = conn.execute(
            "INSERT INTO webhook_logs (merchant_id, event, payload, status, attempts)"
            " VALUES (%s, 'webhook.test', '{}', 'success', 1) RETURNING id",
            (merchants[0]["id"],),
        ).fetchone()
        conn.execute(
            "INSERT INTO webhook_attempts (webhook_log_id, attempt_number, attempted_at,"
            " duration_ms, response_code, error) VALUES"
            " (%(log)s, 1, now(), 1, NULL,"
            "  'connection failed: [Errno 111] Connect call failed (''127.0.0.1'', 9)'),"
            " (%(log)s, 1, now(), 1, 200, NULL)",
            {"log": log["id"]},
        )

    assert apply_migrations(database_before_004)[0].startswith("004")

    with psycopg.connect(database_before_004, row_factory=dict_row) as conn:
        secrets = conn.execute(
            "SELECT merchant_id, secret, expires_at - now() AS left FROM webhook_secrets"
        ).fetchall()
        assert [(s["merchant_id"], s["secret"]) for s in secrets] == [
            (merchants[0]["id"], "whsec_old")
        ]
        assert 2.9 * 3600 < secrets[0]["left"].total_seconds() <= 3 * 3600
        attempts = conn.execute(
            "SELECT attempt_number, scheduled_attempt, error FROM webhook_attempts ORDER BY id"
        ).fetchall()
        assert attempts == [
            {"attempt_number": 1, "scheduled_attempt": 1,
             "error": "connection failed: connection refused by 127.0.0.1:9"},
            {"attempt_number": 2, "scheduled_attempt": 1, "error": None},
        ]  # fmt: skip
