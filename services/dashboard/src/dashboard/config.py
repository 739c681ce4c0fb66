"""The dashboard's configuration from the environment, validated once at start.

It does not read DATABASE_URL: the dashboard never opens the database.
"""

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _origin(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or fragment")
    return value.strip().rstrip("/")


HttpUrl = Annotated[str, AfterValidator(_origin)]


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    redis_url: str = Field(min_length=1)
    # Where the dashboard process reaches the API (in compose: http://api:8000).
    api_url: HttpUrl = "http://localhost:8000"
    # What merchants paste into their terminals; defaults to API_URL.
    public_api_url: HttpUrl | None = None
    checkout_url: HttpUrl = "http://localhost:3001"

    # Not PORT: the API reads that one, and `make run` shares one environment.
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = Field(default=3000, ge=1, le=65535)

    api_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    session_idle_seconds: int = Field(default=12 * 3600, ge=60)
    # None: Secure exactly when the request arrived over https.
    cookie_secure: bool | None = None
    log_level: str = "info"

    @property
    def snippet_api_url(self) -> str:
        return self.public_api_url or self.api_url
