"""Login, sign-up and logout. The API checks passwords; the session keeps the keys it returns."""

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dashboard.dependencies import (
    FormText,
    GatewayDep,
    MerchantSessionDep,
    SessionStoreDep,
    VisitorDep,
    safe_next_path,
)
from dashboard.gateway import ApiError
from dashboard.rendering import form_problem, redirect, render, set_session_cookie
from dashboard.sessions import Session, SessionMerchant, SessionStore

router = APIRouter()

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8
# The sign-up form's labels for the API's field names.
SIGNUP_LABELS = {"name": "Business name", "email": "Email", "password": "Password"}


async def _login_page(
    request: Request,
    gateway: GatewayDep,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The login form, with `error` beside it; a 429's error is about waiting, so the fields
    are not marked as wrong then (and `headers` carry its Retry-After)."""
    test_merchant = await gateway.seeded_test_merchant()
    context = {
        "email": email,
        "error": error,
        "fields_at_fault": error is not None and status_code != 429,
        "test_merchant": test_merchant,
    }
    return await render(request, "login.html", context, status_code=status_code, headers=headers)


async def _enter_dashboard(
    request: Request, sessions: SessionStore, visitor: Session, merchant: SessionMerchant
) -> Response:
    """Swap the visitor's session for a new one: a new id and token at login (no fixation)."""
    destination = safe_next_path(visitor.next_path)
    await sessions.end(visitor)
    session = await sessions.start(merchant)
    request.state.session = session
    response = RedirectResponse(destination, status_code=303)
    set_session_cookie(request, response, session)
    return response


@router.get("/login")
async def login_page(request: Request, visitor: VisitorDep, gateway: GatewayDep) -> Response:
    if visitor.merchant is not None:
        return RedirectResponse("/dashboard", status_code=303)
    return await _login_page(request, gateway)


@router.post("/login")
async def log_in(
    request: Request,
    visitor: VisitorDep,
    gateway: GatewayDep,
    sessions: SessionStoreDep,
    email: FormText = "",
    password: FormText = "",
) -> Response:
    email = email.strip()
    if not email:
        return await _login_page(request, gateway, email, "Enter your email address.", 400)
    try:
        profile = await gateway.api().merchants.log_in(email, password)
    except ApiError as exc:
        if exc.status_code in (400, 401):
            message = "That email and password do not match an account."
            return await _login_page(request, gateway, email, message, 401)
        if exc.status_code == 429:
            return await _login_page(
                request, gateway, email, exc.wait_sentence, 429, exc.retry_headers
            )
        raise
    return await _enter_dashboard(request, sessions, visitor, SessionMerchant.from_api(profile))


@router.get("/signup")
async def signup_page(request: Request, visitor: VisitorDep) -> Response:
    if visitor.merchant is not None:
        return RedirectResponse("/dashboard", status_code=303)
    return await render(request, "signup.html", {"values": {}, "errors": {}})


def _signup_refusal(exc: ApiError) -> tuple[str, str]:
    """(where on the form, what to say) for the API's 400 to a sign-up: beside the field it
    names, in the form's words ("Business name must not contain ..."), else above the form."""
    problem = form_problem(exc, SIGNUP_LABELS)
    if problem.field in SIGNUP_LABELS:
        return problem.field, problem.sentence
    return "form", exc.description


def _signup_problems(name: str, email: str, password: str) -> dict[str, str]:
    problems = {}
    if not name:
        problems["name"] = "Enter your business name."
    if not EMAIL.match(email):
        problems["email"] = "Enter an email address like name@example.com."
    if len(password) < MIN_PASSWORD_LENGTH:
        problems["password"] = f"Use at least {MIN_PASSWORD_LENGTH} characters."
    return problems


@router.post("/signup")
async def sign_up(
    request: Request,
    visitor: VisitorDep,
    gateway: GatewayDep,
    sessions: SessionStoreDep,
    name: FormText = "",
    email: FormText = "",
    password: FormText = "",
) -> Response:
    name, email = name.strip(), email.strip()
    values = {"name": name, "email": email}
    errors = _signup_problems(name, email, password)
    status_code, headers = 400, {}
    if not errors:
        try:
            profile = await gateway.api().merchants.sign_up(name, email, password)
        except ApiError as exc:
            if exc.status_code == 409:
                errors["email"] = "An account with this email already exists. Log in instead."
            elif exc.status_code == 400:
                where, sentence = _signup_refusal(exc)
                errors[where] = sentence
            elif exc.status_code == 429:
                errors["form"] = exc.wait_sentence
                status_code, headers = 429, exc.retry_headers
            else:
                raise
        else:
            response = await _enter_dashboard(
                request, sessions, visitor, SessionMerchant.from_api(profile)
            )
            session: Session = request.state.session
            session.flash(
                "success",
                "Your account is ready. Below are your API keys: keep the secret on your server.",
            )
            await sessions.save(session)
            return response
    context = {"values": values, "errors": errors}
    return await render(request, "signup.html", context, status_code=status_code, headers=headers)


@router.post("/logout")
async def log_out(request: Request, session: MerchantSessionDep, sessions: SessionStoreDep):
    await sessions.end(session)
    visitor = await sessions.start()
    visitor.flash("info", "You have logged out.")
    return await redirect(request, visitor, "/login")
