"""docker-compose.yml for the deploy tests, read as compose reads it."""

from typing import Any

import pytest
import yaml

from .deployfiles import COMPOSE_FILE


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """docker-compose.yml as compose reads it: anchors resolved, `<<` merges applied, variables
    not yet interpolated (see deployfiles.interpolate)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())
