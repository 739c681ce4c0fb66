from shared.queues import WEBHOOKS_QUEUE
from shared.worker import run_worker
from webhook_dispatcher.tasks import deliver_due_webhooks

if __name__ == "__main__":
    run_worker("webhook-dispatcher", WEBHOOKS_QUEUE, deliver_due_webhooks)
