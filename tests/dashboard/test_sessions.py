"""Server-side sessions in Redis: only a hash of the id is stored, idle sessions expire."""

import asyncio
import hashlib
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from dashboard.config import DashboardSettings
from dashboard.main import create_app
from dashboard.sessions import ANONYMOUS_TTL_SECONDS, KEY_PREFIX, SessionMerchant, SessionStore
from devstack.embedded import start_redis
from live import LiveProcess, free_port

MERCHANT = SessionMerchant(
    id="550e8400-e29b-41d4-a716-446655440000",
    name="Test Merchant",
    email="test@example.com",
    api_key="key_test_abc123",
    api_secret="secret_test_xyz789",
)


def run(coroutine_factory, redis_url: str):
    async def with_store():
        redis = Redis.from_url(redis_url)
        try:
            return await coroutine_factory(SessionStore(redis, idle_seconds=600), redis)
        finally:
            await redis.aclose()

    # A thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, with_store()).result()


def test_redis_holds_a_hash_of_the_id_and_the_keys_only_server_side(redis_url, redis):
    async def scenario(store: SessionStore, client: Redis):
        session = await store.start(MERCHANT)
        keys = [key.decode() for key in await client.keys(f"{KEY_PREFIX}*")]
        stored = json.loads(await client.get(keys[0]))
        ttl = await client.ttl(keys[0])
        loaded = await store.load(session.id)
        return session, keys, stored, ttl, loaded

    session, keys, stored, ttl, loaded = run(scenario, redis_url)
    assert keys == [KEY_PREFIX + hashlib.sha256(session.id.encode()).hexdigest()]
    assert session.id not in keys[0]
    assert stored["merchant"]["api_secret"] == "secret_test_xyz789"
    assert 590 <= ttl <= 600
    assert loaded.merchant == MERCHANT and loaded.csrf_token == session.csrf_token


def test_visitor_sessions_live_an_hour_and_unknown_ids_load_nothing(redis_url, redis):
    async def scenario(store: SessionStore, client: Redis):
        visitor = await store.start()
        await store.load(visitor.id)  # reading it does not stretch it to the merchant's TTL
        ttl = await client.ttl(KEY_PREFIX + hashlib.sha256(visitor.id.encode()).hexdigest())
        unknown = await store.load("A" * 43)
        malformed = await store.load("../../etc/passwd")
        await store.end(visitor)
        ended = await store.load(visitor.id)
        return ttl, unknown, malformed, ended

    ttl, unknown, malformed, ended = run(scenario, redis_url)
    assert ANONYMOUS_TTL_SECONDS - 10 <= ttl <= ANONYMOUS_TTL_SECONDS
    assert unknown is None and malformed is None and ended is None


def test_the_cookie_is_secure_over_https(redis_url, redis):
    settings = DashboardSettings(
        redis_url=redis_url, api_url="http://api.test", log_level="warning"
    )

    def no_api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"code": "NOT_FOUND_ERROR",
                                                   "description": "Route not found"}})  # fmt: skip

    app = create_app(settings, api_transport=httpx.MockTransport(no_api))
    with TestClient(app, base_url="https://dashboard.test") as client:
        cookie = client.get("/login").headers["set-cookie"].lower()
    assert "secure" in [part.strip() for part in cookie.split(";")]
    assert "httponly" in cookie and "samesite=lax" in cookie


@pytest.mark.slow
@pytest.mark.browser
def test_a_logged_in_merchant_stays_logged_in_across_a_restart_of_make_runs_redis(
    start_service, service_env, page, tmp_path
):
    # make run's Redis kept nothing on disk: every restart logged every dashboard user out.
    own_redis = start_redis(tmp_path, durable=True)  # as make run starts it
    port = urlsplit(own_redis.url).port
    dashboard = None
    try:
        api = start_service("api", REDIS_URL=own_redis.url)
        dashboard_port = free_port()
        dashboard = LiveProcess(
            "dashboard",
            [sys.executable, "-m", "dashboard"],
            service_env | {"REDIS_URL": own_redis.url, "API_URL": api.url,
                           "PORT": str(dashboard_port), "HOST": "127.0.0.1"},
            f"http://127.0.0.1:{dashboard_port}",
        )  # fmt: skip
        dashboard.wait_until_healthy(path="/livez")
        page.goto(f"{dashboard.url}/login")
        page.fill('[data-test-id="email-input"]', "test@example.com")
        page.fill('[data-test-id="password-input"]', "any password")
        page.click('[data-test-id="login-button"]')
        page.wait_for_url(f"{dashboard.url}/dashboard")

        own_redis.stop()
        own_redis = start_redis(tmp_path, port=port, durable=True)

        page.reload()
        assert page.url == f"{dashboard.url}/dashboard"
        page.locator('[data-test-id="api-credentials"]').wait_for()
        with SyncRedis.from_url(own_redis.url) as client:
            [key] = client.keys(f"{KEY_PREFIX}*")
            # Its expiry came through the restart too: still the idle timeout, not forever.
            assert (
                0
                < client.ttl(key)
                <= DashboardSettings.model_fields["session_idle_seconds"].default
            )
    finally:
        if dashboard is not None:
            dashboard.stop()
        own_redis.stop()
