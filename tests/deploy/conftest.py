"""docker-compose.yml for the deploy tests, read as compose reads it."""

from typing import Any

import pytest

from .deployfiles import COMPOSE_FILE


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """docker-compose.yml as compose reads it: anchors resolved, `<<` merges applied."""
    yaml = pytest.importorskip(
        "yaml", reason="PyYAML reads docker-compose.yml: add pyyaml to the root dev group"
    )
    return yaml.safe_load(COMPOSE_FILE.read_text())
