"""A webhook URL in a request body, checked before the request holds anything.

Checking a URL resolves its host (docs/webhooks.md#webhook-urls), which takes as long as the
name's DNS servers like, and the merchant chose them. So a route that saves a URL declares
its `*UrlCheckDep` right after `MerchantDep`: the URL is checked once the merchant is
authenticated, before the request's transaction (an Idempotency-Key's holds a pooled
connection), and outside its admission place (`api.middleware.outside_place`). A name that
never answers then holds one lookup thread for LOOKUP_TIMEOUT_S, and nothing other requests
need. The service raises the outcome only where it uses the URL, after the key's claim: a
replay answers its stored response whatever DNS says now.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from api.middleware import outside_place
from api.runtime import ApiRuntime
from shared.domain.webhook_urls import InvalidWebhookUrl, check_webhook_url


@dataclass(frozen=True)
class UrlCheck:
    """The outcome of checking `url` (the body's URL, stripped) ahead: the URL to save, or the
    InvalidWebhookUrl that refuses it. `UrlCheck()`: nothing was checked ahead."""

    url: str | None = None
    outcome: str | InvalidWebhookUrl | None = None

    async def checked(self, url: str, allow_private_networks: bool, field: str) -> str:
        """`url` as `check_webhook_url` gives it, or its InvalidWebhookUrl: the outcome checked
        ahead when `url` is the URL checked, else checked now."""
        if url != self.url or self.outcome is None:
            return await check_webhook_url(url, allow_private_networks, field)
        if isinstance(self.outcome, InvalidWebhookUrl):
            raise self.outcome
        return self.outcome


def url_check(field: str) -> Callable[[Request], Awaitable[UrlCheck]]:
    """A dependency checking the URL the JSON body holds in `field` (module docstring); a body
    without one, or not JSON, is left to the body's validation."""

    async def check_ahead(request: Request) -> UrlCheck:
        runtime: ApiRuntime = request.app.state.runtime
        try:
            body = await request.json()
        except (ValueError, RecursionError):
            return UrlCheck()
        url = body.get(field) if isinstance(body, dict) else None
        if not isinstance(url, str) or not url.strip():
            return UrlCheck()
        url = url.strip()
        allow_private = runtime.settings.webhook_allow_private_networks
        async with outside_place():
            try:
                outcome: str | InvalidWebhookUrl = await check_webhook_url(
                    url, allow_private, field
                )
            except InvalidWebhookUrl as refusal:
                outcome = refusal
        return UrlCheck(url, outcome)

    return check_ahead


# The config's `webhook_url`, and an endpoint's `url`.
ConfigUrlCheckDep = Annotated[UrlCheck, Depends(url_check("webhook_url"))]
EndpointUrlCheckDep = Annotated[UrlCheck, Depends(url_check("url"))]
