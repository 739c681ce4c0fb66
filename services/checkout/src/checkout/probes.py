"""Access lines without the probes: compose and orchestrators ask every few seconds."""

import logging

PROBE_PATHS = frozenset({"/health", "/livez", "/readyz"})


class QuietProbes(logging.Filter):
    """Drops uvicorn access lines for PROBE_PATHS; every other request keeps its line."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn.access records carry (client, method, path with query, http version, status).
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            return args[2].split("?", 1)[0] not in PROBE_PATHS
        return True


QUIET_PROBES = QuietProbes()


def quiet_probe_access_lines() -> None:
    """Install QUIET_PROBES on uvicorn's access logger (idempotent)."""
    logging.getLogger("uvicorn.access").addFilter(QUIET_PROBES)
