"""Configuration from the environment (CONTRACT §2), validated once at start.

The checkout is a static site, so it reads a handful of variables by hand instead of pulling in
the settings stack the API and workers share.
"""

import os
import sys
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit


class ConfigurationError(ValueError):
    """A variable is set to something the service cannot use; the message names it."""


def _origin_url(variable: str, default: str) -> str:
    value = os.environ.get(variable, "").strip() or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"{variable} is invalid: expected an http(s) URL, got {value!r}")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"{variable} is invalid: must not carry a query or fragment")
    return value.rstrip("/")


def _port(variable: str, default: int) -> int:
    value = os.environ.get(variable, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ConfigurationError(f"{variable} is invalid: expected a port 1-65535, got {value!r}")
    return int(value)


def _first_set(*variables: str, default: str) -> str:
    for variable in variables:
        if value := os.environ.get(variable, "").strip():
            return value
    return default


@dataclass(frozen=True)
class CheckoutSettings:
    host: str
    port: int
    api_url: str

    @classmethod
    def from_environ(cls) -> "CheckoutSettings":
        return cls(
            host=os.environ.get("HOST", "").strip() or "127.0.0.1",
            port=_port("PORT", 3001),
            api_url=_origin_url("API_URL", "http://localhost:8000"),
        )


@dataclass(frozen=True)
class DemoSettings:
    host: str
    port: int
    api_url: str
    checkout_url: str
    api_key: str
    api_secret: str

    @classmethod
    def from_environ(cls) -> "DemoSettings":
        return cls(
            host=os.environ.get("HOST", "").strip() or "127.0.0.1",
            port=_port("DEMO_PORT", 3002),
            api_url=_origin_url("API_URL", "http://localhost:8000"),
            checkout_url=_origin_url("CHECKOUT_URL", "http://localhost:3001"),
            api_key=_first_set("TEST_API_KEY", "API_KEY", default="key_test_abc123"),
            api_secret=_first_set("TEST_API_SECRET", "API_SECRET", default="secret_test_xyz789"),
        )


def exit_on_bad_configuration(error: ConfigurationError) -> NoReturn:
    print(f"configuration error: {error}", file=sys.stderr)
    raise SystemExit(2)
