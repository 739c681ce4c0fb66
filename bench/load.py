"""A closed-loop load generator: N concurrent clients, each creating an order then a payment."""

import asyncio
import time

import httpx

from bench.stats import percentiles

HEADERS = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}


async def _client_loop(
    http: httpx.AsyncClient, deadline: float, samples: dict[str, list[float]], errors: list[str]
) -> None:
    while time.monotonic() < deadline:
        started = time.perf_counter()
        order = await http.post("/api/v1/orders", json={"amount": 50000})
        order_done = time.perf_counter()
        if order.status_code != 201:
            errors.append(f"order {order.status_code}")
            continue
        body = {"order_id": order.json()["id"], "method": "upi", "vpa": "bench@upi"}
        payment = await http.post("/api/v1/payments", json=body)
        done = time.perf_counter()
        if payment.status_code != 201:
            errors.append(f"payment {payment.status_code}")
            continue
        samples["order"].append((order_done - started) * 1000)
        samples["payment"].append((done - order_done) * 1000)


async def closed_loop(api_url: str, concurrency: int, seconds: float) -> dict:
    samples: dict[str, list[float]] = {"order": [], "payment": []}
    errors: list[str] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=api_url, headers=HEADERS, limits=limits, timeout=30
    ) as http:
        await http.get("/health")
        deadline = time.monotonic() + seconds
        started = time.monotonic()
        await asyncio.gather(
            *(_client_loop(http, deadline, samples, errors) for _ in range(concurrency))
        )
        elapsed = time.monotonic() - started
    requests = samples["order"] + samples["payment"]
    return {
        "concurrency": concurrency,
        "seconds": round(elapsed, 1),
        "orders_per_s": round(len(samples["order"]) / elapsed, 1),
        "payments_per_s": round(len(samples["payment"]) / elapsed, 1),
        "requests_per_s": round(len(requests) / elapsed, 1),
        "order_ms": percentiles(samples["order"]),
        "payment_ms": percentiles(samples["payment"]),
        "all_ms": percentiles(requests),
        "errors": len(errors),
    }


async def open_loop_payments(api_url: str, per_second: float, seconds: float) -> list[str]:
    """Create payments at a fixed arrival rate (not waiting for answers); return their ids."""
    ids: list[str] = []
    count = int(per_second * seconds)
    async with httpx.AsyncClient(base_url=api_url, headers=HEADERS, timeout=30) as http:
        # One order per payment: a paid order refuses further payments.
        orders = [
            (await http.post("/api/v1/orders", json={"amount": 50000})).json() for _ in range(count)
        ]

        async def create(order: dict) -> None:
            body = {"order_id": order["id"], "method": "upi", "vpa": "bench@upi"}
            response = await http.post("/api/v1/payments", json=body)
            if response.status_code == 201:
                ids.append(response.json()["id"])

        tasks = []
        started = time.monotonic()
        for number, order in enumerate(orders):
            await asyncio.sleep(max(0.0, started + number / per_second - time.monotonic()))
            tasks.append(asyncio.create_task(create(order)))
        await asyncio.gather(*tasks)
    return ids
