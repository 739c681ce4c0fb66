-- Every delivery attempt inserted a row into idx_webhook_attempts_log_id (webhook_log_id, id),
-- and nothing reads it since attempts are numbered (migration 004): a delivery's attempts are
-- listed, and its latest one found, off the unique (webhook_log_id, attempt_number) index,
-- which also serves the foreign key's cascade from webhook_logs
-- (README.md#the-cost-of-a-paid-order).
DROP INDEX IF EXISTS idx_webhook_attempts_log_id;
