import pytest

from webhook_dispatcher import tasks
from webhook_dispatcher.tasks import deliver_due_webhooks


@pytest.fixture
def dispatcher(worker_env):
    """Run dispatcher ticks in this process, with a fresh delivery engine per test."""
    tasks.delivery_engine.cache_clear()
    yield deliver_due_webhooks
    if tasks.delivery_engine.cache_info().currsize:
        tasks.delivery_engine().close()
    tasks.delivery_engine.cache_clear()
