-- Webhook secret rotation keeps every replaced secret for its own 24 h
-- (docs/webhooks.md#secret-rotation), however often a merchant rotates: one row per replaced
-- secret, instead of a single "previous" slot that a second rotation overwrote (ending the first
-- secret's overlap at once).
CREATE TABLE webhook_secrets (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    secret      text NOT NULL,
    replaced_at timestamptz NOT NULL DEFAULT now(),
    -- Signs alongside the current secret until then.
    expires_at  timestamptz NOT NULL,
    CHECK (expires_at > replaced_at)
);
CREATE INDEX idx_webhook_secrets_merchant ON webhook_secrets (merchant_id, expires_at);

INSERT INTO webhook_secrets (merchant_id, secret, replaced_at, expires_at)
SELECT id, previous_webhook_secret,
       least(now(), previous_webhook_secret_expires_at - interval '24 hours'),
       previous_webhook_secret_expires_at
FROM merchants
WHERE previous_webhook_secret IS NOT NULL AND previous_webhook_secret_expires_at > now();

ALTER TABLE merchants
    DROP COLUMN previous_webhook_secret,
    DROP COLUMN previous_webhook_secret_expires_at;

-- Every attempt of a delivery gets its own number, manual retries included: attempt_number
-- counts every attempt ever made (1, 2, 3, ...), scheduled_attempt says which of the five
-- scheduled attempts it was (1 again after a manual retry).
ALTER TABLE webhook_attempts
    DROP CONSTRAINT webhook_attempts_attempt_number_check,
    ADD COLUMN scheduled_attempt integer CHECK (scheduled_attempt BETWEEN 1 AND 5);
UPDATE webhook_attempts SET scheduled_attempt = attempt_number;
UPDATE webhook_attempts a SET attempt_number = numbered.n
FROM (SELECT id, row_number() OVER (PARTITION BY webhook_log_id ORDER BY id) AS n
      FROM webhook_attempts) numbered
WHERE a.id = numbered.id AND a.attempt_number <> numbered.n;
ALTER TABLE webhook_attempts
    ALTER COLUMN scheduled_attempt SET NOT NULL,
    ADD CONSTRAINT webhook_attempts_attempt_number_check CHECK (attempt_number >= 1),
    ADD CONSTRAINT webhook_attempts_log_number_key UNIQUE (webhook_log_id, attempt_number);

-- Errors were recorded as the OS said them ("[Errno 111] Connect call failed ('1.2.3.4', 80)");
-- the dispatcher records them in words now, and the attempts logged before say so too.
UPDATE webhook_attempts
SET error = regexp_replace(
    error,
    '^connection failed: \[Errno 111\] Connect call failed \(''([^'']*)'', (\d+)[^)]*\)$',
    'connection failed: connection refused by \1:\2')
WHERE error LIKE 'connection failed: [Errno 111] Connect call failed%';
UPDATE webhook_attempts SET error = regexp_replace(error, '\[Errno -?\d+\] ', '', 'g')
WHERE error LIKE '%[Errno %';
