-- Every delivery attempt moved a row of idx_webhook_logs_status, and nothing reads it: the
-- one query by status (pending deliveries, /api/v1/jobs/status) is answered by the partial
-- index idx_webhook_logs_due, which holds exactly the pending rows
-- (README.md#the-cost-of-a-paid-order).
DROP INDEX IF EXISTS idx_webhook_logs_status;
