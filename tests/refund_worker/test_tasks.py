from factories import events_of, successful_payment
from refund_worker.tasks import finalize_due_refunds


def refund(client, headers, payment_id, **body):
    return client.post(f"/api/v1/payments/{payment_id}/refunds", json=body, headers=headers)


def test_refund_is_processed_and_counted_on_the_payment(
    client, merchant_headers, db, worker_env, webhook_url
):
    payment = successful_payment(client, merchant_headers, db, amount=50000)
    created = refund(client, merchant_headers, payment["id"], amount=20000, reason="damaged").json()

    assert finalize_due_refunds() == 1

    fetched = client.get(f"/api/v1/refunds/{created['id']}", headers=merchant_headers).json()
    assert fetched["status"] == "processed" and fetched["processed_at"].endswith("Z")
    paid = client.get(f"/api/v1/payments/{payment['id']}", headers=merchant_headers).json()
    assert paid["amount_refunded"] == 20000
    processed = events_of(db, "refund.processed")
    assert len(processed) == 1
    assert processed[0]["body"]["data"]["refund"]["id"] == created["id"]
    assert [e["event"] for e in events_of(db, "refund.created")] == ["refund.created"]


def test_partial_refunds_add_up_to_the_payment(client, merchant_headers, db, worker_env):
    payment = successful_payment(client, merchant_headers, db, amount=30000)
    for _ in range(3):
        assert refund(client, merchant_headers, payment["id"], amount=10000).status_code == 201
    finalize_due_refunds()

    paid = client.get(f"/api/v1/payments/{payment['id']}", headers=merchant_headers).json()
    assert paid["amount_refunded"] == 30000
    assert refund(client, merchant_headers, payment["id"], amount=1).status_code == 400
