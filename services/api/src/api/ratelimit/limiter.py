"""Rate limits held in Redis with the `limits` library, so they hold across API replicas.

Two of its strategies, each where it fits:
- moving window for the abuse limits (failed logins, sign-ups, public payments, failed cards):
  exact, with no burst of twice the limit at a window's edge for an attacker to time, and a
  Retry-After that says when the oldest counted attempt leaves the window. It keeps one Redis
  list entry per counted attempt, so it suits these small limits.
- fixed window for the per-API-key limit: one INCR per request on the hot path; the burst it
  allows at a window's edge is harmless for a throughput cap.

When Redis cannot be reached, limits fail open: the request goes on, a warning is logged and
`gateway_rate_limit_unavailable_total` counts it. A Redis outage must not stop payments.
"""

import hashlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import structlog
from limits import RateLimitItem
from limits.aio.storage import RedisStorage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.errors import StorageError
from prometheus_client import CollectorRegistry, Counter

from api.config import ApiSettings
from api.errors import RateLimited

log = structlog.get_logger(__name__)

# Short: a limit that cannot answer at once lets the request through rather than slowing it.
REDIS_TIMEOUT_S = 0.5
# After Redis fails, limits skip it this long rather than make every request wait a timeout.
SKIP_AFTER_FAILURE_S = 1.0
T = TypeVar("T")


@dataclass(frozen=True)
class Rule:
    """One limit: its settings name (RATE_LIMIT_<NAME>), what it counts, in the words of its
    429 description, and its strategy."""

    name: str
    counts: str
    fixed_window: bool = False


# Per email *from one address*: counted per email alone, anyone's guesses would refuse the
# merchant's own right password too, and five wrong guesses every 15 minutes from anywhere
# would keep a merchant out for good (docs/api.md#rate-limits: "never lock out another
# merchant"). Guessing one account from many addresses meets each address's own limit
# (LOGIN_FAILURES_PER_ADDRESS).
LOGIN_FAILURES_PER_EMAIL = Rule(
    "login_failures_per_email", "failed logins for this email from this address"
)
LOGIN_FAILURES_PER_ADDRESS = Rule("login_failures_per_address", "failed logins from this address")
SIGNUPS_PER_ADDRESS = Rule("signups_per_address", "sign-ups from this address")
PUBLIC_PAYMENTS_PER_ADDRESS = Rule(
    "public_payments_per_address", "payment attempts from this address"
)
PUBLIC_PAYMENTS_PER_ORDER = Rule("public_payments_per_order", "payment attempts for this order")
CARD_FAILURES_PER_ORDER = Rule("card_failures_per_order", "failed card attempts for this order")
API_REQUESTS_PER_KEY = Rule("api_requests_per_key", "requests with this API key", True)
RULES = (
    LOGIN_FAILURES_PER_EMAIL, LOGIN_FAILURES_PER_ADDRESS, SIGNUPS_PER_ADDRESS,
    PUBLIC_PAYMENTS_PER_ADDRESS, PUBLIC_PAYMENTS_PER_ORDER, CARD_FAILURES_PER_ORDER,
    API_REQUESTS_PER_KEY,
)  # fmt: skip


class RateLimiter:
    """The process's limits. `hit` counts and refuses over the limit; `check` refuses when the
    limit is used up without counting; `record` counts without refusing. Each raises
    RateLimited (429 RATE_LIMIT_ERROR with Retry-After in whole seconds)."""

    def __init__(self, settings: ApiSettings, registry: CollectorRegistry):
        self.limits: dict[str, RateLimitItem | None] = {
            rule.name: settings.rate_limit(rule.name) for rule in RULES
        }
        # limits' asyncio API on redis-py's asyncio client: awaited on the event loop.
        self.storage = RedisStorage(
            "async+" + settings.redis_url,
            implementation="redispy",
            key_prefix="gateway:ratelimit",
            wrap_exceptions=True,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
        )
        self.trusted_proxies = settings.trusted_proxy_networks
        self.service_secret = settings.service_secret
        self._skip_redis_until = 0.0
        self.moving = MovingWindowRateLimiter(self.storage)
        self.fixed = FixedWindowRateLimiter(self.storage)
        self.refused = Counter(
            "gateway_rate_limited_requests_total",
            "Requests refused with 429, by limit",
            ["limit"],
            registry=registry,
        )
        self.unavailable = Counter(
            "gateway_rate_limit_unavailable_total",
            "Limit checks skipped (failed open) because Redis could not be reached, by limit",
            ["limit"],
            registry=registry,
        )

    async def hit(self, rule: Rule, identity: str) -> None:
        await self._apply(rule, identity, count=True, refuse=True)

    async def check(self, rule: Rule, identity: str) -> None:
        await self._apply(rule, identity, count=False, refuse=True)

    async def record(self, rule: Rule, identity: str) -> None:
        await self._apply(rule, identity, count=True, refuse=False)

    async def clear(self, rule: Rule, identity: str) -> None:
        limit = self.limits[rule.name]
        if limit is not None:
            clear = partial(self.moving.clear, limit, rule.name, _key(identity))
            await self._failing_open(rule, clear, None)

    async def close(self) -> None:
        bridge = self.storage.bridge
        assert isinstance(bridge, RedispyBridge)
        await bridge.storage.aclose()

    async def _apply(self, rule: Rule, identity: str, *, count: bool, refuse: bool) -> None:
        limit = self.limits[rule.name]
        if limit is None:
            return
        strategy = self.fixed if rule.fixed_window else self.moving
        key = _key(identity)
        apply = strategy.hit if count else strategy.test
        if (
            await self._failing_open(rule, partial(apply, limit, rule.name, key), True)
            or not refuse
        ):
            return
        window = partial(strategy.get_window_stats, limit, rule.name, key)
        stats = await self._failing_open(rule, window, None)
        reset_at = stats.reset_time if stats else time.time() + limit.get_expiry()
        # Redis reports a fixed window's TTL in whole seconds, rounded: one more second makes
        # sure a client that waits Retry-After is let through.
        rounding = 1 if rule.fixed_window else 0
        retry_after = max(1, math.ceil(reset_at - time.time()) + rounding)
        self.refused.labels(rule.name).inc()
        raise RateLimited(
            f"Too many {rule.counts}: retry after {retry_after} seconds",
            headers={"Retry-After": str(retry_after)},
        )

    async def _failing_open(self, rule: Rule, call: Callable[[], Awaitable[T]], fallback: T) -> T:
        """await call(), or `fallback` when Redis cannot be reached (logged and counted)."""
        if time.monotonic() < self._skip_redis_until:
            self.unavailable.labels(rule.name).inc()
            return fallback
        try:
            return await call()
        except StorageError as exc:
            self._skip_redis_until = time.monotonic() + SKIP_AFTER_FAILURE_S
            self.unavailable.labels(rule.name).inc()
            log.warning("rate_limit_unavailable", limit=rule.name, error=str(exc.storage_error))
            return fallback


def _key(identity: str) -> str:
    # Hashed: no email or address in Redis keys, and a bounded key length.
    return hashlib.sha256(identity.encode()).hexdigest()[:32]
