"""Login, sign-up, logout, the session cookie and CSRF, through HTTP as a browser sends it."""

import re

import httpx
import pytest

from dashboard.dependencies import safe_next_path

PAGES_BEHIND_LOGIN = [
    "/dashboard",
    "/dashboard/transactions",
    "/dashboard/transactions/pay_AAAAAAAAAAAAAAAA",
    "/dashboard/webhooks",
    "/dashboard/webhooks/logs/00000000-0000-0000-0000-000000000000",
    "/dashboard/docs",
]


def test_health_answers_without_a_database_url(stack):
    response = httpx.get(f"{stack.dashboard_url}/health")
    assert response.status_code == 200
    assert response.json() | {"timestamp": None} == {
        "status": "healthy",
        "redis": "connected",
        "api": "reachable",
        "timestamp": None,
    }


def test_root_redirects_to_the_dashboard_then_to_login(http_client):
    response = http_client.get("/", follow_redirects=True)
    assert [str(r.url.path) for r in response.history] == ["/", "/dashboard"]
    assert response.url.path == "/login"
    assert 'data-test-id="login-form"' in response.text


@pytest.mark.parametrize("path", PAGES_BEHIND_LOGIN)
def test_pages_behind_login_redirect_to_login(http_client, path):
    response = http_client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_login_then_back_to_the_page_asked_for(http_client, csrf_token):
    assert http_client.get("/dashboard/docs").headers["location"] == "/login"
    form = http_client.get("/login")
    response = http_client.post(
        "/login",
        data={"email": "test@example.com", "password": "x", "csrf_token": csrf_token(form.text)},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/docs"


def test_the_test_merchant_logs_in_with_any_password(login_over_http):
    for password in ("any password", "another one", ""):
        client = login_over_http("test@example.com", password)
        page = client.get("/dashboard")
        assert page.status_code == 200
        assert "key_test_abc123" in page.text


def test_a_wrong_password_is_refused(stack, http_client, csrf_token):
    stack.sign_up(email="owner@acme.test", password="correct horse")
    form = http_client.get("/login")
    response = http_client.post(
        "/login",
        data={
            "email": "owner@acme.test",
            "password": "wrong horse",
            "csrf_token": csrf_token(form.text),
        },
    )
    assert response.status_code == 401
    assert "do not match" in response.text
    assert 'value="owner@acme.test"' in response.text
    assert http_client.get("/dashboard").status_code == 303


def test_sign_up_then_log_out_and_log_in_with_the_new_password(
    stack, http_client, csrf_token, login_over_http
):
    form = http_client.get("/signup")
    response = http_client.post(
        "/signup",
        data={
            "name": "Chai Point",
            "email": "hello@chai.test",
            "password": "masala chai 42",
            "csrf_token": csrf_token(form.text),
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    home = http_client.get("/dashboard")
    assert "Chai Point" in home.text
    # A new merchant is greeted as one: never "Welcome back" on their first visit.
    assert "Your account is ready" in home.text
    assert "Welcome back" not in home.text
    assert re.search(r'data-test-id="api-key"[^>]*>key_live_\w+<', home.text)

    logout = http_client.post("/logout", data={"csrf_token": csrf_token(home.text)})
    assert logout.status_code == 303
    assert http_client.get("/dashboard").status_code == 303

    client = login_over_http("hello@chai.test", "masala chai 42")
    assert "Chai Point" in client.get("/dashboard").text


def test_a_password_is_taken_exactly_as_typed(stack, http_client, csrf_token):
    """Spaces around a password are part of it, in the sign-up form as in the login form."""
    form = http_client.get("/signup")
    data = {"name": "Chai Point", "email": "hello@chai.test", "password": " secret ",
            "csrf_token": csrf_token(form.text)}  # fmt: skip
    assert http_client.post("/signup", data=data).status_code == 303

    def log_in(password: str) -> int:
        with httpx.Client(base_url=stack.dashboard_url, timeout=10) as visitor:
            token = csrf_token(visitor.get("/login").text)
            body = {"email": "hello@chai.test", "password": password, "csrf_token": token}
            return visitor.post("/login", data=body).status_code

    assert [log_in(p) for p in (" secret ", "secret", "secret ")] == [303, 401, 401]


def test_sign_up_explains_problems_in_words(stack, http_client, csrf_token):
    stack.sign_up(email="taken@acme.test")
    form = http_client.get("/signup")
    response = http_client.post(
        "/signup",
        data={
            "name": "Other",
            "email": "taken@acme.test",
            "password": "long enough",
            "csrf_token": csrf_token(form.text),
        },
    )
    assert response.status_code == 400
    assert "already exists" in response.text
    short = http_client.post(
        "/signup",
        data={
            "name": "",
            "email": "nope",
            "password": "short",
            "csrf_token": csrf_token(form.text),
        },
    )
    assert short.status_code == 400
    for message in ("Enter your business name", "Enter an email address", "at least 8 characters"):
        assert message in short.text
    # One line about the password: the error takes the hint's place.
    assert short.text.count("8 characters") == 1
    assert 'aria-describedby="password-error"' in short.text


def test_a_business_name_with_a_direction_control_is_refused_beside_it(
    stack, http_client, csrf_token
):
    """A merchant named "\u202eyaP nozamA" would read "Amazon Pay" on the dashboard and the
    checkout page. The dashboard has no rule of its own for it: the API refuses the name, and
    the form shows that refusal beside the business name, keeps what was typed, and makes no
    account."""
    form = http_client.get("/signup")
    response = http_client.post(
        "/signup",
        data={
            "name": "\u202eyaP nozamA",
            "email": "pay@shop.test",
            "password": "correct horse",
            "csrf_token": csrf_token(form.text),
        },
    )

    assert response.status_code == 400
    beside_name = re.search(r'data-test-id="name-error">([^<]*)<', response.text)
    assert beside_name, response.text
    assert beside_name[1].startswith("Business name must not contain NUL")
    assert "invisible controls that reorder text" in beside_name[1]
    assert 'data-test-id="signup-error"' not in response.text
    assert 'aria-invalid="true" aria-describedby="name-error"' in response.text
    assert 'value="pay@shop.test"' in response.text
    made = stack.db.execute("SELECT count(*) AS n FROM merchants WHERE email = 'pay@shop.test'")
    assert made.fetchone()["n"] == 0
    assert http_client.get("/dashboard").status_code == 303


def test_session_cookie_is_httponly_lax_and_holds_no_secret(stack, http_client, csrf_token):
    form = http_client.get("/login")
    response = http_client.post(
        "/login",
        data={"email": "test@example.com", "password": "x", "csrf_token": csrf_token(form.text)},
    )
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 1
    cookie = cookies[0]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "secure" not in attributes  # plain http on loopback; https sets it
    name, value = attributes[0].split("=", 1)
    assert name == "gw_session"
    assert re.fullmatch(r"[a-z0-9_-]{43}", value)
    for secret in ("secret_test_xyz789", "key_test_abc123", "whsec_test_abc123", "test@example"):
        assert secret not in cookie
    location = response.headers["location"]
    assert "secret" not in location and "key_" not in location


def test_login_gives_a_new_session_id(http_client, csrf_token):
    form = http_client.get("/login")
    before = http_client.cookies["gw_session"]
    http_client.post(
        "/login",
        data={"email": "test@example.com", "password": "x", "csrf_token": csrf_token(form.text)},
    )
    assert http_client.cookies["gw_session"] != before


def test_a_forged_login_without_the_csrf_token_is_refused(http_client):
    http_client.get("/login")
    response = http_client.post("/login", data={"email": "test@example.com", "password": "x"})
    assert response.status_code == 403
    assert http_client.get("/dashboard").status_code == 303


def stored_webhook_settings(stack) -> dict:
    """The test merchant's webhook URL (its default endpoint's), secret and every endpoint."""
    return stack.db.execute(
        "SELECT m.webhook_secret, (SELECT array_agg(e.url || ' ' || e.status ORDER BY e.id)"
        " FROM webhook_endpoints e WHERE e.merchant_id = m.id) AS endpoints"
        " FROM merchants m WHERE is_test"
    ).fetchone()


def test_a_forged_post_without_the_csrf_token_is_refused(stack, logged_in_client):
    """As another site would send it: the victim's cookie, but not the token."""
    before = stored_webhook_settings(stack)
    for path, data in [
        ("/dashboard/webhooks/config", {"webhook_url": "https://evil.test/hook"}),
        ("/dashboard/webhooks/rotate-secret", {}),
        ("/dashboard/webhooks/test", {}),
        ("/logout", {}),
        ("/dashboard/transactions/pay_AAAAAAAAAAAAAAAA/refunds", {"amount": "1"}),
        ("/dashboard/webhooks/endpoints", {"url": "https://evil.test/hook"}),
    ]:
        response = logged_in_client.post(path, data=data)
        assert response.status_code == 403, path
        wrong = logged_in_client.post(path, data=data | {"csrf_token": "forged"})
        assert wrong.status_code == 403, path
    after = stored_webhook_settings(stack)
    assert after == before
    assert logged_in_client.get("/dashboard").status_code == 200  # still logged in


def test_another_sessions_token_does_not_pass(stack, login_over_http, csrf_token):
    victim = login_over_http()
    attacker = login_over_http()
    attackers_token = csrf_token(attacker.get("/dashboard").text)
    response = victim.post("/logout", data={"csrf_token": attackers_token})
    assert response.status_code == 403


def test_logout_ends_the_session_on_the_server(stack, logged_in_client, csrf_token):
    stolen_cookie = logged_in_client.cookies["gw_session"]
    home = logged_in_client.get("/dashboard")
    logged_in_client.post("/logout", data={"csrf_token": csrf_token(home.text)})
    replay = httpx.get(f"{stack.dashboard_url}/dashboard", cookies={"gw_session": stolen_cookie})
    assert replay.status_code == 303


def test_pages_are_not_cached_and_carry_security_headers(logged_in_client):
    response = logged_in_client.get("/dashboard")
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "candidate",
    ["//evil.test/x", "https://evil.test/", "/\\evil.test", "evil.test", "/\tevil", "", None],
)
def test_the_way_back_after_login_never_leaves_the_site(candidate):
    assert safe_next_path(candidate) == "/dashboard"


def test_the_way_back_keeps_a_path_on_the_site():
    assert safe_next_path("/dashboard/transactions?status=failed&offset=10") == (
        "/dashboard/transactions?status=failed&offset=10"
    )


def test_the_way_back_stays_below_the_path_it_is_given():
    logs = "/dashboard/webhooks"
    assert safe_next_path("/dashboard/docs", logs, within=logs) == logs
    assert safe_next_path(f"{logs}?offset=10", logs, within=logs) == f"{logs}?offset=10"


def test_too_many_failed_logins_are_told_beside_the_form_in_minutes(stack, http_client, csrf_token):
    """The API's 429 is a wait, not a refused request: the login form stays, with the wait in
    minutes rather than raw seconds."""
    stack.sign_up(email="owner@acme.test", password="correct horse")
    for _attempt in range(10):
        form = http_client.get("/login")
        response = http_client.post(
            "/login",
            data={
                "email": "owner@acme.test",
                "password": "wrong horse",
                "csrf_token": csrf_token(form.text),
            },
        )
        if response.status_code != 401:
            break
    assert response.status_code == 429
    # The API's wait passed on, as whole seconds (it was 900 s when the API answered).
    assert 840 <= int(response.headers["Retry-After"]) <= 900
    assert 'data-test-id="login-form"' in response.text
    assert "Too many attempts; try again in 15 minutes." in response.text
    assert "seconds" not in response.text
    assert 'value="owner@acme.test"' in response.text
    assert 'aria-invalid="true"' not in response.text  # nothing typed is wrong: it is a wait


def test_too_many_sign_ups_are_told_beside_the_form_in_minutes(stack, http_client, csrf_token):
    for number in range(30):
        form = http_client.get("/signup")
        response = http_client.post(
            "/signup",
            data={
                "name": "Chai Point",
                "email": f"owner{number}@chai.test",
                "password": "masala chai 42",
                "csrf_token": csrf_token(form.text),
            },
        )
        if response.status_code != 303:
            break
        http_client.post(
            "/logout", data={"csrf_token": csrf_token(http_client.get("/dashboard").text)}
        )
    assert response.status_code == 429
    assert 3400 <= int(response.headers["Retry-After"]) <= 3600
    assert 'data-test-id="signup-form"' in response.text
    assert re.search(r"Too many attempts; try again in (60|59) minutes\.", response.text)
    assert "seconds" not in response.text
