from factories import create_order, create_payment, upi_payment_body


def test_request_latency_is_recorded_by_route_template(client, merchant_headers):
    order = create_order(client, merchant_headers)
    client.get(f"/api/v1/orders/{order['id']}", headers=merchant_headers)
    client.get("/api/v1/orders/order_AAAAAAAAAAAAAAAA", headers=merchant_headers)

    text = client.get("/metrics").text

    assert (
        'gateway_http_request_duration_seconds_count{method="GET",route="/api/v1/orders/{order_id}",status="200"} 1.0'
        in text
    )
    assert 'route="/api/v1/orders/{order_id}",status="404"} 1.0' in text
    assert order["id"] not in text  # ids never become label values


def test_queue_depth_and_workers_are_read_at_scrape_time(client, merchant_headers):
    order = create_order(client, merchant_headers)
    create_payment(client, merchant_headers, upi_payment_body(order["id"]))

    text = client.get("/metrics").text

    assert 'gateway_queue_pending{queue="payments"} 1.0' in text
    assert 'gateway_queue_workers{queue="payments"} 0.0' in text


def test_metrics_are_not_in_the_public_api_document(client):
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]
