"""Pages: the Jinja environment, the filters that turn API values into words, `render`, and
`redirect` after a form."""

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple

import regex
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from dashboard.endpoint_views import auto_disabled, endpoints_with_health
from dashboard.gateway import ApiError, ApiUnavailable
from dashboard.sessions import SESSION_COOKIE, Session
from shared.core.money import format_inr

PACKAGE_DIR = Path(__file__).parent
STATIC_DIR = PACKAGE_DIR / "static"
# Indian merchants read Indian time; IST has no daylight saving, so a fixed offset is exact.
IST = timezone(timedelta(hours=5, minutes=30), "IST")

templates = Jinja2Templates(directory=PACKAGE_DIR / "templates")

# The banner's endpoints (those the gateway disabled by itself) are kept in Redis this long per
# merchant, so a page costs no API call for them: one the gateway disables shows within this
# time; a page that lists the endpoints anyway (webhooks, docs) and the merchant's own status
# changes bring it up to date at once.
BANNER_CACHE_SECONDS = 30
BANNER_KEY = "dashboard:disabled-endpoints:"


class FormProblem(NamedTuple):
    """Why a form is shown again: `sentence` above or below it, and `field`, the name of the
    form field at fault (its input is marked `aria-invalid`), None when no single field is (a
    refusal about the resource's state, like a payment refunded in full meanwhile)."""

    sentence: str
    field: str | None = None


def form_problem(exc: ApiError, labels: dict[str, str]) -> FormProblem:
    """The API's refusal (a 400 naming `field`, docs/api.md#errors) in the form's words: a
    sentence that starts with the API's name of the field starts with the form's label instead
    ("reason must not ..." becomes "Reason must not ..."). Rules the form does not check itself
    (direction controls, docs/api.md#shown-text) are the API's alone, told as it tells them."""
    sentence = exc.sentence
    if exc.field in labels:
        sentence = re.sub(rf"^{re.escape(exc.field)}\b", labels[exc.field], sentence)
    return FormProblem(sentence, exc.field)


# One user-perceived character: an emoji with its modifiers, a flag, a letter with its accents.
GRAPHEME = regex.compile(r"\X")


def cut_text(text: str | None, limit: int, end: str = "") -> str:
    """`text` cut to at most `limit` code points (what the API's length rules count), always
    between two graphemes: never half an emoji or flag, never a letter without its accent.
    `end` (like "…") is added when something was cut and counts toward the limit."""
    text = text or ""
    if len(text) <= limit:
        return text
    room = limit - len(end)
    kept: list[str] = []
    for grapheme in GRAPHEME.findall(text):
        room -= len(grapheme)
        if room < 0:
            break
        kept.append(grapheme)
    return "".join(kept) + end


def inr(paise: int | None) -> str:
    return "—" if paise is None else format_inr(int(paise))


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{float(rate):.2f}%"


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_time(value: str | None) -> str:
    """ISO-8601 from the API -> '15 Jan 2024, 04:01 PM IST'."""
    moment = parse_time(value)
    if moment is None:
        return value or "—"
    return moment.astimezone(IST).strftime("%d %b %Y, %I:%M:%S %p IST")


def duration(seconds: int) -> str:
    """`seconds` in the largest unit that divides it, days only from two on: 86400 ->
    '24 hours', 172800 -> '2 days', 1800 -> '30 minutes', 90 -> '90 seconds'."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        smallest = 2 * size if unit == "day" else size
        if seconds >= smallest and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


STATUS_TONES = {
    "success": "success",
    "processed": "success",
    "paid": "success",
    "failed": "danger",
    "pending": "warning",
    "created": "neutral",
    "enabled": "success",
    "disabled": "danger",
}


def status_tone(status: str | None) -> str:
    return STATUS_TONES.get(status or "", "neutral")


def _static_versions() -> dict[str, str]:
    # A content hash in each asset URL, so a new release is never served from a stale cache.
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in STATIC_DIR.iterdir()
        if path.is_file()
    }


_VERSIONS = _static_versions()


def static_url(name: str) -> str:
    return f"/static/{name}?v={_VERSIONS.get(name, '0')}"


templates.env.filters.update(
    inr=inr,
    percent=percent,
    local_time=local_time,
    tone=status_tone,
    cut=cut_text,
    duration=duration,
)
templates.env.globals.update(static_url=static_url)


def set_session_cookie(request: Request, response: Response, session: Session) -> None:
    settings = request.app.state.settings
    secure = settings.cookie_secure
    if secure is None:
        secure = request.url.scheme == "https"
    # No Max-Age: the browser forgets it on exit; Redis expires it after idle time anyway.
    response.set_cookie(
        SESSION_COOKIE, session.id, path="/", httponly=True, samesite="lax", secure=secure
    )


async def auto_disabled_endpoints(
    request: Request, session: Session | None
) -> list[dict[str, Any]]:
    """The logged-in merchant's endpoints that the gateway disabled by itself, for the banner
    every page shows: from Redis when read within BANNER_CACHE_SECONDS, else from the API;
    none when nobody is logged in or the API cannot say."""
    if session is None or session.merchant is None:
        return []
    cached = await request.app.state.redis.get(BANNER_KEY + session.merchant.id)
    if cached is not None:
        banner: list[dict[str, Any]] = json.loads(cached)
        return banner
    try:
        endpoints = await endpoints_with_health(
            request.app.state.gateway.api(session.merchant.credentials)
        )
    except (ApiError, ApiUnavailable):
        return []  # the page itself reports an API that refuses or is down
    return await remember_disabled_endpoints(request, session.merchant.id, endpoints)


async def remember_disabled_endpoints(
    request: Request, merchant_id: str, endpoints: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The banner's endpoints of a fresh endpoint list, kept for the next pages
    (BANNER_CACHE_SECONDS)."""
    disabled = auto_disabled(endpoints)
    await request.app.state.redis.set(
        BANNER_KEY + merchant_id, json.dumps(disabled), ex=BANNER_CACHE_SECONDS
    )
    return disabled


async def forget_disabled_endpoints(request: Request, merchant_id: str) -> None:
    """After the merchant changed an endpoint's status: the next page reads the API again."""
    await request.app.state.redis.delete(BANNER_KEY + merchant_id)


async def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page `template` with the layout's context (session, flashes, the banner of
    endpoints the gateway disabled); `headers` are added to the response (a 429's
    Retry-After)."""
    session: Session | None = getattr(request.state, "session", None)
    flashes: list[dict[str, str]] = []
    if session is not None and session.flashes:
        flashes, session.flashes = session.flashes, []
        await request.app.state.sessions.save(session)
    context = context or {}
    if "disabled_endpoints" not in context:
        context["disabled_endpoints"] = await auto_disabled_endpoints(request, session)
    page_context = {
        "session": session,
        "merchant": session.merchant if session else None,
        "csrf_token": session.csrf_token if session else "",
        "flashes": flashes,
        "current_path": request.url.path,
        **context,
    }
    response = templates.TemplateResponse(
        request, template, page_context, status_code=status_code, headers=headers
    )
    if session is not None and session.is_new:
        set_session_cookie(request, response, session)
    return response


async def redirect(request: Request, session: Session, path: str) -> RedirectResponse:
    """The answer to a form sent by POST: save `session` (the flash for the next page, the way
    back after login) and send the browser to `path` on this site with 303 See Other, so that
    reloading the page does not send the form again; a session started by this request gets
    its cookie, as `render` gives it."""
    await request.app.state.sessions.save(session)
    response = RedirectResponse(path, status_code=303)
    if session.is_new:
        set_session_cookie(request, response, session)
    return response
