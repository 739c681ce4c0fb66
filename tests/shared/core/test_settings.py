"""Each service's settings: the documented defaults (docs/operations/configuration.md), one line
naming a bad or missing variable, and every documented variable read by the services that use it,
and only by them."""

import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from api.config import ApiSettings
from checkout.config import CheckoutSettings, DemoSettings
from dashboard.config import DashboardSettings
from payment_worker.config import PaymentWorkerSettings
from shared.backends.migrations.__main__ import MigrationSettings
from shared.backends.worker import WorkerSettings
from shared.core.settings import load_settings
from webhook_dispatcher.config import DispatcherSettings

REQUIRED = {"DATABASE_URL": "postgresql://x/y", "REDIS_URL": "redis://x"}
SERVICES: dict[str, type[BaseSettings]] = {
    "api": ApiSettings,
    "migrate": MigrationSettings,
    "payment-worker": PaymentWorkerSettings,
    "refund-worker": WorkerSettings,
    "webhook-dispatcher": DispatcherSettings,
    "checkout": CheckoutSettings,
    "checkout-demo": DemoSettings,
    "dashboard": DashboardSettings,
}
# Read outside the settings classes: by shared.core.logging, by uvicorn in the API, and by the
# test webhook receiver (devstack.receiver).
READ_ELSEWHERE = {"LOG_FORMAT", "WEB_CONCURRENCY", "RECEIVER_PORT"}
ENV_EXAMPLE = Path(__file__).resolve().parents[3] / ".env.example"


def variables(settings_class: type[BaseSettings], *, aliases: bool = True) -> set[str]:
    """Every environment variable `settings_class` reads; with `aliases=False`, only the first
    of the names a setting accepts (API_KEY is the seed guide's alias of TEST_API_KEY)."""
    names = set()
    for name, field in settings_class.model_fields.items():
        choices = [str(choice).upper() for choice in getattr(field.validation_alias, "choices", [])]
        names.update((choices if aliases else choices[:1]) or [name.upper()])
    return names


@pytest.fixture
def environment(monkeypatch):
    every = set().union(*(variables(settings) for settings in SERVICES.values()))
    for name in every:
        monkeypatch.delenv(name, raising=False)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_defaults_follow_the_contract(environment):
    api = load_settings(ApiSettings)
    assert api.port == 8000 and api.host == "127.0.0.1"
    assert api.test_mode is False and api.test_processing_delay == 1000
    assert (api.processing_delay_min, api.processing_delay_max) == (5000, 10000)
    assert (api.refund_delay_min, api.refund_delay_max) == (3000, 5000)
    worker = load_settings(PaymentWorkerSettings)
    assert (worker.upi_success_rate, worker.card_success_rate) == (0.90, 0.95)
    assert worker.test_payment_success is True
    assert load_settings(MigrationSettings).test_api_key == "key_test_abc123"
    assert load_settings(CheckoutSettings).port == 3001
    assert load_settings(DemoSettings).port == 3002
    assert load_settings(DashboardSettings).port == 3000
    assert load_settings(DispatcherSettings).webhook_retry_intervals_test is False


def test_seed_guide_aliases_are_accepted(environment):
    environment.setenv("API_KEY", "key_alias")
    environment.setenv("API_SECRET", "secret_alias")

    for settings_class in (MigrationSettings, DemoSettings):
        settings = load_settings(settings_class)
        assert (settings.test_api_key, settings.test_api_secret) == ("key_alias", "secret_alias")


def test_the_api_and_the_dashboard_read_one_secret_grace(environment):
    # The API keeps a replaced secret working this long; the dashboard says so before a
    # rotation, so the two must never disagree.
    assert load_settings(ApiSettings).api_secret_grace_seconds == 86400
    assert load_settings(DashboardSettings).api_secret_grace_seconds == 86400
    environment.setenv("API_SECRET_GRACE_SECONDS", "3600")
    assert load_settings(ApiSettings).api_secret_grace_seconds == 3600
    assert load_settings(DashboardSettings).api_secret_grace_seconds == 3600


def test_missing_database_url_stops_with_one_line(environment, capsys):
    environment.delenv("DATABASE_URL")
    with pytest.raises(SystemExit) as stopped:
        load_settings(ApiSettings)
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "configuration error: DATABASE_URL is not set\n"


def test_bad_value_names_the_variable(environment, capsys):
    environment.setenv("UPI_SUCCESS_RATE", "1.5")
    with pytest.raises(SystemExit):
        load_settings(PaymentWorkerSettings)
    error = capsys.readouterr().err
    assert error.startswith("configuration error: UPI_SUCCESS_RATE is invalid")
    assert error.count("\n") == 1


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("API_URL", "localhost:8000",
         "API_URL is invalid: expected an http(s) URL, got 'localhost:8000'"),
        ("LOG_LEVEL", "verbose",
         "LOG_LEVEL is invalid: expected one of debug, info, warning, error, critical, got 'verbose'"),
        ("PROCESSING_DELAY_MIN", "20000",
         "PROCESSING_DELAY_MIN must not exceed PROCESSING_DELAY_MAX"),
    ],
)  # fmt: skip
def test_our_own_rules_are_stated_in_our_words(environment, capsys, variable, value, line):
    environment.setenv(variable, value)
    with pytest.raises(SystemExit):
        load_settings(ApiSettings)
    assert capsys.readouterr().err == f"configuration error: {line}\n"


def test_a_service_ignores_the_variables_it_does_not_use(environment):
    # The API never asks the simulated bank for an outcome; the payment worker does.
    environment.setenv("UPI_SUCCESS_RATE", "1.5")
    assert load_settings(ApiSettings).port == 8000
    # The refund worker never decides a payment, nor the migration.
    assert load_settings(WorkerSettings).event_retention_days == 30
    assert load_settings(MigrationSettings).test_api_key == "key_test_abc123"
    # The front ends never open the database; the checkout keeps nothing in Redis either.
    environment.delenv("DATABASE_URL")
    environment.setenv("DB_POOL_SIZE", "not a number")
    assert load_settings(DashboardSettings).redis_url == REQUIRED["REDIS_URL"]
    environment.delenv("REDIS_URL")
    assert load_settings(CheckoutSettings).api_url == "http://localhost:8000"


def test_web_services_read_port_and_host(environment):
    environment.setenv("PORT", "4100")
    environment.setenv("HOST", "0.0.0.0")  # noqa: S104

    for settings_class in (ApiSettings, CheckoutSettings, DemoSettings, DashboardSettings):
        settings = load_settings(settings_class)
        assert (settings.port, settings.host) == (4100, "0.0.0.0"), settings_class  # noqa: S104


@pytest.mark.parametrize(
    ("settings_class", "port_variable", "host_variable"),
    [
        (DashboardSettings, "DASHBOARD_PORT", "DASHBOARD_HOST"),
        (DemoSettings, "DEMO_PORT", None),
        (CheckoutSettings, "CHECKOUT_PORT", None),
    ],
)
def test_a_services_own_address_variables_win(
    environment, capsys, settings_class, port_variable, host_variable
):
    # One environment file holds the API's PORT and, say, the dashboard's DASHBOARD_PORT.
    environment.setenv("PORT", "8000")
    environment.setenv(port_variable, "4200")
    if host_variable:
        environment.setenv("HOST", "127.0.0.1")
        environment.setenv(host_variable, "0.0.0.0")  # noqa: S104
    settings = load_settings(settings_class)
    assert settings.port == 4200
    assert settings.host == ("0.0.0.0" if host_variable else "127.0.0.1")  # noqa: S104

    # A bad value is named by the variable that holds it.
    environment.delenv(port_variable)
    environment.setenv("PORT", "0")
    with pytest.raises(SystemExit):
        load_settings(settings_class)
    assert capsys.readouterr().err.startswith("configuration error: PORT is invalid")


def test_env_example_lists_exactly_the_variables_the_services_read():
    listed = {
        match[1]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if (match := re.match(r"^#? ?([A-Z][A-Z0-9_]+)=", line))
    }
    read = set().union(*(variables(settings) for settings in SERVICES.values()))
    named = set().union(*(variables(settings, aliases=False) for settings in SERVICES.values()))

    assert listed - READ_ELSEWHERE <= read, "listed in .env.example but read by no service"
    assert named <= listed, "read by a service but missing from .env.example"
