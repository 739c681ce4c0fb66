"""Several API processes behind one port (WEB_CONCURRENCY, as `make run` starts the API)."""

import re

import httpx

HISTOGRAM_COUNT = re.compile(
    r'gateway_http_request_duration_seconds_count\{method="GET",route="/api/v1/orders/\{order_id\}",status="404"\} (\S+)'
)


def test_every_scrape_counts_the_requests_of_every_api_process(start_service, merchant_headers):
    api = start_service("api", WEB_CONCURRENCY="2")
    # A new connection each time: the kernel hands them to both processes.
    for _ in range(40):
        with httpx.Client(base_url=api.url, headers=merchant_headers, timeout=10) as http:
            assert http.get("/api/v1/orders/order_AAAAAAAAAAAAAAAA").status_code == 404
    counts = []
    for _ in range(10):
        with httpx.Client(base_url=api.url, timeout=10) as http:
            match = HISTOGRAM_COUNT.search(http.get("/metrics").text)
        assert match, "the histogram is missing from a scrape"
        counts.append(float(match.group(1)))

    assert counts == [40.0] * 10
