"""The dashboard's configuration from the environment, validated once at start.

It does not read DATABASE_URL: the dashboard never opens the database.
"""

from pydantic import AliasChoices, Field

from shared.core.client_address import ClientAddressSettings
from shared.core.settings import (
    ApiSecretGraceSettings,
    Port,
    RedisSettings,
    ServiceUrl,
    ServiceUrls,
    WebServerSettings,
)


class DashboardSettings(
    WebServerSettings, RedisSettings, ServiceUrls, ApiSecretGraceSettings, ClientAddressSettings
):
    """Redis (sessions), the service URLs (it calls API_URL from its server), where it listens,
    the API's secret grace (said before a rotation), whose address a visitor has
    (TRUSTED_PROXIES: the dashboard's own reverse proxies) and the SERVICE_SECRET that lets it
    tell the API, and its own below."""

    # DASHBOARD_HOST/DASHBOARD_PORT, when set, win over HOST/PORT: one environment file can
    # then hold the API's PORT and the dashboard's.
    host: str = Field(
        default="127.0.0.1", min_length=1, validation_alias=AliasChoices("DASHBOARD_HOST", "HOST")
    )
    port: Port = Field(default=3000, validation_alias=AliasChoices("DASHBOARD_PORT", "PORT"))
    # What merchants paste into their terminals; defaults to API_URL.
    public_api_url: ServiceUrl | None = None

    api_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    session_idle_seconds: int = Field(default=12 * 3600, ge=60)
    # None: Secure exactly when the request arrived over https.
    cookie_secure: bool | None = None

    @property
    def snippet_api_url(self) -> str:
        return self.public_api_url or self.api_url
