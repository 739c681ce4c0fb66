import pytest

from shared.settings import GatewaySettings, load_settings

REQUIRED = {"DATABASE_URL": "postgresql://x/y", "REDIS_URL": "redis://x"}


@pytest.fixture
def environment(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "TEST_MODE", "UPI_SUCCESS_RATE", "API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_follow_the_contract(environment):
    for name, value in REQUIRED.items():
        environment.setenv(name, value)
    settings = load_settings(GatewaySettings)
    assert settings.test_mode is False and settings.test_processing_delay == 1000
    assert (settings.upi_success_rate, settings.card_success_rate) == (0.90, 0.95)
    assert (settings.processing_delay_min, settings.processing_delay_max) == (5000, 10000)
    assert settings.test_api_key == "key_test_abc123"


def test_seed_guide_aliases_are_accepted(environment):
    for name, value in REQUIRED.items():
        environment.setenv(name, value)
    environment.setenv("API_KEY", "key_alias")
    assert load_settings(GatewaySettings).test_api_key == "key_alias"


def test_missing_database_url_stops_with_one_line(environment, capsys):
    environment.setenv("REDIS_URL", "redis://x")
    with pytest.raises(SystemExit) as stopped:
        load_settings(GatewaySettings)
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "configuration error: DATABASE_URL is not set\n"


def test_bad_value_names_the_variable(environment, capsys):
    for name, value in REQUIRED.items():
        environment.setenv(name, value)
    environment.setenv("UPI_SUCCESS_RATE", "1.5")
    with pytest.raises(SystemExit):
        load_settings(GatewaySettings)
    error = capsys.readouterr().err
    assert error.startswith("configuration error: UPI_SUCCESS_RATE is invalid")
    assert error.count("\n") == 1
