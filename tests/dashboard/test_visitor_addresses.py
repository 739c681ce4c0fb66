"""The API's limits per address count the dashboard's visitors, not the dashboard: one
visitor's failed logins or sign-ups never lock out another visitor or the seeded merchant, and
neither a visitor nor an outside client can choose the address it is counted as.

Each visitor is a real HTTP client on its own loopback address (127.0.0.2, 127.0.0.3 ...), as
the API and the dashboard are real processes: the limits are the defaults (20 failed logins per
address in 15 minutes, 20 sign-ups per address an hour)."""

import re
from collections.abc import Iterator

import httpx
import pytest

TEST_MERCHANT_EMAIL = "test@example.com"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
FAILED_LOGINS_ALLOWED = 20
SIGNUPS_ALLOWED = 20
# The API's description (an outside client sees it), and what the dashboard shows of a 429.
LOCKED_OUT = "Too many failed logins from this address"
TOO_MANY = "Too many attempts; try again in"


@pytest.fixture
def visitor(stack) -> Iterator:
    """visitor("127.0.0.2") -> a cookie-keeping client of the dashboard from that address."""
    clients: list[httpx.Client] = []

    def open_from(address: str) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=address)
        clients.append(httpx.Client(base_url=stack.dashboard_url, transport=transport, timeout=20))
        return clients[-1]

    yield open_from
    for client in clients:
        client.close()


def csrf_token(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def log_in(client: httpx.Client, email: str, password: str, **headers: str) -> httpx.Response:
    form = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(form.text)},
        headers=headers,
    )


def sign_up(client: httpx.Client, email: str) -> httpx.Response:
    client.cookies.clear()  # a new visitor session: a logged-in one is sent to /dashboard
    form = client.get("/signup")
    data = {"name": "Acme Stores", "email": email, "password": "correct horse"}
    return client.post("/signup", data=data | {"csrf_token": csrf_token(form.text)})


def test_one_visitors_failed_logins_lock_out_no_one_else(stack, visitor):
    attacker, merchant, other = visitor("127.0.0.2"), visitor("127.0.0.3"), visitor("127.0.0.4")

    failures = [
        log_in(attacker, f"made-up-{n}@example.test", "wrong password").status_code
        for n in range(FAILED_LOGINS_ALLOWED)
    ]
    refused = log_in(attacker, "made-up-last@example.test", "wrong password")
    # A forged X-Forwarded-For does not make the attacker someone else.
    forged = log_in(
        attacker, "made-up-forged@example.test", "wrong password", **{"X-Forwarded-For": "10.9.8.7"}
    )

    assert failures == [401] * FAILED_LOGINS_ALLOWED
    assert refused.status_code == 429 and TOO_MANY in refused.text
    assert forged.status_code == 429 and TOO_MANY in forged.text
    # The seeded merchant and any other visitor log in as ever.
    seeded = log_in(merchant, TEST_MERCHANT_EMAIL, "any password")
    assert seeded.status_code == 303 and seeded.headers["location"] == "/dashboard"
    wrong = log_in(other, "someone@example.test", "wrong password")
    assert wrong.status_code == 401 and TOO_MANY not in wrong.text


def test_a_strangers_failed_logins_for_a_merchants_email_do_not_lock_the_merchant_out(
    stack, visitor
):
    """Reported: a stranger's six wrong passwords for a merchant's email made the merchant's own
    right password, from another browser, answer "Too many attempts" for 15 minutes."""
    stranger, owner = visitor("127.0.0.7"), visitor("127.0.0.8")
    email = "owner-locked-out@example.test"
    assert sign_up(owner, email).status_code == 303
    owner.cookies.clear()

    guesses = [log_in(stranger, email, f"guess {n}").status_code for n in range(6)]
    own_login = log_in(owner, email, "correct horse")

    assert guesses[:5] == [401] * 5 and guesses[5] == 429
    assert own_login.status_code == 303 and own_login.headers["location"] == "/dashboard"


def test_one_visitors_sign_ups_close_sign_up_for_no_one_else(stack, visitor):
    attacker, newcomer = visitor("127.0.0.5"), visitor("127.0.0.6")

    accepted = [
        sign_up(attacker, f"shop-{n}@example.test").status_code for n in range(SIGNUPS_ALLOWED)
    ]
    refused = sign_up(attacker, "shop-last@example.test")
    welcomed = sign_up(newcomer, "newcomer@example.test")

    assert accepted == [303] * SIGNUPS_ALLOWED
    assert refused.status_code == 429 and TOO_MANY in refused.text
    assert welcomed.status_code == 303 and welcomed.headers["location"] == "/dashboard"


def test_an_outside_client_cannot_name_the_address_it_is_counted_as(stack):
    """Straight to the API, X-Visitor-Address without the services' secret, and
    X-Forwarded-For, are ignored: every attempt counts against the client's own address."""
    transport = httpx.HTTPTransport(local_address="127.0.0.7")
    with httpx.Client(base_url=stack.api_url, transport=transport, timeout=20) as client:

        def attempt(n: int) -> httpx.Response:
            headers = {
                "X-Visitor-Address": f"198.51.100.{n}",
                "X-Service-Secret": "a guess at the services' secret",
                "X-Forwarded-For": f"203.0.113.{n}",
            }
            body = {"email": f"guess-{n}@example.test", "password": "wrong password"}
            return client.post("/api/v1/merchants/login", json=body, headers=headers)

        failures = [attempt(n).status_code for n in range(FAILED_LOGINS_ALLOWED)]
        refused = attempt(FAILED_LOGINS_ALLOWED)

    assert failures == [401] * FAILED_LOGINS_ALLOWED
    assert refused.status_code == 429
    assert refused.json()["error"]["description"].startswith(LOCKED_OUT)
