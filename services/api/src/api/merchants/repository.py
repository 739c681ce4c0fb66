from typing import Any

from psycopg import Connection

Row = dict[str, Any]

MERCHANT_COLUMNS = """
    id, name, email, password_hash, api_key, api_secret, webhook_url, webhook_secret, is_test,
    created_at
"""


def get_by_api_key(conn: Connection, api_key: str) -> Row | None:
    return conn.execute(
        f"SELECT {MERCHANT_COLUMNS} FROM merchants WHERE api_key = %s", (api_key,)
    ).fetchone()


def get_by_email(conn: Connection, email: str) -> Row | None:
    return conn.execute(
        f"SELECT {MERCHANT_COLUMNS} FROM merchants WHERE lower(email) = lower(%s)", (email,)
    ).fetchone()


def get_by_id(conn: Connection, merchant_id: str) -> Row | None:
    return conn.execute(
        f"SELECT {MERCHANT_COLUMNS} FROM merchants WHERE id = %s", (merchant_id,)
    ).fetchone()


def insert_merchant(conn: Connection, **fields: Any) -> Row:
    return conn.execute(
        f"""
        INSERT INTO merchants (name, email, password_hash, api_key, api_secret, webhook_secret)
        VALUES (%(name)s, %(email)s, %(password_hash)s, %(api_key)s, %(api_secret)s,
                %(webhook_secret)s)
        RETURNING {MERCHANT_COLUMNS}
        """,
        fields,
    ).fetchone()
