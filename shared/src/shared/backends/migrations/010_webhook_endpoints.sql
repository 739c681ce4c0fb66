-- Webhook endpoints: up to 20 per merchant, each with its own URL, event filter, signing
-- secret and status. Every event is delivered once per enabled endpoint whose filter takes it,
-- each delivery with its own log, schedule and attempts.
--
-- The default endpoint is what /api/v1/webhooks/config shows: the merchant's webhook URL moves
-- here, and its secret stays the merchant's webhook_secret (with the replaced secrets of
-- webhook_secrets whose endpoint_id is NULL), so sign-up, the seed and the config keep one
-- secret whether or not a URL is set. Every other endpoint keeps its own secret in its row
-- and its replaced ones in webhook_secrets with its endpoint_id.

-- `we_` and 16 characters of [A-Za-z0-9] from gen_random_uuid()'s cryptographic source (only
-- the random bytes of each uuid are read; bytes of 248 and above are dropped, no modulo bias).
CREATE FUNCTION webhook_endpoint_id() RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    alphabet constant text := 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    chars text := '';
    random_bytes bytea;
    b integer;
BEGIN
    WHILE length(chars) < 16 LOOP
        random_bytes := uuid_send(gen_random_uuid());
        FOR i IN 0..5 LOOP  -- bytes 0-5 of a version 4 uuid are all random
            b := get_byte(random_bytes, i);
            IF b < 248 AND length(chars) < 16 THEN
                chars := chars || substr(alphabet, b % 62 + 1, 1);
            END IF;
        END LOOP;
    END LOOP;
    RETURN 'we_' || chars;
END
$$;

CREATE TABLE webhook_endpoints (
    id              text PRIMARY KEY DEFAULT webhook_endpoint_id()
                    CHECK (id ~ '^we_[A-Za-z0-9]{16}$'),
    merchant_id     uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    url             text NOT NULL CHECK (url <> ''),
    -- Event types it takes; '{*}' takes every type.
    events          text[] NOT NULL DEFAULT '{*}' CHECK (cardinality(events) >= 1),
    description     text,
    status          text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    is_default      boolean NOT NULL DEFAULT false,
    -- NULL for the default endpoint, whose secret is the merchant's webhook_secret.
    secret          text,
    disabled_reason text,
    -- When its deliveries started failing without a success since; NULL while healthy.
    failing_since   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_endpoints_default_secret CHECK (is_default = (secret IS NULL)),
    CONSTRAINT webhook_endpoints_default_takes_all CHECK (NOT is_default OR events = '{*}')
);
CREATE UNIQUE INDEX webhook_endpoints_one_default ON webhook_endpoints (merchant_id)
    WHERE is_default;
CREATE INDEX idx_webhook_endpoints_merchant ON webhook_endpoints (merchant_id, created_at DESC, id DESC);

-- At most 20 endpoints per merchant, whatever the concurrency: each insert locks its
-- merchant's row first (NO KEY UPDATE: orders and payments referencing the merchant still go
-- on), so two inserts of one merchant count one after the other.
CREATE FUNCTION webhook_endpoints_at_most_20() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM merchants WHERE id = NEW.merchant_id FOR NO KEY UPDATE;
    IF (SELECT count(*) FROM webhook_endpoints WHERE merchant_id = NEW.merchant_id) >= 20 THEN
        RAISE EXCEPTION 'a merchant has at most 20 webhook endpoints'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'webhook_endpoints_at_most_20';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER webhook_endpoints_at_most_20 BEFORE INSERT ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION webhook_endpoints_at_most_20();

-- Replaced secrets of an endpoint other than the default (NULL: the merchant's own secret).
ALTER TABLE webhook_secrets
    ADD COLUMN endpoint_id text REFERENCES webhook_endpoints (id) ON DELETE CASCADE;
CREATE INDEX idx_webhook_secrets_endpoint ON webhook_secrets (endpoint_id, expires_at)
    WHERE endpoint_id IS NOT NULL;

-- Deliveries: which endpoint, which event (its id is the `webhook-id` on every endpoint and
-- every retry, kept after the event itself is purged, hence no foreign key), which payment or
-- refund. endpoint_id has no foreign key either: a deleted endpoint's logs stay, naming it.
ALTER TABLE webhook_logs
    DROP CONSTRAINT IF EXISTS webhook_logs_id_is_event_id,
    DROP CONSTRAINT IF EXISTS webhook_logs_event_id_fkey,
    ADD COLUMN endpoint_id text,
    ADD COLUMN object_id text,
    -- Why a delivery ended without its attempts saying so (its endpoint deleted or disabled).
    ADD COLUMN failure_reason text;

-- An endpoint's pending deliveries end `failed` with `reason` (it was deleted, disabled or its
-- URL cleared); their attempts and logs stay. Returns how many ended.
CREATE FUNCTION end_pending_deliveries(endpoint text, reason text) RETURNS integer
LANGUAGE sql AS $$
    WITH ended AS (
        UPDATE webhook_logs
        SET status = 'failed', next_retry_at = NULL, failure_reason = reason, updated_at = now()
        WHERE endpoint_id = endpoint AND status = 'pending'
        RETURNING 1
    )
    SELECT count(*)::integer FROM ended
$$;

-- The merchant's default endpoint takes `url` (keeping its id), is made for it, or, for NULL
-- or an empty string, is deleted (its pending deliveries end failed). The one writer of a
-- merchant's webhook URL: /api/v1/webhooks/config, and tests and tools that set a URL, call
-- it. Returns the default endpoint's id, NULL when there is none.
CREATE FUNCTION set_default_webhook_url(merchant uuid, url text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    endpoint text;
BEGIN
    PERFORM 1 FROM merchants WHERE id = merchant FOR NO KEY UPDATE;
    SELECT id INTO endpoint FROM webhook_endpoints WHERE merchant_id = merchant AND is_default;
    IF coalesce(url, '') = '' THEN
        IF endpoint IS NOT NULL THEN
            PERFORM end_pending_deliveries(endpoint, 'endpoint deleted');
            DELETE FROM webhook_endpoints WHERE id = endpoint;
        END IF;
        RETURN NULL;
    END IF;
    IF endpoint IS NULL THEN
        INSERT INTO webhook_endpoints (merchant_id, url, is_default)
        VALUES (merchant, set_default_webhook_url.url, true)
        RETURNING id INTO endpoint;
    ELSE
        UPDATE webhook_endpoints SET url = set_default_webhook_url.url, updated_at = now()
        WHERE id = endpoint;
    END IF;
    RETURN endpoint;
END
$$;

ALTER TABLE events ADD COLUMN object_id text;
UPDATE events
SET object_id = coalesce(body::jsonb #>> '{data,payment,id}', body::jsonb #>> '{data,refund,id}')
WHERE object_id IS NULL;

-- The merchants' URLs become their default endpoints (a second run finds them made).
INSERT INTO webhook_endpoints (merchant_id, url, is_default)
SELECT m.id, m.webhook_url, true FROM merchants m
WHERE coalesce(m.webhook_url, '') <> ''
  AND NOT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.merchant_id = m.id AND e.is_default);

-- Logs made before events were stored were sent with their own id as webhook-id.
UPDATE webhook_logs SET event_id = id WHERE event_id IS NULL;
UPDATE webhook_logs l SET endpoint_id = e.id
FROM webhook_endpoints e
WHERE l.endpoint_id IS NULL AND e.merchant_id = l.merchant_id AND e.is_default;
UPDATE webhook_logs
SET object_id = coalesce(payload::jsonb #>> '{data,payment,id}',
                         payload::jsonb #>> '{data,refund,id}')
WHERE object_id IS NULL;
-- A delivery logged without an event (by hand, by a tool) is sent with a webhook-id of its
-- own; one logged without an endpoint goes to the merchant's default endpoint, as every
-- delivery did before endpoints.
ALTER TABLE webhook_logs
    ALTER COLUMN event_id SET DEFAULT gen_random_uuid(),
    ALTER COLUMN event_id SET NOT NULL;
ALTER TABLE merchants DROP COLUMN IF EXISTS webhook_url;

-- An endpoint's deliveries (its log filter, its 24 h health, recovery's look for a delivery of
-- an event); a payment's or refund's deliveries (the log filter by object).
CREATE INDEX idx_webhook_logs_endpoint ON webhook_logs (endpoint_id, created_at DESC, id DESC);
CREATE INDEX idx_webhook_logs_object ON webhook_logs (merchant_id, object_id)
    WHERE object_id IS NOT NULL;
-- The retention purge's oldest-first walk.
CREATE INDEX idx_webhook_logs_created_at ON webhook_logs (created_at);
