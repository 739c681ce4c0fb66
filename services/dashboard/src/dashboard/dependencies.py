"""Request dependencies: settings, the API client, the session, a merchant's page, login, CSRF."""

import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Form, Path, Request

from dashboard.config import DashboardSettings
from dashboard.gateway import ApiCall, ApiError, GatewayClient
from dashboard.sessions import SESSION_COOKIE, Session, SessionMerchant, SessionStore

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
FormText = Annotated[str, Form()]


class LoginRequired(Exception):
    """The page needs a logged-in merchant; the visitor goes to /login and comes back."""

    def __init__(self, next_path: str):
        self.next_path = next_path


class CsrfRejected(Exception):
    """A POST without this session's CSRF token: forged, or from an expired page."""


def get_settings(request: Request) -> DashboardSettings:
    return request.app.state.settings


def get_gateway(request: Request) -> GatewayClient:
    return request.app.state.gateway


def get_sessions(request: Request) -> SessionStore:
    return request.app.state.sessions


SettingsDep = Annotated[DashboardSettings, Depends(get_settings)]
GatewayDep = Annotated[GatewayClient, Depends(get_gateway)]
SessionStoreDep = Annotated[SessionStore, Depends(get_sessions)]


async def current_session(request: Request) -> Session | None:
    if not hasattr(request.state, "session"):
        store: SessionStore = request.app.state.sessions
        request.state.session = await store.load(request.cookies.get(SESSION_COOKIE))
    return request.state.session


async def visitor_session(request: Request) -> Session:
    """The visitor's session, started now if there is none (login and sign-up forms)."""
    session = await current_session(request)
    if session is None:
        session = await request.app.state.sessions.start()
        request.state.session = session
    return session


async def merchant_session(request: Request) -> Session:
    session = await current_session(request)
    if session is None or session.merchant is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    return session


async def csrf_guard(request: Request) -> None:
    """Applied to every route: a state-changing request must carry the session's token."""
    if request.method in SAFE_METHODS:
        return
    session = await current_session(request)
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    if session is None or not isinstance(submitted, str) or not session.csrf_matches(submitted):
        raise CsrfRejected()


VisitorDep = Annotated[Session, Depends(visitor_session)]
MerchantSessionDep = Annotated[Session, Depends(merchant_session)]


@dataclass(frozen=True, slots=True)
class MerchantPage:
    """A logged-in merchant's request: the `request`, its `session`, the session's `merchant`,
    and `api`, the gateway's namespaces called with that merchant's keys
    (`await page.api.payments.get(payment_id)`)."""

    request: Request
    session: Session
    merchant: SessionMerchant
    api: ApiCall


async def merchant_page(
    request: Request, session: MerchantSessionDep, gateway: GatewayDep
) -> MerchantPage:  # no I/O: no thread
    """Raises LoginRequired (through `merchant_session`) for a visitor who is not logged in."""
    merchant = session.merchant
    assert merchant is not None
    return MerchantPage(request, session, merchant, gateway.api(merchant.credentials))


PageDep = Annotated[MerchantPage, Depends(merchant_page)]


def id_in_path(name: str, pattern: re.Pattern[str], not_found: str) -> Any:
    """A dependency reading path parameter `name`: the id when it matches `pattern` (the API's
    shape of it), else the API's own 404 (`not_found`) without asking it. Declare it after
    `PageDep`, so that a visitor who is not logged in still goes to the login first."""

    async def known_id(value: Annotated[str, Path(alias=name)]) -> str:  # no I/O: no thread
        if not pattern.match(value):
            raise ApiError(404, "NOT_FOUND_ERROR", not_found)
        return value

    return Depends(known_id)


def safe_next_path(candidate: str | None, default: str = "/dashboard", within: str = "/") -> str:
    """Only a path on this site, and below `within`, else `default`: never an open redirect
    to another host."""
    if not candidate or not candidate.startswith(within):
        return default
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc or not candidate.startswith("/") or candidate.startswith("//"):
        return default
    if "\\" in candidate or any(ord(char) < 32 for char in candidate):
        return default
    return candidate
