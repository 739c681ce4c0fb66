"""Server-side sessions in Redis.

The cookie holds only a random id; Redis keys are its SHA-256, so a copy of Redis yields no
usable cookie. The merchant's API key and secret stay in Redis, never in the browser. Every
session, even before login, has its own CSRF token, checked on every POST.
"""

import hashlib
import json
import re
import secrets
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis

from dashboard.gateway import ApiError, Credentials
from shared.domain.seed import TEST_MERCHANT_ID

SESSION_COOKIE = "gw_session"
KEY_PREFIX = "dashboard:session:"
# A visitor who has not logged in only needs the session for the login form's CSRF token.
ANONYMOUS_TTL_SECONDS = 3600
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class SessionMerchant:
    id: str
    name: str
    email: str
    api_key: str
    api_secret: str
    # After a rotation from this session: until when the replaced secret still works.
    previous_secret_expires_at: str | None = None

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.api_key, self.api_secret)

    @property
    def has_test_keys(self) -> bool:
        """A merchant on test keys (`key_test_…`), shown as "Test keys": not TEST_MODE, which
        is how the simulated bank decides payments."""
        return self.api_key.startswith("key_test_")

    @property
    def is_open_test_merchant(self) -> bool:
        """The seeded merchant, which logs in with any password (docs/api.md#test-merchant)."""
        return self.id == TEST_MERCHANT_ID

    def __repr__(self) -> str:
        return f"SessionMerchant(id={self.id!r}, email={self.email!r})"

    @classmethod
    def from_api(cls, profile: dict[str, Any]) -> "SessionMerchant":
        return cls(
            id=str(profile["id"]),
            name=str(profile["name"]),
            email=str(profile["email"]),
            api_key=str(profile["api_key"]),
            api_secret=str(profile["api_secret"]),
        )


@dataclass
class Session:
    id: str
    csrf_token: str
    merchant: SessionMerchant | None = None
    flashes: list[dict[str, str]] = field(default_factory=list)
    # Where to go after logging in, when a page behind login sent the visitor to /login.
    next_path: str | None = None
    # Not stored: whether the response must set the cookie.
    is_new: bool = False

    def flash(self, kind: str, text: str) -> None:
        """A message for the next page shown (after a redirect)."""
        self.flashes.append({"kind": kind, "text": text})

    async def flash_outcome(self, action: Awaitable[Any], success: str, failure: str) -> None:
        """Await the merchant's action on the API and flash how it went: `success`, or, when
        the API refuses it (400, 409, 422), "`failure`: its description". Anything else (the
        API down, a 404) propagates to the error pages."""
        try:
            await action
        except ApiError as exc:
            if not exc.refused:
                raise
            self.flash("error", f"{failure}: {exc.sentence}")
        else:
            self.flash("success", success)

    def csrf_matches(self, submitted: str | None) -> bool:
        return bool(submitted) and secrets.compare_digest(
            self.csrf_token.encode(), str(submitted).encode()
        )

    def _stored(self) -> str:
        return json.dumps(
            {
                "csrf_token": self.csrf_token,
                "merchant": asdict(self.merchant) if self.merchant else None,
                "flashes": self.flashes,
                "next_path": self.next_path,
            }
        )


def _key(session_id: str) -> str:
    return KEY_PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(self, redis: Redis, idle_seconds: int):
        self.redis = redis
        self.idle_seconds = idle_seconds

    def _ttl(self, session: Session) -> int:
        return self.idle_seconds if session.merchant else ANONYMOUS_TTL_SECONDS

    async def load(self, session_id: str | None) -> Session | None:
        if not session_id or not SESSION_ID.match(session_id):
            return None
        # Read and extend in one step: an active merchant stays logged in.
        raw = await self.redis.getex(_key(session_id), ex=self.idle_seconds)
        if raw is None:
            return None
        stored = json.loads(raw)
        merchant = stored.get("merchant")
        session = Session(
            id=session_id,
            csrf_token=stored["csrf_token"],
            merchant=SessionMerchant(**merchant) if merchant else None,
            flashes=list(stored.get("flashes") or []),
            next_path=stored.get("next_path"),
        )
        if session.merchant is None:
            await self.redis.expire(_key(session_id), ANONYMOUS_TTL_SECONDS)
        return session

    async def start(self, merchant: SessionMerchant | None = None) -> Session:
        """A new session with a new id and CSRF token (also at login: no session fixation)."""
        session = Session(
            id=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(32),
            merchant=merchant,
            is_new=True,
        )
        await self.save(session)
        return session

    async def save(self, session: Session) -> None:
        await self.redis.set(_key(session.id), session._stored(), ex=self._ttl(session))

    async def end(self, session: Session) -> None:
        await self.redis.delete(_key(session.id))
