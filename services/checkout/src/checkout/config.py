"""The checkout's and the demo shop's configuration from the environment, validated once at
start (docs/operations/configuration.md#variables)."""

from pydantic import AliasChoices, Field

from shared.core.settings import Port, ServiceUrls, WebServerSettings
from shared.domain.seed import SeededMerchantSettings
from shared.domain.simulation import BankModeSettings


class CheckoutSettings(WebServerSettings, ServiceUrls, BankModeSettings):
    """Where it listens (PORT 3001), API_URL, which it writes into the page: the address
    the shopper's browser reaches the API at, and TEST_MODE: in test mode the page lists the
    test values that make a payment succeed, fail or be declined."""

    # CHECKOUT_PORT, when set, wins over PORT: one environment file can hold both.
    port: Port = Field(default=3001, validation_alias=AliasChoices("CHECKOUT_PORT", "PORT"))


class DemoSettings(WebServerSettings, ServiceUrls, SeededMerchantSettings, BankModeSettings):
    """Where it listens (PORT 3002), API_URL (its server creates orders there), CHECKOUT_URL
    (where the page loads the SDK from), the test merchant it sells as, and TEST_MODE, which
    the page's note names only when it is on."""

    # DEMO_PORT, when set, wins over PORT: one environment file can hold both.
    port: Port = Field(default=3002, validation_alias=AliasChoices("DEMO_PORT", "PORT"))
