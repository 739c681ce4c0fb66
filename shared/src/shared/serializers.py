"""Serialisers from database rows to the JSON shapes (resources) of orders, payments and
refunds, and the column lists those rows are selected with: one definition for API responses
and webhook payloads alike, so a merchant sees the same object in both."""

from datetime import UTC, datetime
from typing import Any

from shared.db import Row

# The columns each resource is built from, for every SELECT ... RETURNING that feeds one.
ORDER_COLUMNS = "id, merchant_id, amount, currency, receipt, notes, status, created_at, updated_at"
PAYMENT_COLUMNS = (
    "id, order_id, merchant_id, amount, currency, method, status, captured, vpa, card_network,"
    " card_last4, error_code, error_description, amount_refunded, correlation_id, created_at,"
    " updated_at"
)


def amount_refundable(payments: str = "payments") -> str:
    """The SQL select-list item `amount_refundable` of the payment row named `payments` in the
    statement (docs/api.md#payments): its amount in paise less its `pending` and `processed`
    refunds, 0 unless it succeeded. The one definition of what can still be refunded: API responses,
    webhook payloads and the refund check read it. Read it in its own statement after locking the
    payment, never in the locking one, whose snapshot may predate a refund just committed."""
    return f"""
        CASE WHEN {payments}.status = 'success' THEN {payments}.amount - (
            SELECT coalesce(sum(r.amount), 0) FROM refunds r
            WHERE r.payment_id = {payments}.id AND r.status IN ('pending', 'processed')
        ) ELSE 0 END::bigint AS amount_refundable"""  # noqa: S608 (`payments`: our table or alias)


REFUND_COLUMNS = (
    "id, payment_id, merchant_id, amount, reason, status, correlation_id, created_at, updated_at,"
    " processed_at"
)


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with a Z, millisecond precision."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def order_resource(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "merchant_id": str(row["merchant_id"]),
        "amount": row["amount"],
        "currency": row["currency"],
        "receipt": row["receipt"],
        "notes": row["notes"],
        "status": row["status"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def payment_resource(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "order_id": row["order_id"],
        "amount": row["amount"],
        "currency": row["currency"],
        "method": row["method"],
        "status": row["status"],
        "captured": row["captured"],
        "vpa": row["vpa"],
        "card_network": row["card_network"],
        "card_last4": row["card_last4"],
        "error_code": row["error_code"],
        "error_description": row["error_description"],
        "amount_refunded": row["amount_refunded"],
        "amount_refundable": row["amount_refundable"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def refund_resource(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "payment_id": row["payment_id"],
        "amount": row["amount"],
        "reason": row["reason"],
        "status": row["status"],
        "created_at": iso(row["created_at"]),
        "processed_at": iso(row["processed_at"]),
    }
