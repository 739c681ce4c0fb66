"""structlog setup: JSON when not on a terminal, readable otherwise; a correlation id per request."""

import logging
import secrets
import sys

import structlog

CORRELATION_ID_KEY = "correlation_id"


def configure_logging(service: str, level: str = "info") -> None:
    renderer: structlog.types.Processor
    if sys.stderr.isatty():
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer()

    def add_service(_: object, __: str, event: dict) -> dict:
        event.setdefault("service", service)
        return event

    shared_processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries that log through the standard library (uvicorn, rq) get the same format.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared_processors,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def new_correlation_id() -> str:
    return "req_" + secrets.token_hex(8)


def bind_correlation_id(correlation_id: str) -> None:
    structlog.contextvars.bind_contextvars(**{CORRELATION_ID_KEY: correlation_id})


def current_correlation_id() -> str | None:
    return structlog.contextvars.get_contextvars().get(CORRELATION_ID_KEY)
