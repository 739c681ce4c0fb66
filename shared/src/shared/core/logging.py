"""structlog setup: JSON lines for machines, coloured console lines for people; a correlation
id per request.

LOG_FORMAT picks the renderer: `json`, `console`, or `auto` (the default: console when stderr
is a terminal, JSON otherwise, so containers and pipes get JSON). `make run` sets `console`
for its children when its own output is a terminal, since they write into its pipe.
"""

import logging
import os
import re
import secrets
import sys
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog

CORRELATION_ID_KEY = "correlation_id"
LOG_FORMATS = ("auto", "console", "json")
# uvicorn installs handlers of its own on these; without them its start and stop lines follow ours.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def log_format(environ: dict[str, str] | None = None, *, tty: bool | None = None) -> str:
    """`console` or `json`, from LOG_FORMAT (`auto` when unset) and whether stderr is a terminal.

    Raises SystemExit(2) with one line naming LOG_FORMAT when it holds anything else.
    """
    environ = dict(os.environ) if environ is None else environ
    chosen = environ.get("LOG_FORMAT", "").strip().lower() or "auto"
    if chosen not in LOG_FORMATS:
        print(
            f"configuration error: LOG_FORMAT is invalid: expected one of "
            f"{', '.join(LOG_FORMATS)}, got {chosen!r}",
            file=sys.stderr,
        )
        raise SystemExit(2)
    if chosen == "auto":
        return "console" if (sys.stderr.isatty() if tty is None else tty) else "json"
    return chosen


def shorten_lists(_: object, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Console lines only: a list of several values (the deliveries a payment queued, the
    migrations applied) shows its first and how many more, `first (+N more)`, so a line stays
    short enough to read; the JSON line keeps every value."""
    for key, value in event.items():
        if isinstance(value, list | tuple) and len(value) > 1:
            event[key] = f"{value[0]} (+{len(value) - 1} more)"
    return event


class CurrentStderr:
    """A text stream that writes to whatever `sys.stderr` is at the time of each write.

    structlog's loggers and `logging.StreamHandler` keep the stream they were given, so one
    configured while a test captured stderr (pytest's `capsys`) would go on writing to that
    capture after pytest closed it ("I/O operation on closed file"); structlog has no factory
    of its own that looks `sys.stderr` up per write.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


CURRENT_STDERR = CurrentStderr()


def configure_logging(service: str, level: str = "info") -> None:
    """Route structlog and the standard library (uvicorn, rq) through one renderer on stderr
    (the `sys.stderr` of each write, not of this call).

    `level` is a level name (`debug`, `info`, `warning` ...); the format comes from LOG_FORMAT.
    """
    renderer: structlog.types.Processor
    console = log_format() == "console"
    if console:
        # NO_COLOR (no-color.org) turns colours off; a pipe from `make run` keeps them.
        renderer = structlog.dev.ConsoleRenderer(
            colors="NO_COLOR" not in os.environ,
            # Rich tracebacks would print local variables: card numbers must never reach a log.
            exception_formatter=structlog.dev.plain_traceback,
            # Short lines for a person: no columns of padding.
            pad_event_to=0,
            pad_level=False,
        )
        # The wall-clock time to the second; the date and microseconds are for machines.
        timestamper = structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False)
    else:
        renderer = structlog.processors.JSONRenderer()
        timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)

    def add_service(
        _: object, __: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event.setdefault("service", service)
        return event

    shared_processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        # A console line leaves the service out: a person ran it, or `make run` names it in
        # front of each line.
        *([] if console else [add_service]),
        structlog.processors.add_log_level,
        timestamper,
    ]
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            *([shorten_lists] if console else []),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        # One write per line (print() writes the line and its newline apart, so a line from
        # another thread, e.g. rq's through the handler below, could land in between).
        # CurrentStderr has the two methods WriteLogger calls, not all of typing.TextIO.
        logger_factory=structlog.WriteLoggerFactory(file=CURRENT_STDERR),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    # Libraries that log through the standard library (uvicorn, rq) get the same format.
    handler = logging.StreamHandler(CURRENT_STDERR)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared_processors,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:
        logging.getLogger(name).handlers.clear()
        # Our middleware logs each request once, with its correlation id: no access log.
        logging.getLogger(name).propagate = name != "uvicorn.access"


def new_correlation_id() -> str:
    return "req_" + secrets.token_hex(8)


def bind_correlation_id(correlation_id: str) -> None:
    structlog.contextvars.bind_contextvars(**{CORRELATION_ID_KEY: correlation_id})


def current_correlation_id() -> str | None:
    return structlog.contextvars.get_contextvars().get(CORRELATION_ID_KEY)


def redact_url(url: str) -> str:
    """`url` fit for a log line: the password of a URL or of a `key=value` conninfo becomes ***."""
    parts = urlsplit(url)
    if parts.scheme and parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", url)
