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
import regex
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from payment_gateway.client import Gateway
from payment_gateway.errors import APIConnectionError, APIError
from payment_gateway.resources import Event, Page, Payment, Resource, SignedDelivery

TRIGGERS = ("payment.success", "payment.failed", "refund.processed")
# Events are stamped when their transaction begins and listed once it commits, so one may
# appear after a newer one: each poll re-reads this far behind the newest event seen (never
# before the start), and ids already forwarded are skipped.
LATE_COMMIT_WINDOW = timedelta(seconds=30)
FORWARD_TIMEOUT_S = 5.0
DEFAULT_CONFIG = Path("~/.config/gateway/config.toml")

# Piped output is not cut to 80 columns: ids must survive a pipe.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, highlight=False)


class NoCredentials(click.ClickException):
    """Exit status 2, as a usage error, without click's hint at the subcommand's own help:
    the message points at `gateway --help`, which explains credentials."""

    exit_code = 2


@dataclass
class Context:
    api_key: str | None
    api_secret: str | None
    api_url: str | None
    as_json: bool

    def gateway(self) -> Gateway:
        if not (self.api_key and self.api_secret):
            raise NoCredentials(
                "No credentials: pass --api-key and --api-secret, set GATEWAY_API_KEY and "
                "GATEWAY_API_SECRET, or write api_key and api_secret to the config file "
                f"({_config_path()}; `gateway --help` shows how)"
            )
        return Gateway(self.api_key, self.api_secret, base_url=self.api_url)


def _config_path() -> Path:
    return Path(os.environ.get("GATEWAY_CONFIG") or DEFAULT_CONFIG).expanduser()


def _config_file() -> dict[str, Any]:
    path = _config_path()
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
    """The Payment Gateway from a terminal: follow events, trigger them, list and retry.

    \b
    Credentials, first found wins:
      1. --api-key, --api-secret, --api-url
      2. GATEWAY_API_KEY, GATEWAY_API_SECRET, GATEWAY_API_URL
      3. the config file: GATEWAY_CONFIG, default ~/.config/gateway/config.toml, e.g.
           api_key = "key_test_abc123"
           api_secret = "secret_test_xyz789"
           api_url = "http://localhost:8000"
    """
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


@dataclass(frozen=True)
class Column:
    """A table column: `value(item)` is its cell. An id column is shown whole, never cut or
    dropped; other columns are cut, then dropped from the right, to fit the terminal."""

    name: str
    value: Callable[[Any], Any]
    is_id: bool = False
    # An id column that the table may leave out whole (never cut) when it does not fit.
    droppable: bool = False


GRAPHEME = regex.compile(r"\X")
ELLIPSIS = "…"
MIN_TEXT_WIDTH = 6  # cells a text column keeps before it is dropped instead
TABLE_OVERHEAD = 1  # the table's left border; each column adds its padding and right border
COLUMN_OVERHEAD = 3


def cut(text: str, width: int) -> str:
    """`text` in at most `width` terminal cells, ending with … when cut. Cut between
    graphemes (what a reader sees as one character: an emoji with its modifiers or joiners,
    a flag, a letter with its accents), never inside one."""
    if cell_len(text) <= width:
        return text
    kept: list[str] = []
    used = 0
    for grapheme in GRAPHEME.findall(text):
        size = cell_len(grapheme)
        if used + size > width - cell_len(ELLIPSIS):
            break
        kept.append(grapheme)
        used += size
    return "".join(kept).rstrip() + ELLIPSIS


def fit_columns(
    columns: list[Column], rows: list[list[str]], width: int
) -> tuple[list[int], list[int]]:
    """(indexes of the columns shown, their widths in cells) for a table `width` cells wide.

    Id columns keep their full width. Text columns shrink, widest first, down to
    MIN_TEXT_WIDTH (or their header); while even that does not fit, the rightmost text or
    droppable id column is dropped. Only id columns left and still too wide: the terminal
    wraps the line."""
    shown = list(range(len(columns)))

    def natural(i: int) -> int:
        return max([cell_len(columns[i].name), *(cell_len(row[i]) for row in rows)])

    def floor(i: int) -> int:
        return min(natural(i), max(MIN_TEXT_WIDTH, cell_len(columns[i].name)))

    while True:
        text = [i for i in shown if not columns[i].is_id]
        room = width - TABLE_OVERHEAD - COLUMN_OVERHEAD * len(shown)
        room -= sum(natural(i) for i in shown if columns[i].is_id)
        dropped_first = [i for i in shown if not columns[i].is_id or columns[i].droppable]
        if not dropped_first or sum(floor(i) for i in text) <= room:
            break
        shown.remove(dropped_first[-1])
    widths = {i: natural(i) for i in shown}
    while text and sum(widths[i] for i in text) > room:
        widest = max(text, key=lambda i: widths[i] - floor(i))
        if widths[widest] <= floor(widest):
            break
        widths[widest] -= 1
    return shown, [widths[i] for i in shown]


def render_table(title: str, columns: list[Column], items: list[Any], width: int) -> Table:
    """The items as a table that fits `width` cells without cutting an id (fit_columns);
    a caption names the columns left out."""
    rows = [["" if (v := c.value(item)) is None else str(v) for c in columns] for item in items]
    shown, widths = fit_columns(columns, rows, width)
    hidden = [c.name for i, c in enumerate(columns) if i not in shown]
    caption = f"not shown: {', '.join(hidden)} (--json has all)" if hidden else None
    table = Table(title=title, caption=caption)
    for i, size in zip(shown, widths, strict=True):
        column = columns[i]
        table.add_column(
            column.name if column.is_id else cut(column.name, size),
            min_width=size, max_width=None if column.is_id else size,
            no_wrap=True, overflow="fold" if column.is_id else "ellipsis",
        )  # fmt: skip
    for row in rows:
        table.add_row(*(row[i] if columns[i].is_id else cut(row[i], w)
                        for i, w in zip(shown, widths, strict=True)))  # fmt: skip
    return table


def _show_page(ctx: Context, page: Page[Any], title: str, columns: list[Column]) -> None:
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
    title = f"{title} ({len(page.data)} of {page.total})"
    out.print(render_table(title, columns, list(page.data), out.width))


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
    Column("id", lambda p: p.id, is_id=True),
    Column("order", lambda p: p.order_id, is_id=True),
    Column("amount", lambda p: _rupees(p.amount)),
    Column("method", lambda p: p.method),
    Column("status", lambda p: p.status),
    Column("created", lambda p: p.created_at),
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
    """List payments, newest first."""
    with ctx.gateway() as gateway:
        page = gateway.payments.list(limit=limit, offset=offset, status=status)
    _show_page(ctx, page, "Payments", PAYMENT_COLUMNS)


@payments.command("show")
@click.argument("payment_id")
@pass_context
def payments_show(ctx: Context, payment_id: str) -> None:
    """Show one payment."""
    with ctx.gateway() as gateway:
        _show_one(ctx, gateway.payments.get(payment_id), f"Payment {payment_id}")


WEBHOOK_COLUMNS = [
    Column("id", lambda w: w.id, is_id=True),
    Column("event", lambda w: w.event),
    Column("status", lambda w: w.status),
    Column("attempts", lambda w: w.attempts),
    Column("last attempt", lambda w: w.last_attempt_at),
    Column("response", lambda w: w.response_code),
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
    """List webhook deliveries, newest first; filter by status, event, endpoint or object."""
    with ctx.gateway() as gateway:
        page = gateway.webhooks.list(limit, offset, status=status, event=event,
                                     endpoint_id=endpoint_id, object_id=object_id)  # fmt: skip
    _show_page(ctx, page, "Webhook deliveries", WEBHOOK_COLUMNS + DELIVERY_TARGET_COLUMNS)


@webhooks.command("show")
@click.argument("webhook_id")
@pass_context
def webhooks_show(ctx: Context, webhook_id: str) -> None:
    """Show one delivery and every attempt."""
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
    """Deliver a webhook again now, with a fresh schedule."""
    with ctx.gateway() as gateway:
        retried = gateway.webhooks.retry(webhook_id)
    if ctx.as_json:
        _emit_json(retried.raw)
    else:
        out.print(f"{retried.id}: {retried.message} ({retried.status})")


# Where a delivery went and what it is about (appended to the delivery table's columns).
DELIVERY_TARGET_COLUMNS = [
    Column("endpoint", lambda w: w.endpoint_id, is_id=True, droppable=True),
    Column("object", lambda w: w.object_id, is_id=True, droppable=True),
]

ENDPOINT_COLUMNS = [
    Column("id", lambda e: e.id, is_id=True),
    Column("url", lambda e: e.url),
    Column("events", lambda e: ", ".join(e.events)),
    Column("status", lambda e: e.status + (f" ({e.disabled_reason})" if e.disabled_reason else "")),
    Column("default", lambda e: "yes" if e.default else ""),
    Column("description", lambda e: e.description),
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
    Column("id", lambda e: e.id, is_id=True),
    Column("type", lambda e: e.type),
    Column("object", lambda e: _object_id(e), is_id=True),
    Column("created", lambda e: e.created_at),
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
    """List events, newest first."""
    with ctx.gateway() as gateway:
        page = gateway.events.list(event_type, created_from, created_to, limit, offset)
    _show_page(ctx, page, "Events", EVENT_COLUMNS)


@events.command("show")
@click.argument("event_id")
@pass_context
def events_show(ctx: Context, event_id: str) -> None:
    """Show one event with its exact body and its deliveries."""
    with ctx.gateway() as gateway:
        _show_one(ctx, gateway.events.get(event_id), f"Event {event_id}")


# --- listen ---------------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class EventFollower:
    """The merchant's events created at or after `start`, oldest first, each returned once,
    by polling the events API."""

    def __init__(self, gateway: Gateway, start: datetime, types: tuple[str, ...] = ()):
        self.gateway = gateway
        self.start = start
        self.newest = start
        self.types = set(types)
        self.returned: dict[str, datetime] = {}  # id -> created_at, of the re-read window

    def poll(self) -> list[Event]:
        window_start = max(self.start, self.newest - LATE_COMMIT_WINDOW)
        fresh: dict[str, Event] = {}
        for event in self.gateway.events.iter(created_from=window_start.isoformat()):
            # A page boundary may shift while events arrive: an event can be listed twice.
            if event.id not in self.returned and event.id not in fresh:
                fresh[event.id] = event
        ordered = list(reversed(fresh.values()))  # the API lists newest first
        for event in ordered:
            created = _parse_time(event.created_at or "")
            self.returned[event.id] = created
            self.newest = max(self.newest, created)
        # An id older than the next window cannot be listed again.
        horizon = max(self.start, self.newest - LATE_COMMIT_WINDOW)
        self.returned = {k: v for k, v in self.returned.items() if v >= horizon}
        return [e for e in ordered if not self.types or e.type in self.types]


def forward_event(
    http: httpx.Client, url: str, delivery: SignedDelivery
) -> tuple[int | None, str, float]:
    """POST the event's exact body to `url` with the headers the gateway signed for it (as a
    delivery is signed: every secret in force, both header kinds, webhook-id = the event id);
    returns (status or None, error text, milliseconds)."""
    started = time.monotonic()
    try:
        response = http.post(url, content=delivery.body.encode(), headers=delivery.headers)
    except httpx.HTTPError as exc:
        return None, type(exc).__name__, (time.monotonic() - started) * 1000
    return response.status_code, "", (time.monotonic() - started) * 1000


def _since(_: click.Context, __: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return _parse_time(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO-8601 time: {value!r}") from None


@main.command()
@click.option("--forward-to", required=True, help="Local URL to POST every event to")
@click.option("--events", "event_types", multiple=True, help="Only these types (repeatable)")
@click.option("--since", callback=_since,
              help="Start from events created at or after this ISO-8601 time (UTC unless it "
                   "has an offset), e.g. 2026-01-15T10:30:00Z. Default: when listen starts")  # fmt: skip
@click.option("--interval", type=click.FloatRange(0.05), default=1.0, show_default=True,
              help="Seconds between polls of the events API")  # fmt: skip
@click.option("--max-events", type=click.IntRange(1), help="Stop after forwarding this many")
@click.option("--timeout", type=click.FloatRange(0), help="Stop after this many seconds")
@pass_context
def listen(
    ctx: Context,
    forward_to: str,
    event_types: tuple[str, ...],
    since: datetime | None,
    interval: float,
    max_events: int | None,
    timeout: float | None,
) -> None:
    """Forward the merchant's events to a local endpoint as they happen, with no public URL:
    one line per event with the endpoint's answer. Ctrl-C stops.

    Each event is signed exactly as its webhook deliveries are, by the gateway: with every
    webhook secret in force (during a rotation the replaced ones too), in X-Webhook-Signature
    and the Standard Webhooks headers, webhook-id being the event id.

    What it looks back on: nothing before it starts, unless --since says so; then every event
    created at or after --since, oldest first, then new ones. Each event is forwarded at most
    once per run, whatever your endpoint answers."""
    gateway = ctx.gateway()
    follower = EventFollower(gateway, since or _utc_now(), event_types)
    deadline = None if timeout is None else time.monotonic() + timeout
    forwarded = 0
    start = follower.start.astimezone(UTC).isoformat(timespec="milliseconds")
    err.print(
        f"Forwarding events created from {start.replace('+00:00', 'Z')} to "
        f"[bold]{forward_to}[/bold] (Ctrl-C to stop)"
    )
    with httpx.Client(timeout=FORWARD_TIMEOUT_S, follow_redirects=False) as http:
        try:
            while deadline is None or time.monotonic() < deadline:
                for event in follower.poll():
                    delivery = gateway.events.signed_delivery(event.id)
                    status, error, ms = forward_event(http, forward_to, delivery)
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

# Test values that answer the same whatever TEST_MODE and TEST_PAYMENT_SUCCESS say.
SUCCESS_VPA = "success@razorpay"
FAILURE_VPA = "failure@razorpay"
# The events are looked for from this long before the command started: the API's clock and
# ours may differ a little. Matched by object id, so older events are never taken.
CLOCK_MARGIN = timedelta(seconds=30)
POLL_S = 0.25


def _find_event(
    gateway: Gateway, event_type: str, since: datetime, matches: Callable[[Event], bool]
) -> Event | None:
    start = (since - CLOCK_MARGIN).isoformat()
    return next(
        (e for e in gateway.events.iter(type=event_type, created_from=start) if matches(e)), None
    )


def _wait_for_event(
    gateway: Gateway,
    event_type: str,
    since: datetime,
    matches: Callable[[Event], bool],
    timeout: float,
) -> Event | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := _find_event(gateway, event_type, since, matches):
            return found
        time.sleep(POLL_S)
    return None


def _payment_id_is(payment_id: str) -> Callable[[Event], bool]:
    return lambda event: event.data.get("payment", {}).get("id") == payment_id


def _settled(gateway: Gateway, payment_id: str, timeout: float) -> Payment:
    """The payment once it is no longer pending; ClickException at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        payment = gateway.payments.get(payment_id)
        if payment.status != "pending":
            return payment
        if time.monotonic() >= deadline:
            raise click.ClickException(f"payment {payment_id} still pending after {timeout:g} s")
        time.sleep(POLL_S)


def _payment_event(
    gateway: Gateway, event_type: str, since: datetime, payment: Payment, timeout: float
) -> Event:
    """The payment's `payment.success` or `payment.failed` event; as soon as the payment
    settles the other way, a ClickException that says how it ended."""
    wanted = event_type.removeprefix("payment.")
    settled = _settled(gateway, payment.id, timeout)
    if settled.status != wanted:
        reason = (
            f" ({settled.error_code}: {settled.error_description})" if settled.error_code else ""
        )
        raise click.ClickException(
            f"payment {payment.id} ended {settled.status}{reason}, so no {event_type} will come"
        )
    # The event is stored in the transaction that settled the payment: it is there now.
    found = _wait_for_event(gateway, event_type, since, _payment_id_is(payment.id), timeout)
    if found is None:
        raise click.ClickException(f"payment {payment.id} is {wanted} but no {event_type} event")
    return found


@main.command()
@click.argument("event", type=click.Choice(TRIGGERS))
@click.option("--amount", type=click.IntRange(100), default=50000, show_default=True,
              help="Order amount in paise")  # fmt: skip
@click.option("--timeout", type=click.FloatRange(1), default=60.0, show_default=True,
              help="Seconds to wait for the event")  # fmt: skip
@pass_context
def trigger(ctx: Context, event: str, amount: int, timeout: float) -> None:
    """Create what EVENT takes (an order and a payment; a refund for refund.processed) and
    wait until the event happens, in any mode.

    The payment uses the gateway's test values: the VPA success@razorpay (always succeeds)
    for payment.success and refund.processed, failure@razorpay (always fails,
    PAYMENT_FAILED) for payment.failed. If the payment ends the other way, it says so at once
    instead of waiting."""
    since = _utc_now()
    vpa = FAILURE_VPA if event == "payment.failed" else SUCCESS_VPA
    with ctx.gateway() as gateway:
        order = gateway.orders.create(amount=amount, receipt=f"trigger {event}")
        payment = gateway.payments.create(order.id, "upi", vpa=vpa)
        created: dict[str, Any] = {"order": order.id, "payment": payment.id}
        with _waiting(ctx, f"Waiting for {event}..."):
            if event != "refund.processed":
                found: Event | None = _payment_event(gateway, event, since, payment, timeout)
            else:
                _payment_event(gateway, "payment.success", since, payment, timeout)
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
