"""AdmissionMiddleware: at most `limit` requests in the handlers at once, the rest admitted in
their order of arrival; probes never wait; a request outside its place (`outside_place`) lets
the next one in."""

import asyncio

import pytest

from api.middleware import AdmissionMiddleware, outside_place


def http_scope(path: str) -> dict:
    return {"type": "http", "method": "POST", "path": path, "headers": []}


def test_requests_beyond_the_limit_wait_their_turn_in_order_and_probes_never_wait():
    asyncio.run(_beyond_the_limit())


async def _beyond_the_limit() -> None:
    inside: list[str] = []
    most_inside = 0
    entered: list[str] = []
    release = asyncio.Event()

    async def app(scope, receive, send) -> None:
        nonlocal most_inside
        inside.append(scope["path"])
        entered.append(scope["path"])
        most_inside = max(most_inside, len([p for p in inside if p != "/livez"]))
        if scope["path"] != "/livez":
            await release.wait()
        inside.remove(scope["path"])

    admission = AdmissionMiddleware(app, limit=2, exempt=("/livez",))

    async def nothing() -> dict:
        return {"type": "http.request", "body": b""}

    async def discard(message) -> None:
        return None

    requests = []
    for number in range(5):
        requests.append(asyncio.create_task(admission(http_scope(f"/r{number}"), nothing, discard)))
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert entered == ["/r0", "/r1"]  # the other three wait before any work of theirs

    # Both places taken: a probe still answers at once.
    await asyncio.wait_for(admission(http_scope("/livez"), nothing, discard), timeout=1)

    release.set()
    await asyncio.wait_for(asyncio.gather(*requests), timeout=5)
    assert most_inside == 2
    assert entered == ["/r0", "/r1", "/livez", "/r2", "/r3", "/r4"]


def test_a_request_that_fails_gives_its_place_back():
    asyncio.run(_failing())


async def _failing() -> None:
    async def failing(scope, receive, send) -> None:
        raise RuntimeError("handler failed")

    admission = AdmissionMiddleware(failing, limit=1)

    async def nothing() -> dict:
        return {"type": "http.request", "body": b""}

    async def discard(message) -> None:
        return None

    for _ in range(3):  # with its place kept, the second would wait for ever
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(admission(http_scope("/r"), nothing, discard), timeout=1)


def test_a_request_outside_its_place_lets_the_next_one_in_and_queues_to_come_back():
    asyncio.run(_outside_place())


async def _outside_place() -> None:
    entered: list[str] = []
    lookup_done = asyncio.Event()
    other_may_finish = asyncio.Event()

    async def app(scope, receive, send) -> None:
        entered.append(scope["path"])
        if scope["path"] == "/slow-lookup":
            async with outside_place():
                await lookup_done.wait()
            entered.append("/slow-lookup is back")
        else:
            await other_may_finish.wait()
            entered.append(f"{scope['path']} done")

    admission = AdmissionMiddleware(app, limit=1)

    async def nothing() -> dict:
        return {"type": "http.request", "body": b""}

    async def discard(message) -> None:
        return None

    slow = asyncio.create_task(admission(http_scope("/slow-lookup"), nothing, discard))
    await asyncio.sleep(0.01)
    other = asyncio.create_task(admission(http_scope("/other"), nothing, discard))
    await asyncio.sleep(0.01)
    assert entered == ["/slow-lookup", "/other"]  # let in while the lookup waits

    lookup_done.set()
    await asyncio.sleep(0.01)
    assert entered == ["/slow-lookup", "/other"]  # the one place is /other's: it waits

    other_may_finish.set()
    await asyncio.wait_for(asyncio.gather(slow, other), timeout=5)
    assert entered == ["/slow-lookup", "/other", "/other done", "/slow-lookup is back"]
    # Both have given their places back: the one place is free again.
    await asyncio.wait_for(admission(http_scope("/other"), nothing, discard), timeout=1)


def test_outside_place_does_nothing_outside_a_request():
    async def outside() -> str:
        async with outside_place():
            return "ran"

    assert asyncio.run(outside()) == "ran"
