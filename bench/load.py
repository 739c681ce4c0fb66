"""Open-loop payment creation at a fixed rate (the closed-loop load is wrk's: bench.cost)."""

import asyncio
import time

import httpx

HEADERS = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}


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
