from datetime import datetime
from typing import Any

from shared.db import DictConnection, Row, one

MERCHANT_COLUMNS = """
    id, name, email, password_hash, api_key, api_secret, webhook_url, webhook_secret, is_test,
    created_at
"""


def get_by_api_key(conn: DictConnection, api_key: str) -> Row | None:
    return conn.execute(
        f"SELECT {MERCHANT_COLUMNS} FROM merchants WHERE api_key = %s", (api_key,)
    ).fetchone()


def get_for_authentication(conn: DictConnection, api_key: str) -> Row | None:
    """The merchant of `api_key` with `retired_api_secrets`: its replaced secrets still in
    their grace period."""
    return conn.execute(
        f"""
        SELECT {MERCHANT_COLUMNS},
               ARRAY(SELECT r.api_secret FROM retired_api_secrets r
                     WHERE r.merchant_id = m.id AND r.expires_at > now()) AS retired_api_secrets
        FROM merchants m WHERE m.api_key = %s
        """,
        (api_key,),
    ).fetchone()


def lock_for_rotation(conn: DictConnection, merchant_id: str) -> Row:
    """The merchant's current secret and is_test, its row locked until the transaction ends,
    so that two rotations at once retire one secret each rather than the same one twice."""
    return one(
        conn.execute(
            "SELECT api_secret, is_test FROM merchants WHERE id = %s FOR UPDATE", (merchant_id,)
        )
    )


def retire_api_secret(
    conn: DictConnection, merchant_id: str, api_secret: str, grace_seconds: int
) -> datetime:
    """Keep `api_secret` working for `grace_seconds`; forget the merchant's expired ones."""
    conn.execute(
        "DELETE FROM retired_api_secrets WHERE merchant_id = %s AND expires_at <= now()",
        (merchant_id,),
    )
    return one(
        conn.execute(
            """
        INSERT INTO retired_api_secrets (merchant_id, api_secret, expires_at)
        VALUES (%s, %s, now() + make_interval(secs => %s))
        ON CONFLICT (merchant_id, api_secret) DO UPDATE SET expires_at = EXCLUDED.expires_at
        RETURNING expires_at
        """,
            (merchant_id, api_secret, grace_seconds),
        )
    )["expires_at"]


def set_api_secret(conn: DictConnection, merchant_id: str, api_secret: str) -> Row:
    return one(
        conn.execute(
            f"""
        UPDATE merchants SET api_secret = %s, updated_at = now() WHERE id = %s
        RETURNING {MERCHANT_COLUMNS}
        """,
            (api_secret, merchant_id),
        )
    )


def get_by_email(conn: DictConnection, email: str) -> Row | None:
    return conn.execute(
        f"SELECT {MERCHANT_COLUMNS} FROM merchants WHERE lower(email) = lower(%s)", (email,)
    ).fetchone()


def get_by_id(conn: DictConnection, merchant_id: str) -> Row | None:
    return conn.execute(
        f"SELECT {MERCHANT_COLUMNS} FROM merchants WHERE id = %s", (merchant_id,)
    ).fetchone()


def insert_merchant(conn: DictConnection, **fields: Any) -> Row:
    return one(
        conn.execute(
            f"""
        INSERT INTO merchants (name, email, password_hash, api_key, api_secret, webhook_secret)
        VALUES (%(name)s, %(email)s, %(password_hash)s, %(api_key)s, %(api_secret)s,
                %(webhook_secret)s)
        RETURNING {MERCHANT_COLUMNS}
        """,
            fields,
        )
    )
