"""A worker that Redis forgot (flush, restart) registers again, so job status keeps counting it."""

from rq import Queue, Worker

from shared.backends.worker import GatewayWorker


def registered_workers(redis) -> int:
    return Worker.count(queue=Queue("payments", connection=redis))


def test_worker_registers_again_after_a_flush(redis):
    worker = GatewayWorker([Queue("payments", connection=redis)], connection=redis)
    worker.register_birth()
    redis.flushdb()

    worker.heartbeat()

    assert registered_workers(redis) == 1


def test_worker_registers_again_when_rq_wrote_to_its_key_first(redis):
    worker = GatewayWorker([Queue("payments", connection=redis)], connection=redis)
    worker.register_birth()
    redis.flushdb()
    # What RQ writes when a job that ran across the flush ends, before the next heartbeat.
    worker.increment_successful_job_count()
    worker.set_state("idle")

    worker.heartbeat()

    assert registered_workers(redis) == 1
