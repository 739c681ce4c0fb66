"""`gateway`: the Payment Gateway from a terminal.

    gateway listen --forward-to http://localhost:5000/hook   # events to a local endpoint, signed
    gateway trigger payment.success                          # make one happen, in test mode
    gateway events list --type payment.failed
    gateway payments list --status success --json

Credentials come from --api-key/--api-secret/--api-url, else GATEWAY_API_KEY,
GATEWAY_API_SECRET and GATEWAY_API_URL, else a TOML file (GATEWAY_CONFIG, default
~/.config/gateway/config.toml) with api_key, api_secret and api_url.
"""

import json
import os
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.table import Table

from payment_gateway.client import Gateway
from payment_gateway.errors import APIConnectionError, APIError
from payment_gateway.resources import Event, Page, Resource
from payment_gateway.webhooks import sign

TRIGGERS = ("payment.success", "payment.failed", "refund.processed")
# Events are stamped when their transaction begins and seen when it commits: look back this
# far on every poll so none committed late is missed (ids already forwarded are skipped).
LISTEN_OVERLAP = timedelta(seconds=30)
FORWARD_TIMEOUT_S = 5.0
DEFAULT_CONFIG = Path("~/.config/gateway/config.toml")

# Piped output is not cut to 80 columns: ids must survive a pipe.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, highlight=False)


@dataclass
class Context:
    api_key: str | None
    api_secret: str | None
    api_url: str | None
    as_json: bool

    def gateway(self) -> Gateway:
        if not (self.api_key and self.api_secret):
            raise click.UsageError(
                "No credentials: pass --api-key and --api-secret, set GATEWAY_API_KEY and "
                "GATEWAY_API_SECRET, or write them to the config file (see gateway --help)"
            )
        return Gateway(self.api_key, self.api_secret, base_url=self.api_url)


def _config_file() -> dict[str, Any]:
    path = Path(os.environ.get("GATEWAY_CONFIG") or DEFAULT_CONFIG).expanduser()
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.UsageError(f"Cannot read the config file {path}: {exc}") from exc


_pass_context = click.make_pass_decorator(Context)


def pass_context(command: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the Context, and accept --json after the command too (`gateway payments list
    --json` as well as `gateway --json payments list`)."""

    def set_json(ctx: click.Context, _: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(Context).as_json = True

    return click.option(
        "--json", "as_json_here", is_flag=True, expose_value=False, callback=set_json,
        help="Print JSON instead of tables",
    )(_pass_context(command))  # fmt: skip


class GatewayGroup(click.Group):
    """Turns API and connection errors into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except APIError as exc:
            field = f" (field {exc.field})" if exc.field else ""
            request = f" [request {exc.request_id}]" if exc.request_id else ""
            err.print(f"[red]Error[/red] {exc.code}: {exc.description}{field}{request}")
            sys.exit(1)
        except APIConnectionError as exc:
            err.print(f"[red]Error[/red] cannot reach the API: {exc}")
            sys.exit(1)


@click.group(cls=GatewayGroup)
@click.option("--api-key", envvar="GATEWAY_API_KEY", help="Merchant API key")
@click.option("--api-secret", envvar="GATEWAY_API_SECRET", help="Merchant API secret")
@click.option("--api-url", envvar="GATEWAY_API_URL", help="API base URL [http://localhost:8000]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables")
@click.version_option(package_name="payment-gateway-client")
@click.pass_context
def main(
    ctx: click.Context,
    api_key: str | None,
    api_secret: str | None,
    api_url: str | None,
    as_json: bool,
) -> None:
    """The Payment Gateway from a terminal: follow events, trigger them, list and retry."""
    config = _config_file()
    ctx.obj = Context(
        api_key=api_key or config.get("api_key"),
        api_secret=api_secret or config.get("api_secret"),
        api_url=api_url or config.get("api_url"),
        as_json=as_json,
    )


# --- output -------------------------------------------------------------------------------


def _emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False))


def _rupees(paise: int | None) -> str:
    return "" if paise is None else f"₹{paise / 100:,.2f}"


def _show_page(
    ctx: Context, page: Page[Any], title: str, columns: list[tuple[str, Callable[[Any], Any]]]
) -> None:
    if ctx.as_json:
        _emit_json(
            {
                "data": [item.raw for item in page.data],
                "total": page.total,
                "limit": page.limit,
                "offset": page.offset,
                "total_is_estimate": page.total_is_estimate,
            }
        )
        return
    table = Table(title=f"{title} ({len(page.data)} of {page.total})")
    for name, _ in columns:
        table.add_column(name)
    for item in page.data:
        table.add_row(*("" if (v := value(item)) is None else str(v) for _, value in columns))
    out.print(table)


def _show_one(ctx: Context, resource: Resource, title: str) -> None:
    if ctx.as_json:
        _emit_json(resource.raw)
        return
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in resource.raw.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        table.add_row(key, "" if shown is None else str(shown))
    out.print(table)


@contextmanager
def _waiting(ctx: Context, message: str) -> Iterator[None]:
    """A spinner on stderr while waiting (stdout stays clean for --json)."""
    if not err.is_terminal:
        err.print(message)
        yield
        return
    with err.status(message):
        yield


# --- payments, webhooks, events --------------------------------------------------------------

PAYMENT_COLUMNS = [
    ("id", lambda p: p.id),
    ("order", lambda p: p.order_id),
    ("amount", lambda p: _rupees(p.amount)),
    ("method", lambda p: p.method),
    ("status", lambda p: p.status),
    ("created", lambda p: p.created_at),
]


@main.group()
def payments() -> None:
    """List and show payments."""


@payments.command("list")
@click.option("--status", type=click.Choice(["pending", "success", "failed"]))
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@pass_context
def payments_list(ctx: Context, status: str | None, limit: int, offset: int) -> None:
    with ctx.gateway() as gateway:
        page = gateway.payments.list(limit=limit, offset=offset, status=status)
    _show_page(ctx, page, "Payments", PAYMENT_COLUMNS)


@payments.command("show")
@click.argument("payment_id")
@pass_context
def payments_show(ctx: Context, payment_id: str) -> None:
    with ctx.gateway() as gateway:
        _show_one(ctx, gateway.payments.get(payment_id), f"Payment {payment_id}")


WEBHOOK_COLUMNS = [
    ("id", lambda w: w.id),
    ("event", lambda w: w.event),
    ("status", lambda w: w.status),
    ("attempts", lambda w: w.attempts),
    ("last attempt", lambda w: w.last_attempt_at),
    ("response", lambda w: w.response_code),
]


@main.group()
def webhooks() -> None:
    """List, show and retry webhook deliveries; manage endpoints (webhooks endpoints --help)."""


@webhooks.command("list")
@click.option("--status", type=click.Choice(["pending", "success", "failed"]))
@click.option("--event", help="Only deliveries of this event type, e.g. payment.success")
@click.option("--endpoint", "endpoint_id", help="Only deliveries to this endpoint (we_…)")
@click.option("--object", "object_id", help="Only deliveries about this payment or refund id")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@pass_context
def webhooks_list(
    ctx: Context,
    status: str | None,
    event: str | None,
    endpoint_id: str | None,
    object_id: str | None,
    limit: int,
    offset: int,
) -> None:
    with ctx.gateway() as gateway:
        page = gateway.webhooks.list(limit, offset, status=status, event=event,
                                     endpoint_id=endpoint_id, object_id=object_id)  # fmt: skip
    _show_page(ctx, page, "Webhook deliveries", WEBHOOK_COLUMNS + DELIVERY_TARGET_COLUMNS)


@webhooks.command("show")
@click.argument("webhook_id")
@pass_context
def webhooks_show(ctx: Context, webhook_id: str) -> None:
    with ctx.gateway() as gateway:
        log = gateway.webhooks.get(webhook_id)
    if ctx.as_json:
        _emit_json(log.raw)
        return
    _show_one(ctx, type(log).from_dict({k: v for k, v in log.raw.items()
                                         if k != "attempt_history"}), f"Delivery {webhook_id}")  # fmt: skip
    attempts = Table(title="Attempts")
    for name in ("#", "at", "ms", "response", "error"):
        attempts.add_column(name)
    for a in log.attempt_history:
        attempts.add_row(str(a.attempt_number), a.attempted_at or "", str(a.duration_ms),
                         str(a.response_code or ""), a.error or "")  # fmt: skip
    out.print(attempts)


@webhooks.command("retry")
@click.argument("webhook_id")
@pass_context
def webhooks_retry(ctx: Context, webhook_id: str) -> None:
    with ctx.gateway() as gateway:
        retried = gateway.webhooks.retry(webhook_id)
    if ctx.as_json:
        _emit_json(retried.raw)
    else:
        out.print(f"{retried.id}: {retried.message} ({retried.status})")


# Where a delivery went and what it is about (appended to the delivery table's columns).
DELIVERY_TARGET_COLUMNS = [
    ("endpoint", lambda w: w.endpoint_id),
    ("object", lambda w: w.object_id),
]

ENDPOINT_COLUMNS = [
    ("id", lambda e: e.id),
    ("url", lambda e: e.url),
    ("events", lambda e: ", ".join(e.events)),
    ("status", lambda e: e.status + (f" ({e.disabled_reason})" if e.disabled_reason else "")),
    ("default", lambda e: "yes" if e.default else ""),
    ("description", lambda e: e.description),
]


def _event_types(value: str | None) -> list[str] | None:
    """`payment.success,refund.processed` -> a list; `*` stays `["*"]`."""
    if value is None:
        return None
    types = [part.strip() for part in value.split(",") if part.strip()]
    if not types:
        raise click.BadParameter(
            "name at least one event type, or * for all", param_hint="--events"
        )
    return types


@webhooks.group()
def endpoints() -> None:
    """Manage webhook endpoints: up to 20 URLs, each with its own event filter and secret.

    \b
    gateway webhooks endpoints create https://erp.example/hooks --events refund.processed
    gateway webhooks endpoints recover we_… --since 2026-01-15T09:00:00Z
    """


@endpoints.command("list")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@pass_context
def endpoints_list(ctx: Context, limit: int, offset: int) -> None:
    """List the endpoints, the default one (the config's URL) included."""
    with ctx.gateway() as gateway:
        page = gateway.webhook_endpoints.list(limit, offset)
    _show_page(ctx, page, "Webhook endpoints", ENDPOINT_COLUMNS)


def _show_endpoint(ctx: Context, endpoint: Any, title: str, *, with_secret: bool = False) -> None:
    shown = dict(endpoint.raw)
    if not with_secret and not ctx.as_json:
        shown.pop("secret", None)
    _show_one(ctx, type(endpoint).from_dict(shown), title)


@endpoints.command("create")
@click.argument("url")
@click.option("--events", "events", help="Comma-separated event types it takes [* = all]")
@click.option("--description", help="What this endpoint is for, e.g. 'ERP refunds'")
@pass_context
def endpoints_create(ctx: Context, url: str, events: str | None, description: str | None) -> None:
    """Add an endpoint that receives the events it takes at URL; prints its signing secret."""
    with ctx.gateway() as gateway:
        endpoint = gateway.webhook_endpoints.create(url, _event_types(events), description)
    _show_endpoint(ctx, endpoint, f"Endpoint {endpoint.id}", with_secret=True)


@endpoints.command("show")
@click.argument("endpoint_id")
@click.option("--show-secret", is_flag=True, help="Print the signing secret too")
@pass_context
def endpoints_show(ctx: Context, endpoint_id: str, show_secret: bool) -> None:
    """One endpoint with its health: deliveries that succeeded and failed in the last 24 h."""
    with ctx.gateway() as gateway:
        endpoint = gateway.webhook_endpoints.get(endpoint_id)
    _show_endpoint(ctx, endpoint, f"Endpoint {endpoint_id}", with_secret=show_secret)


@endpoints.command("update")
@click.argument("endpoint_id")
@click.option("--url", help="New URL")
@click.option("--events", help="Comma-separated event types it takes (* = all)")
@click.option("--description", help="New description ('' clears it)")
@pass_context
def endpoints_update(
    ctx: Context,
    endpoint_id: str,
    url: str | None,
    events: str | None,
    description: str | None,
) -> None:
    """Change an endpoint's URL, event filter or description; what is not given stays."""
    if url is None and events is None and description is None:
        raise click.UsageError("Give at least one of --url, --events, --description")
    with ctx.gateway() as gateway:
        endpoint = gateway.webhook_endpoints.update(
            endpoint_id, url=url, events=_event_types(events), description=description
        )
    _show_endpoint(ctx, endpoint, f"Endpoint {endpoint_id}")


@endpoints.command("enable")
@click.argument("endpoint_id")
@pass_context
def endpoints_enable(ctx: Context, endpoint_id: str) -> None:
    """Send events to the endpoint again. Events missed meanwhile are not sent: use recover."""
    with ctx.gateway() as gateway:
        endpoint = gateway.webhook_endpoints.enable(endpoint_id)
    _show_endpoint(ctx, endpoint, f"Endpoint {endpoint_id}")


@endpoints.command("disable")
@click.argument("endpoint_id")
@pass_context
def endpoints_disable(ctx: Context, endpoint_id: str) -> None:
    """Stop sending events to the endpoint; its pending deliveries end failed. Events are
    kept: recover sends them once it is enabled again."""
    with ctx.gateway() as gateway:
        endpoint = gateway.webhook_endpoints.disable(endpoint_id)
    _show_endpoint(ctx, endpoint, f"Endpoint {endpoint_id}")


@endpoints.command("rotate-secret")
@click.argument("endpoint_id")
@pass_context
def endpoints_rotate_secret(ctx: Context, endpoint_id: str) -> None:
    """A new signing secret for the endpoint; the old one keeps signing for 24 hours."""
    with ctx.gateway() as gateway:
        endpoint = gateway.webhook_endpoints.rotate_secret(endpoint_id)
    _show_endpoint(ctx, endpoint, f"Endpoint {endpoint_id}", with_secret=True)


@endpoints.command("delete")
@click.argument("endpoint_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation")
@pass_context
def endpoints_delete(ctx: Context, endpoint_id: str, yes: bool) -> None:
    """Delete an endpoint: its pending deliveries end failed, its logs stay."""
    if not yes:
        click.confirm(f"Delete endpoint {endpoint_id}?", abort=True, err=True)
    with ctx.gateway() as gateway:
        gateway.webhook_endpoints.delete(endpoint_id)
    if ctx.as_json:
        _emit_json({"id": endpoint_id, "deleted": True})
    else:
        out.print(f"{endpoint_id}: deleted")


@endpoints.command("recover")
@click.argument("endpoint_id")
@click.option("--since", required=True, help="ISO-8601 start of the window (at most 30 days back)")
@click.option("--until", help="ISO-8601 end of the window [now]")
@pass_context
def endpoints_recover(ctx: Context, endpoint_id: str, since: str, until: str | None) -> None:
    """Deliver again every event of the window that the endpoint takes and that has no
    successful or pending delivery to it (same webhook-id, new delivery logs). The endpoint
    must be enabled. Running it twice sends nothing twice."""
    with ctx.gateway() as gateway:
        queued = gateway.webhook_endpoints.recover(endpoint_id, since, until)
    if ctx.as_json:
        _emit_json(queued.raw)
    else:
        out.print(f"{endpoint_id}: {queued.queued} event(s) queued for delivery")


EVENT_COLUMNS = [
    ("id", lambda e: e.id),
    ("type", lambda e: e.type),
    ("created", lambda e: e.created_at),
    ("object", lambda e: _object_id(e)),
]


def _object_id(event: Event) -> str:
    for kind in ("payment", "refund"):
        if isinstance(event.data.get(kind), dict):
            return event.data[kind].get("id", "")
    return ""


@main.group()
def events() -> None:
    """List and show events (every event is stored, with or without a webhook URL)."""


@events.command("list")
@click.option("--type", "event_type", help="Only events of this type, e.g. payment.success")
@click.option("--from", "created_from", help="ISO-8601: created at or after")
@click.option("--to", "created_to", help="ISO-8601: created at or before")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@pass_context
def events_list(
    ctx: Context,
    event_type: str | None,
    created_from: str | None,
    created_to: str | None,
    limit: int,
    offset: int,
) -> None:
    with ctx.gateway() as gateway:
        page = gateway.events.list(event_type, created_from, created_to, limit, offset)
    _show_page(ctx, page, "Events", EVENT_COLUMNS)


@events.command("show")
@click.argument("event_id")
@pass_context
def events_show(ctx: Context, event_id: str) -> None:
    with ctx.gateway() as gateway:
        _show_one(ctx, gateway.events.get(event_id), f"Event {event_id}")


# --- listen ---------------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class EventFollower:
    """New events of a merchant, oldest first, each once, by polling the events API."""

    def __init__(self, gateway: Gateway, since: datetime, types: tuple[str, ...] = ()):
        self.gateway = gateway
        self.cursor = since
        self.types = set(types)
        self.seen: dict[str, datetime] = {}

    def poll(self) -> list[Event]:
        window_start = self.cursor - LISTEN_OVERLAP
        fresh = [
            event
            for event in self.gateway.events.iter(created_from=window_start.isoformat())
            if event.id not in self.seen
        ]
        fresh.reverse()  # the API lists newest first
        for event in fresh:
            created = _parse_time(event.created_at or "")
            self.seen[event.id] = created
            self.cursor = max(self.cursor, created)
        horizon = self.cursor - 2 * LISTEN_OVERLAP
        self.seen = {k: v for k, v in self.seen.items() if v >= horizon}
        return [e for e in fresh if not self.types or e.type in self.types]


def forward_event(
    http: httpx.Client, url: str, secret: str, event_id: str, body: str
) -> tuple[int | None, str, float]:
    """POST the event's exact body to `url` signed as the dispatcher signs a delivery (both
    headers, webhook-id = the event id); returns (status or None, error text, milliseconds)."""
    raw = body.encode()
    started = time.monotonic()
    try:
        response = http.post(url, content=raw, headers=sign(secret, event_id, raw))
    except httpx.HTTPError as exc:
        return None, type(exc).__name__, (time.monotonic() - started) * 1000
    return response.status_code, "", (time.monotonic() - started) * 1000


@main.command()
@click.option("--forward-to", required=True, help="Local URL to POST every event to")
@click.option("--events", "event_types", multiple=True, help="Only these types (repeatable)")
@click.option("--since", help="Also forward events created since this ISO-8601 time")
@click.option("--interval", type=click.FloatRange(0.05), default=1.0, show_default=True,
              help="Seconds between polls of the events API")  # fmt: skip
@click.option("--max-events", type=click.IntRange(1), help="Stop after forwarding this many")
@click.option("--timeout", type=click.FloatRange(0), help="Stop after this many seconds")
@pass_context
def listen(
    ctx: Context,
    forward_to: str,
    event_types: tuple[str, ...],
    since: str | None,
    interval: float,
    max_events: int | None,
    timeout: float | None,
) -> None:
    """Forward the merchant's events to a local endpoint as they happen, signed exactly as
    webhook deliveries are (X-Webhook-Signature and Standard Webhooks), with no public URL:
    one line per event with the endpoint's answer. Ctrl-C stops."""
    gateway = ctx.gateway()
    secret = gateway.webhooks.config().webhook_secret
    follower = EventFollower(gateway, _parse_time(since) if since else _utc_now(), event_types)
    deadline = None if timeout is None else time.monotonic() + timeout
    forwarded = 0
    err.print(f"Forwarding events to [bold]{forward_to}[/bold] (Ctrl-C to stop)")
    with httpx.Client(timeout=FORWARD_TIMEOUT_S, follow_redirects=False) as http:
        try:
            while deadline is None or time.monotonic() < deadline:
                for event in follower.poll():
                    body = gateway.events.get(event.id).body or ""
                    status, error, ms = forward_event(http, forward_to, secret, event.id, body)
                    _print_forwarded(ctx, event, status, error, ms)
                    forwarded += 1
                    if max_events is not None and forwarded >= max_events:
                        return
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
        finally:
            gateway.close()


def _print_forwarded(ctx: Context, event: Event, status: int | None, error: str, ms: float) -> None:
    if ctx.as_json:
        _emit_json({"id": event.id, "type": event.type, "created_at": event.created_at,
                    "status": status, "error": error or None, "duration_ms": round(ms)})  # fmt: skip
        return
    if status is None:
        answer = f"[red]{error}[/red]"
    else:
        colour = "green" if 200 <= status < 300 else "red"
        answer = f"[{colour}]{status}[/{colour}]"
    out.print(
        f"{event.created_at}  {event.type:<17} {event.id}  {_object_id(event)}"
        f"  -> {answer} ({ms:.0f} ms)"
    )


# --- trigger --------------------------------------------------------------------------------


def _wait_for_event(
    gateway: Gateway,
    event_type: str,
    since: datetime,
    matches: Callable[[Event], bool],
    timeout: float,
) -> Event | None:
    deadline = time.monotonic() + timeout
    start = (since - LISTEN_OVERLAP).isoformat()
    while time.monotonic() < deadline:
        for event in gateway.events.iter(type=event_type, created_from=start):
            if matches(event):
                return event
        time.sleep(0.25)
    return None


def _payment_id_in(ids: set[str]) -> Callable[[Event], bool]:
    return lambda event: event.data.get("payment", {}).get("id") in ids


def _wait_settled(gateway: Gateway, payment_id: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = gateway.payments.get(payment_id).status
        if status != "pending":
            return status
        time.sleep(0.25)
    return "pending"


@main.command()
@click.argument("event", type=click.Choice(TRIGGERS))
@click.option("--amount", type=click.IntRange(100), default=50000, show_default=True,
              help="Order amount in paise")  # fmt: skip
@click.option("--timeout", type=click.FloatRange(1), default=60.0, show_default=True,
              help="Seconds to wait for the event")  # fmt: skip
@pass_context
def trigger(ctx: Context, event: str, amount: int, timeout: float) -> None:
    """Create what EVENT takes (an order and a payment; a refund for refund.processed) and
    wait until the event happens. Meant for a gateway in test mode (TEST_MODE=true).

    payment.failed pays one order twice at once: whichever payment loses ends failed
    (ORDER_ALREADY_PAID), so it works whatever TEST_PAYMENT_SUCCESS says."""
    since = _utc_now()
    with ctx.gateway() as gateway:
        order = gateway.orders.create(amount=amount, receipt=f"trigger {event}")
        payment = gateway.payments.create(order.id, "upi", vpa="success@upi")
        created: dict[str, Any] = {"order": order.id, "payment": payment.id}
        with _waiting(ctx, f"Waiting for {event}..."):
            if event == "payment.success":
                found = _wait_for_event(
                    gateway, event, since, _payment_id_in({payment.id}), timeout
                )
            elif event == "payment.failed":
                ids = {payment.id}
                try:
                    rival = gateway.payments.create(order.id, "upi", vpa="rival@upi")
                    ids.add(rival.id)
                    created["rival_payment"] = rival.id
                except APIError:
                    pass  # the first one finished already; it may have failed itself
                found = _wait_for_event(gateway, event, since, _payment_id_in(ids), timeout)
            else:
                if _wait_settled(gateway, payment.id, timeout) != "success":
                    raise click.ClickException(f"payment {payment.id} did not succeed")
                refund = gateway.refunds.create(payment.id, reason="gateway trigger")
                created["refund"] = refund.id
                found = _wait_for_event(
                    gateway, event, since,
                    lambda e: e.data.get("refund", {}).get("id") == refund.id, timeout,
                )  # fmt: skip
    if found is None:
        raise click.ClickException(f"no {event} event within {timeout:g} s (created {created})")
    if ctx.as_json:
        _emit_json({"event": found.raw, "created": created})
    else:
        created_text = ", ".join(f"{k} {v}" for k, v in created.items())
        out.print(f"[green]{found.type}[/green] {found.id} ({created_text})")
