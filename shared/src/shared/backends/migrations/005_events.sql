-- Events (docs/api.md#events, docs/webhooks.md#events): every event a merchant's objects cause is
-- stored when it happens, whether or not a webhook URL is set, and kept for EVENT_RETENTION_DAYS. A
-- delivery log is made per event only while the merchant has a URL; its id IS the event id, so the
-- Standard Webhooks `webhook-id` (the log id, stable across retries) is the event id too.

CREATE TABLE events (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Orders the events of one transaction (same created_at) as they happened.
    seq            bigint GENERATED ALWAYS AS IDENTITY,
    merchant_id    uuid NOT NULL REFERENCES merchants (id),
    type           text NOT NULL,
    -- The exact body bytes every delivery of this event carries.
    body           text NOT NULL,
    correlation_id text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_events_merchant_id ON events (merchant_id, created_at DESC, seq DESC);
CREATE INDEX idx_events_merchant_type ON events (merchant_id, type, created_at DESC, seq DESC);
CREATE INDEX idx_events_created_at ON events (created_at);

-- Logs made before this migration have no event; a purged event leaves its log behind.
ALTER TABLE webhook_logs
    ADD COLUMN event_id uuid REFERENCES events (id) ON DELETE SET NULL,
    ADD CONSTRAINT webhook_logs_id_is_event_id CHECK (event_id IS NULL OR event_id = id);
CREATE INDEX idx_webhook_logs_event_id ON webhook_logs (event_id);
