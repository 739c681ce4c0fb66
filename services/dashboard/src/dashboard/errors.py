"""What the merchant sees when something goes wrong: a page in words, never a trace."""

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dashboard.dependencies import (
    CsrfRejected,
    LoginRequired,
    current_session,
    visitor_session,
)
from dashboard.gateway import ApiError, ApiUnavailable
from dashboard.rendering import redirect, render

log = structlog.get_logger(__name__)


async def error_page(
    request: Request,
    status_code: int,
    title: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    context = {"title": title, "message": message, "status_code": status_code}
    try:
        # Unknown routes run no dependency; the page still shows who is logged in.
        await current_session(request)
    except RedisError:
        request.state.session = None
    return await render(request, "error.html", context, status_code=status_code, headers=headers)


def _plain_error(status_code: int, message: str) -> HTMLResponse:
    # Used when Redis itself is down: rendering the layout needs no session then.
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Dashboard unavailable</title></head><body><main><h1>Dashboard unavailable</h1>"
        f"<p>{message}</p><p><a href='/dashboard'>Try again</a></p></main></body></html>"
    )
    return HTMLResponse(body, status_code=status_code)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def on_login_required(request: Request, exc: LoginRequired) -> Response:
        # The way back is kept in the visitor's session, so /login stays a plain address.
        session = await visitor_session(request)
        session.next_path = exc.next_path
        return await redirect(request, session, "/login")

    @app.exception_handler(CsrfRejected)
    async def on_csrf_rejected(request: Request, exc: CsrfRejected) -> Response:
        log.warning("csrf_rejected", path=request.url.path)
        return await error_page(
            request,
            403,
            "This form has expired",
            "The form was not sent from this dashboard, or your session ended. "
            "Go back, reload the page and try again.",
        )

    @app.exception_handler(ApiUnavailable)
    async def on_api_unavailable(request: Request, exc: ApiUnavailable) -> Response:
        return await error_page(
            request,
            503,
            "The payment gateway is not answering",
            "We could not reach the gateway API. Your data is safe; try again in a moment.",
        )

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> Response:
        session = getattr(request.state, "session", None)
        if exc.status_code == 401 and session is not None and session.merchant is not None:
            # The merchant's keys no longer work (changed or removed): log in again.
            sessions = request.app.state.sessions
            await sessions.end(session)
            fresh = await sessions.start()
            fresh.flash("error", "Your session is no longer valid. Please log in again.")
            return await redirect(request, fresh, "/login")
        if exc.status_code == 404:
            return await error_page(request, 404, "Not found", exc.description)
        if exc.status_code == 429:
            return await error_page(
                request, 429, "Too many attempts", exc.wait_sentence, exc.retry_headers
            )
        return await error_page(request, 400, "The gateway refused the request", exc.description)

    @app.exception_handler(RequestValidationError)
    async def on_bad_query(request: Request, exc: RequestValidationError) -> Response:
        return await error_page(
            request, 400, "That address is not valid", "Some of its values are out of range."
        )

    @app.exception_handler(RedisError)
    async def on_redis_down(request: Request, exc: RedisError) -> Response:
        log.warning("redis_unavailable", error=str(exc))
        return _plain_error(503, "Sessions are unavailable right now. Try again in a moment.")

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return await error_page(
                request, 404, "Page not found", "There is no page at this address."
            )
        if exc.status_code == 405:
            return await error_page(
                request, 405, "Not allowed", "This address does not accept that request."
            )
        return await error_page(request, exc.status_code, "Request refused", str(exc.detail))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path)
        return _plain_error(500, "Something went wrong on our side. Please try again.")
