"""The refunds service (api.refunds.service) called as an endpoint would, without HTTP: a real
pool and Redis (the `api_runtime` fixture), the `db` connection for what it left behind. The
rule (docs/api.md#refunds): any number of partial refunds of a successful payment, together never
more than its amount; pending and processed refunds count, failed ones do not."""

import pytest
from rq import Queue

from api.pagination import Pagination
from api.payments import service as payments_service
from api.payments.errors import PaymentNotFound
from api.refunds import service
from api.refunds.errors import PaymentNotRefundable, RefundExceedsAvailable, RefundNotFound
from api.refunds.schemas import RefundCreate
from factories import (
    listening,
    other_merchant_id,
    service_order,
    service_payment,
    settle,
    without_key,
)
from shared.backends.due import due_channel
from shared.backends.queues import REFUNDS_QUEUE, WEBHOOKS_QUEUE
from shared.domain.seed import TEST_MERCHANT_ID


def refund(api_runtime, payment_id: str, amount: int | None = None, **fields):
    merchant_id = fields.pop("merchant_id", TEST_MERCHANT_ID)
    body = RefundCreate.model_validate(fields | ({} if amount is None else {"amount": amount}))
    return api_runtime.run(
        without_key(
            api_runtime.db,
            lambda tx: service.create_refund(api_runtime, tx, merchant_id, payment_id, body),
        )
    ).model_dump()


def paid(api_runtime, db, amount: int = 50000) -> dict:
    """A successful payment of `amount` paise of the test merchant."""
    return settle(db, service_payment(api_runtime, service_order(api_runtime, amount=amount)["id"]))


def refundable(api_runtime, payment_id: str) -> int:
    return api_runtime.run(
        payments_service.get_payment(api_runtime.db, TEST_MERCHANT_ID, payment_id)
    ).amount_refundable


def refund_amounts(db) -> list[int]:
    return [row["amount"] for row in db.execute("SELECT amount FROM refunds ORDER BY created_at")]


def test_a_refund_is_created_pending_with_its_reason(api_runtime, db):
    payment = paid(api_runtime, db)

    created = refund(api_runtime, payment["id"], 10000, reason="Customer request")

    assert created["id"].startswith("rfnd_")
    assert (created["payment_id"], created["amount"], created["reason"], created["status"]) == (
        payment["id"], 10000, "Customer request", "pending",
    )  # fmt: skip
    assert created["processed_at"] is None
    assert (
        api_runtime.run(
            service.get_refund(api_runtime.db, TEST_MERCHANT_ID, created["id"])
        ).model_dump()
        == created
    )


def test_partial_refunds_add_up_to_exactly_the_payment_amount(api_runtime, db):
    payment = paid(api_runtime, db, amount=50000)

    refund(api_runtime, payment["id"], 20000)
    assert refundable(api_runtime, payment["id"]) == 30000
    refund(api_runtime, payment["id"], 29999)
    assert refundable(api_runtime, payment["id"]) == 1
    refund(api_runtime, payment["id"], 1)

    assert refundable(api_runtime, payment["id"]) == 0
    assert refund_amounts(db) == [20000, 29999, 1]


def test_more_than_the_refundable_amount_is_refused_and_nothing_is_written(api_runtime, db):
    payment = paid(api_runtime, db, amount=50000)
    refund(api_runtime, payment["id"], 30000)

    with pytest.raises(RefundExceedsAvailable) as refused:
        refund(api_runtime, payment["id"], 20001)

    assert refused.value.status_code == 400
    assert refused.value.description == "Refund amount exceeds available amount"
    assert refund_amounts(db) == [30000]


def test_a_single_refund_above_the_payment_amount_is_refused(api_runtime, db):
    payment = paid(api_runtime, db, amount=50000)

    with pytest.raises(RefundExceedsAvailable):
        refund(api_runtime, payment["id"], 50001)

    assert refund_amounts(db) == []


def test_without_an_amount_what_is_left_is_refunded_then_nothing_is(api_runtime, db):
    payment = paid(api_runtime, db, amount=50000)
    refund(api_runtime, payment["id"], 20000)

    assert refund(api_runtime, payment["id"])["amount"] == 30000
    with pytest.raises(RefundExceedsAvailable):
        refund(api_runtime, payment["id"])


@pytest.mark.parametrize("status, counts", [("processed", True), ("failed", False)])
def test_processed_refunds_count_against_the_amount_and_failed_ones_do_not(
    api_runtime, db, status, counts
):
    payment = paid(api_runtime, db, amount=50000)
    first = refund(api_runtime, payment["id"], 40000)
    db.execute(
        "UPDATE refunds SET status = %s,"
        " processed_at = CASE WHEN %s = 'processed' THEN now() END WHERE id = %s",
        (status, status, first["id"]),
    )

    assert refundable(api_runtime, payment["id"]) == (10000 if counts else 50000)
    if counts:
        with pytest.raises(RefundExceedsAvailable):
            refund(api_runtime, payment["id"], 10001)
    else:
        assert refund(api_runtime, payment["id"], 50000)["amount"] == 50000


@pytest.mark.parametrize("status", ["pending", "failed"])
def test_only_a_successful_payment_is_refundable(api_runtime, db, status):
    payment = settle(db, service_payment(api_runtime, service_order(api_runtime)["id"]), status)

    with pytest.raises(PaymentNotRefundable) as refused:
        refund(api_runtime, payment["id"], 100)

    assert refused.value.description == "Payment not in refundable state"
    assert refund_amounts(db) == []


def test_another_merchants_payment_is_not_found(api_runtime, db):
    payment = paid(api_runtime, db)
    stranger = other_merchant_id(api_runtime)

    with pytest.raises(PaymentNotFound):
        refund(api_runtime, payment["id"], 100, merchant_id=stranger)
    with pytest.raises(PaymentNotFound):
        api_runtime.run(
            service.list_payment_refunds(api_runtime.db, stranger, payment["id"], Pagination(10, 0))
        )

    assert refund_amounts(db) == []


def test_a_refund_is_read_only_by_its_merchant(api_runtime, db):
    created = refund(api_runtime, paid(api_runtime, db)["id"], 100)

    with pytest.raises(RefundNotFound):
        api_runtime.run(
            service.get_refund(api_runtime.db, other_merchant_id(api_runtime), created["id"])
        )


def test_a_refund_wakes_the_refund_worker_and_is_announced_after_commit(
    api_runtime, db, redis, webhook_url, database_url
):
    payment = paid(api_runtime, db)

    with listening(database_url, REFUNDS_QUEUE, WEBHOOKS_QUEUE) as heard:
        created = refund(api_runtime, payment["id"], 100)
        channels = heard(0.5)

    # Through PostgreSQL: the workers' sweeps hear it; the API queues nothing in Redis.
    assert channels == {due_channel(REFUNDS_QUEUE), due_channel(WEBHOOKS_QUEUE)}
    assert Queue(REFUNDS_QUEUE, connection=redis).count == 0
    row = db.execute(
        "SELECT payload::jsonb -> 'data' -> 'refund' ->> 'id' AS refund_id FROM webhook_logs"
        " WHERE event = 'refund.created'"
    ).fetchone()
    assert row == {"refund_id": created["id"]}


def test_refunds_of_a_payment_are_listed_newest_first(api_runtime, db):
    payment = paid(api_runtime, db)
    amounts = [100, 200, 300]
    for amount in amounts:
        refund(api_runtime, payment["id"], amount)

    page = api_runtime.run(
        service.list_payment_refunds(
            api_runtime.db, TEST_MERCHANT_ID, payment["id"], Pagination(2, 0)
        )
    )

    assert [row.amount for row in page["data"]] == [300, 200]
    assert page["total"] == 3
