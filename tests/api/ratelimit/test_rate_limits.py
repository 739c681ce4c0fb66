"""Rate limits (docs/api.md#rate-limits: 429 RATE_LIMIT_ERROR with Retry-After): each limit refuses
past its count, says when to retry, and lets requests through again once its window has passed;
limits are held in Redis, so they hold across API processes; a Redis outage lets requests through.
Windows are a few seconds here, set through the same variables an operator uses."""

import re
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from api.config import ApiSettings
from api.main import create_app
from factories import card_payment_body, create_order, headers_for, sign_up, upi_payment_body

WINDOW_S = 3
# Logins and sign-ups cost ~50 ms of scrypt each, far more on a loaded machine: a window they fit in.
LOGIN_WINDOW_S = 6
RETRY_AFTER = re.compile(r"^[1-9][0-9]*$")

LimitedClient = Callable[..., TestClient]


@pytest.fixture
def limited_client(settings: ApiSettings, db, redis) -> Iterator[LimitedClient]:
    """An API in this process with the given settings (rate_limit_<name>="2/3 seconds", ...),
    as a client at `address`."""
    opened: list[TestClient] = []

    def start(address: str = "203.0.113.7", **overrides: object) -> TestClient:
        app = create_app(ApiSettings(**settings.model_dump() | overrides))
        client = TestClient(app, raise_server_exceptions=False, client=(address, 50000))
        opened.append(client.__enter__())
        return client

    yield start
    for client in opened:
        client.__exit__(None, None, None)


def assert_refused(response: httpx.Response, counts: str) -> int:
    """The documented 429 (docs/api.md#error-codes); returns its Retry-After in seconds."""
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "RATE_LIMIT_ERROR"
    assert error["description"].startswith(f"Too many {counts}: retry after")
    assert RETRY_AFTER.match(response.headers["retry-after"])
    return int(response.headers["retry-after"])


def wait_out(retry_after: int, window_s: int = WINDOW_S) -> None:
    assert retry_after <= window_s + 1
    time.sleep(retry_after + 0.2)


def log_in(client, email: str, password: str) -> httpx.Response:
    return client.post("/api/v1/merchants/login", json={"email": email, "password": password})


def test_failed_logins_per_email_from_an_address_are_limited_then_recover(limited_client, db):
    client = limited_client(rate_limit_login_failures_per_email=f"3/{LOGIN_WINDOW_S} seconds")
    merchant = sign_up(client, password="the right one")
    email = merchant["email"]

    failures = [log_in(client, email, f"guess-{n}").status_code for n in range(3)]
    refused = log_in(client, email.upper(), "guess-4")  # the same email in another case
    right_password_while_locked = log_in(client, email, "the right one")

    assert failures == [401, 401, 401]
    retry_after = assert_refused(refused, "failed logins for this email from this address")
    assert_refused(right_password_while_locked, "failed logins for this email from this address")
    # Another email from the same address is not locked out by this one.
    assert log_in(client, "someone@else.test", "guess").status_code == 401
    wait_out(retry_after, LOGIN_WINDOW_S)
    assert log_in(client, email, "the right one").status_code == 200


def test_a_strangers_failed_logins_never_lock_the_merchant_out(limited_client, db):
    """Reported: five wrong guesses for a merchant's email from anywhere refused the merchant's
    own right password, from their own address, for 15 minutes; repeated, for good."""
    limit = {"rate_limit_login_failures_per_email": f"3/{LOGIN_WINDOW_S} seconds"}
    stranger = limited_client(address="198.51.100.66", **limit)
    merchant_client = limited_client(address="203.0.113.7", **limit)
    merchant = sign_up(merchant_client, password="the right one")

    guesses = [log_in(stranger, merchant["email"], f"guess-{n}").status_code for n in range(4)]
    own_login = log_in(merchant_client, merchant["email"], "the right one")

    assert guesses == [401, 401, 401, 429]
    assert own_login.status_code == 200, own_login.text


def test_a_successful_login_clears_the_email_count(limited_client, db):
    client = limited_client(rate_limit_login_failures_per_email=f"2/{LOGIN_WINDOW_S} seconds")
    merchant = sign_up(client, password="the right one")

    for _ in range(3):
        assert log_in(client, merchant["email"], "wrong guess").status_code == 401
        assert log_in(client, merchant["email"], "the right one").status_code == 200


def test_the_open_test_merchant_logs_in_any_number_of_times(limited_client, db):
    client = limited_client(rate_limit_login_failures_per_email="2/minute",
                            rate_limit_login_failures_per_address="2/minute")  # fmt: skip

    answers = {log_in(client, "test@example.com", f"any {n}").status_code for n in range(10)}

    assert answers == {200}


def test_failed_logins_per_address_are_limited_across_emails(limited_client, db):
    limit = f"3/{LOGIN_WINDOW_S} seconds"
    client = limited_client(rate_limit_login_failures_per_address=limit)
    elsewhere = limited_client(address="198.51.100.9", rate_limit_login_failures_per_address=limit)

    failures = [log_in(client, f"user{n}@shop.test", "guess").status_code for n in range(3)]
    refused = log_in(client, "user9@shop.test", "guess")

    assert failures == [401, 401, 401]
    retry_after = assert_refused(refused, "failed logins from this address")
    assert log_in(elsewhere, "user9@shop.test", "guess").status_code == 401
    wait_out(retry_after, LOGIN_WINDOW_S)
    assert log_in(client, "user9@shop.test", "guess").status_code == 401


def test_a_brute_force_loop_is_stopped_with_the_default_limits(client, db):
    """As shipped (TEST_MODE=true keeps the login limits on): 5 failures per email from an
    address."""
    merchant = sign_up(client, password="correct horse battery")
    guesses = [f"password{n}" for n in range(40)] + ["correct horse battery"]

    statuses = [log_in(client, merchant["email"], guess).status_code for guess in guesses]

    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}  # the right password, found last, is refused too
    retry_after = int(log_in(client, merchant["email"], "x" * 8).headers["retry-after"])
    assert 14 * 60 < retry_after <= 15 * 60


def test_sign_ups_per_address_are_limited_then_recover(limited_client, db):
    client = limited_client(rate_limit_signups_per_address=f"2/{LOGIN_WINDOW_S} seconds")

    def sign_up_as(n: int) -> httpx.Response:
        body = {"name": "Shop", "email": f"owner{n}@shop.test", "password": "long enough"}
        return client.post("/api/v1/merchants", json=body)

    created = [sign_up_as(n).status_code for n in range(2)]
    retry_after = assert_refused(sign_up_as(2), "sign-ups from this address")
    invalid = client.post("/api/v1/merchants", json={"name": "Shop"})

    assert created == [201, 201]
    assert invalid.status_code == 400  # validation comes first and counts against nothing
    wait_out(retry_after, LOGIN_WINDOW_S)
    assert sign_up_as(3).status_code == 201


def test_public_payments_per_order_are_limited_then_recover(limited_client, db, merchant_headers):
    client = limited_client(rate_limit_public_payments_per_order=f"2/{WINDOW_S} seconds")
    order, other_order = (
        create_order(client, merchant_headers),
        create_order(client, merchant_headers),
    )

    def pay(order_id: str) -> httpx.Response:
        return client.post("/api/v1/payments/public", json=upi_payment_body(order_id, "a@b"))

    first = [pay(order["id"]).status_code for _ in range(2)]
    retry_after = assert_refused(pay(order["id"]), "payment attempts for this order")

    assert first == [201, 201]
    assert pay(other_order["id"]).status_code == 201
    assert db.execute("SELECT count(*) AS n FROM payments").fetchone()["n"] == 3
    wait_out(retry_after)
    assert pay(order["id"]).status_code == 201


def test_public_payments_per_address_are_limited(limited_client, db, merchant_headers):
    client = limited_client(rate_limit_public_payments_per_address=f"2/{WINDOW_S} seconds")
    orders = [create_order(client, merchant_headers)["id"] for _ in range(3)]

    answers = [
        client.post("/api/v1/payments/public", json=upi_payment_body(order_id))
        for order_id in orders
    ]

    assert [answer.status_code for answer in answers[:2]] == [201, 201]
    retry_after = assert_refused(answers[2], "payment attempts from this address")
    elsewhere = limited_client(
        address="198.51.100.9", rate_limit_public_payments_per_address="2/minute"
    )
    assert (
        elsewhere.post("/api/v1/payments/public", json=upi_payment_body(orders[2])).status_code
        == 201
    )
    wait_out(retry_after)
    assert (
        client.post("/api/v1/payments/public", json=upi_payment_body(orders[0])).status_code == 201
    )


def test_an_ipv6_shopper_cannot_dodge_the_limit_by_changing_address(
    limited_client, db, merchant_headers
):
    """An IPv6 host holds a whole /64 and may send each request from another address of it
    (privacy addresses): the limit counts the block, so card testing cannot hop through it."""
    limit = {"rate_limit_public_payments_per_address": "2/minute"}
    first = limited_client(address="2001:db8:1:2::7", **limit)
    orders = [create_order(first, merchant_headers)["id"] for _ in range(4)]

    def pay(address: str, order_id: str) -> int:
        client = limited_client(address=address, **limit)
        return client.post("/api/v1/payments/public", json=upi_payment_body(order_id)).status_code

    hops = ["2001:db8:1:2::7", "2001:db8:1:2::8", "2001:db8:1:2:abcd:ef01:2345:6789"]
    assert [pay(hop, order) for hop, order in zip(hops, orders, strict=False)] == [201, 201, 429]
    assert pay("2001:db8:1:3::7", orders[3]) == 201  # another household's block


def test_failed_card_attempts_per_order_are_capped(limited_client, db, merchant_headers):
    client = limited_client(rate_limit_card_failures_per_order=f"2/{WINDOW_S} seconds")
    order = create_order(client, merchant_headers)

    def pay(**card: str) -> httpx.Response:
        return client.post("/api/v1/payments/public", json=card_payment_body(order["id"], **card))

    refused_cards = [pay(number="4111111111111112"), pay(expiry_year="2020")]
    capped = pay()  # a valid card, but this order has seen enough failed ones

    assert [r.json()["error"]["code"] for r in refused_cards] == ["INVALID_CARD", "EXPIRED_CARD"]
    retry_after = assert_refused(capped, "failed card attempts for this order")
    # UPI is not card testing.
    upi = client.post("/api/v1/payments/public", json=upi_payment_body(order["id"]))
    assert upi.status_code == 201
    wait_out(retry_after)
    assert pay().status_code == 201


def test_merchant_api_is_limited_per_key(limited_client, db, merchant_headers):
    client = limited_client(rate_limit_api_requests_per_key=f"3/{WINDOW_S} seconds")
    other = headers_for(sign_up(client))

    answers = [client.get("/api/v1/orders", headers=merchant_headers) for _ in range(4)]
    # A stranger with the key and a wrong secret uses up nothing.
    wrong = client.get("/api/v1/orders", headers=merchant_headers | {"X-Api-Secret": "nope"})

    assert [answer.status_code for answer in answers[:3]] == [200, 200, 200]
    retry_after = assert_refused(answers[3], "requests with this API key")
    assert wrong.status_code == 401
    assert client.get("/api/v1/orders", headers=other).status_code == 200
    wait_out(retry_after)
    assert client.get("/api/v1/orders", headers=merchant_headers).status_code == 200


def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(limited_client, db):
    limit = {"rate_limit_login_failures_per_address": "2/minute"}
    direct = limited_client(address="203.0.113.7", **limit)
    proxied = limited_client(address="10.0.0.2", trusted_proxies="10.0.0.0/8", **limit)

    def fail(client: TestClient, forwarded_for: str, n: int) -> int:
        response = client.post(
            "/api/v1/merchants/login",
            json={"email": f"u{n}@shop.test", "password": "guess"},
            headers={"X-Forwarded-For": forwarded_for},
        )
        return response.status_code

    # A client cannot dodge its limit by writing a new X-Forwarded-For each time.
    assert [fail(direct, f"192.0.2.{n}", n) for n in range(3)] == [401, 401, 429]
    # Behind a trusted proxy, each client is its forwarded address; a spoofed left-most hop
    # is not believed.
    assert [fail(proxied, "192.0.2.50", n) for n in range(3)] == [401, 401, 429]
    assert fail(proxied, "192.0.2.60", 9) == 401
    assert fail(proxied, "1.2.3.4, 192.0.2.50", 10) == 429


def test_a_spoofed_x_forwarded_for_line_before_the_proxys_own_is_not_believed(limited_client, db):
    """A proxy may add its hop as a header line of its own (HAProxy's `option forwardfor`)
    rather than append it to the client's line: the lines are one list (RFC 9110 section 5.3),
    and its right-most hop, the proxy's, counts; not the client's line, read first."""
    limit = {"rate_limit_login_failures_per_address": "2/minute"}
    proxied = limited_client(address="10.0.0.2", trusted_proxies="10.0.0.0/8", **limit)

    def fail(spoofed: str, n: int) -> int:
        response = proxied.post(
            "/api/v1/merchants/login",
            json={"email": f"u{n}@shop.test", "password": "guess"},
            headers=[("X-Forwarded-For", spoofed), ("X-Forwarded-For", "192.0.2.50")],
        )
        return response.status_code

    assert [fail(f"198.51.100.{n}", n) for n in range(3)] == [401, 401, 429]


SERVICE_SECRET = "one gateway's service secret"


@pytest.mark.parametrize("route", ["login", "sign_up", "public_payment"])
def test_a_service_of_ours_names_the_visitor_each_limit_counts(
    limited_client, db, merchant_headers, route
):
    """Every limit per address counts the visitor the dashboard (or any service holding the
    SERVICE_SECRET) names in X-Visitor-Address: all of them share the service's address
    (127.0.0.1 under `make run`), so the address alone could never tell them apart."""
    limits = {f"rate_limit_{name}": "2/minute" for name in (
        "login_failures_per_address", "signups_per_address", "public_payments_per_address",
    )}  # fmt: skip
    service = limited_client(address="127.0.0.1", service_secret=SERVICE_SECRET, **limits)
    orders = [create_order(service, merchant_headers)["id"] for _ in range(7)]

    def send(n: int, visitor: str, secret: str = SERVICE_SECRET) -> int:
        headers = {"X-Visitor-Address": visitor, "X-Service-Secret": secret}
        if route == "login":
            body = {"email": f"u{n}@shop.test", "password": "a guess"}
            return service.post("/api/v1/merchants/login", json=body, headers=headers).status_code
        if route == "sign_up":
            body = {"name": "Shop", "email": f"u{n}@shop.test", "password": "correct horse"}
            return service.post("/api/v1/merchants", json=body, headers=headers).status_code
        body = upi_payment_body(orders[n])
        return service.post("/api/v1/payments/public", json=body, headers=headers).status_code

    passed = 401 if route == "login" else 201
    assert [send(n, "192.0.2.1") for n in range(3)] == [passed, passed, 429]
    assert send(3, "192.0.2.2") == passed  # another visitor of the same service
    # Without the right secret the header names no one: the service's own address counts.
    wrong_secret = [send(n, f"192.0.2.{n + 10}", "a wrong secret") for n in (4, 5, 6)]
    assert wrong_secret == [passed, passed, 429]


def test_without_a_service_secret_no_one_can_name_a_visitor(limited_client, db):
    service = limited_client(address="127.0.0.1", rate_limit_login_failures_per_address="2/minute")

    def fail(n: int) -> int:
        headers = {"X-Visitor-Address": f"192.0.2.{n}", "X-Service-Secret": ""}
        body = {"email": f"u{n}@shop.test", "password": "a guess"}
        return service.post("/api/v1/merchants/login", json=body, headers=headers).status_code

    assert [fail(n) for n in range(3)] == [401, 401, 429]


def test_in_test_mode_only_login_and_sign_up_limits_are_on_unless_set(database_url, redis_url):
    base = {"database_url": database_url, "redis_url": redis_url}
    test_mode = ApiSettings(**base, test_mode=True)
    production = ApiSettings(**base, test_mode=False)
    chosen = ApiSettings(**base, test_mode=True, rate_limit_api_requests_per_key="7/second",
                         rate_limit_login_failures_per_email="off")  # fmt: skip

    on_in_test_mode = {
        name for name in ("login_failures_per_email", "login_failures_per_address",
                          "signups_per_address", "public_payments_per_address",
                          "public_payments_per_order", "card_failures_per_order",
                          "api_requests_per_key")
        if test_mode.rate_limit(name) is not None
    }  # fmt: skip

    assert on_in_test_mode == {
        "login_failures_per_email", "login_failures_per_address", "signups_per_address"
    }  # fmt: skip
    assert str(production.rate_limit("api_requests_per_key")) == "1000 per 10 second"
    assert str(production.rate_limit("login_failures_per_email")) == "5 per 15 minute"
    assert str(chosen.rate_limit("api_requests_per_key")) == "7 per 1 second"
    assert chosen.rate_limit("login_failures_per_email") is None


def test_a_bad_limit_stops_the_api_at_start_naming_the_variable(service_env):
    import subprocess

    from live import api_argv, free_port

    result = subprocess.run(
        api_argv(free_port()),
        env=service_env | {"RATE_LIMIT_SIGNUPS_PER_ADDRESS": "lots"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode != 0
    assert "RATE_LIMIT_SIGNUPS_PER_ADDRESS is invalid" in result.stderr


def test_limits_fail_open_when_redis_is_down(limited_client, db):
    client = limited_client(redis_url="redis://127.0.0.1:1/0",
                            rate_limit_login_failures_per_email="1/minute")  # fmt: skip

    answers = [log_in(client, "nobody@shop.test", "guess").status_code for _ in range(3)]
    metrics = client.get("/metrics").text

    assert answers == [401, 401, 401]
    counted = re.search(
        r'gateway_rate_limit_unavailable_total\{limit="login_failures_per_email"\} (\d+)', metrics
    )
    assert counted and int(float(counted.group(1))) >= 3


def test_429_is_documented_with_retry_after(client):
    paths = client.get("/openapi.json").json()["paths"]

    for path, method in [("/api/v1/merchants", "post"), ("/api/v1/merchants/login", "post"),
                         ("/api/v1/payments/public", "post"), ("/api/v1/orders", "get"),
                         ("/api/v1/payments", "post")]:  # fmt: skip
        too_many = paths[path][method]["responses"]["429"]
        assert "Retry-After" in too_many["headers"], path
    assert "429" not in paths["/api/v1/orders/{order_id}/public"]["get"]["responses"]


@pytest.mark.slow
def test_limits_hold_across_two_api_processes_sharing_redis(start_service, db):
    """Two real API processes (as `make run` starts them) on one Redis: the count is shared."""
    login_window_s = 15  # a login costs ~50 ms of scrypt, far more on a loaded machine
    limits = {
        "RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL": f"4/{login_window_s} seconds",
        "RATE_LIMIT_API_REQUESTS_PER_KEY": f"6/{WINDOW_S} seconds",
    }
    apis = [start_service("api", **limits), start_service("api", **limits)]
    headers = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}

    def login(n: int) -> httpx.Response:
        body = {"email": "victim@shop.test", "password": f"guess {n}"}
        return httpx.post(f"{apis[n % 2].url}/api/v1/merchants/login", json=body, timeout=10)

    logins = [login(n) for n in range(6)]
    assert [r.status_code for r in logins[:4]] == [401, 401, 401, 401]
    counts = "failed logins for this email from this address"
    assert_refused(logins[4], counts)
    login_retry_after = assert_refused(logins[5], counts)  # from the other process
    locked_at = time.monotonic()

    started = time.monotonic()
    calls = [httpx.get(f"{apis[n % 2].url}/api/v1/orders", headers=headers, timeout=10)
             for n in range(7)]  # fmt: skip
    if time.monotonic() - started < WINDOW_S - 0.5:  # all within one window (a loaded CI box)
        assert [call.status_code for call in calls[:6]] == [200] * 6
        retry_after = assert_refused(calls[6], "requests with this API key")
        wait_out(retry_after)
        assert httpx.get(f"{apis[1].url}/api/v1/orders", headers=headers).status_code == 200

    assert login_retry_after <= login_window_s
    time.sleep(max(0.0, login_retry_after - (time.monotonic() - locked_at)) + 0.2)
    assert login(7).status_code == 401  # the window has passed, on both processes
    assert login(8).status_code == 401
