def test_job_status_shape_without_workers(client):
    response = client.get("/api/v1/test/jobs/status")

    assert response.status_code == 200
    body = response.json()
    for field in ("pending", "processing", "completed", "failed"):
        assert isinstance(body[field], int)
    assert body["worker_status"] == "stopped"
    assert set(body["queues"]) == {"payments", "refunds", "webhooks"}


def test_pending_counts_work_waiting_in_postgres(client, merchant_headers):
    from factories import create_order, create_payment, upi_payment_body

    order = create_order(client, merchant_headers)
    create_payment(client, merchant_headers, upi_payment_body(order["id"]))

    body = client.get("/api/v1/test/jobs/status").json()
    assert body["pending"] == 1 and body["queues"]["payments"]["pending"] == 1
