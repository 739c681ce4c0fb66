from shared.backends.queues import WEBHOOKS_QUEUE
from shared.backends.worker import run_worker
from webhook_dispatcher.config import DispatcherSettings
from webhook_dispatcher.tasks import deliver_due_webhooks, finish_in_flight, seconds_until_next_due

if __name__ == "__main__":
    run_worker(
        "webhook-dispatcher",
        WEBHOOKS_QUEUE,
        deliver_due_webhooks,
        next_due=seconds_until_next_due,
        on_stop=finish_in_flight,
        settings_class=DispatcherSettings,
    )
