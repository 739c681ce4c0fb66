-- Wake waiting worker ticks as soon as due work commits (shared.due), instead of polling.
-- Each statement that makes pending work due within 2 s NOTIFYs the queue's channel with
-- the earliest due time (Unix seconds) as payload; PostgreSQL delivers it at commit, and
-- not at all on rollback. Work due later needs no wake-up: a tick waits at most 1.5 s
-- (shared.due.HORIZON_S) and the one-second sweep starts ticks for it.

CREATE FUNCTION notify_due_work() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    due timestamptz;
BEGIN
    IF TG_TABLE_NAME = 'webhook_logs' THEN
        SELECT min(next_retry_at) INTO due FROM new_rows WHERE status = 'pending';
    ELSE
        SELECT min(process_after) INTO due FROM new_rows WHERE status = 'pending';
    END IF;
    IF due < clock_timestamp() + interval '2 seconds' THEN
        PERFORM pg_notify(TG_ARGV[0], extract(epoch FROM due)::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER payments_notify_due AFTER INSERT ON payments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_due_work('gateway_due_payments');

CREATE TRIGGER refunds_notify_due AFTER INSERT ON refunds
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_due_work('gateway_due_refunds');

-- New deliveries, manual retries and released leases (an UPDATE that moves next_retry_at).
CREATE TRIGGER webhook_logs_notify_due_insert AFTER INSERT ON webhook_logs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_due_work('gateway_due_webhooks');

CREATE TRIGGER webhook_logs_notify_due_update AFTER UPDATE ON webhook_logs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_due_work('gateway_due_webhooks');
