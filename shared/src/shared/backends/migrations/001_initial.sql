-- The whole schema of docs/api.md: merchants, orders, payments, refunds, webhook logs and
-- attempts, idempotency keys. Amounts are integers in paise.

CREATE TABLE merchants (
    id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                        text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    email                       text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash               text,
    api_key                     text NOT NULL,
    api_secret                  text NOT NULL,
    webhook_url                 text,
    webhook_secret              text NOT NULL,
    previous_webhook_secret     text,
    previous_webhook_secret_expires_at timestamptz,
    is_test                     boolean NOT NULL DEFAULT false,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT merchants_api_key_key UNIQUE (api_key)
);
CREATE UNIQUE INDEX merchants_email_key ON merchants (lower(email));

CREATE TABLE orders (
    id          text PRIMARY KEY CHECK (id ~ '^order_[A-Za-z0-9]{16}$'),
    merchant_id uuid NOT NULL REFERENCES merchants (id),
    amount      bigint NOT NULL CHECK (amount >= 100),
    currency    text NOT NULL DEFAULT 'INR' CHECK (currency ~ '^[A-Z]{3}$'),
    receipt     text,
    notes       jsonb NOT NULL DEFAULT '{}'::jsonb,
    status      text NOT NULL DEFAULT 'created' CHECK (status IN ('created', 'attempted', 'paid')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_orders_merchant_id ON orders (merchant_id, created_at DESC, id DESC);

CREATE TABLE payments (
    id                text PRIMARY KEY CHECK (id ~ '^pay_[A-Za-z0-9]{16}$'),
    order_id          text NOT NULL REFERENCES orders (id),
    merchant_id       uuid NOT NULL REFERENCES merchants (id),
    amount            bigint NOT NULL CHECK (amount >= 100),
    currency          text NOT NULL,
    method            text NOT NULL CHECK (method IN ('upi', 'card')),
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'success', 'failed')),
    captured          boolean NOT NULL DEFAULT false,
    vpa               text,
    card_network      text CHECK (card_network IN ('visa', 'mastercard', 'amex', 'rupay', 'unknown')),
    card_last4        text CHECK (card_last4 ~ '^[0-9]{4}$'),
    error_code        text,
    error_description text,
    amount_refunded   bigint NOT NULL DEFAULT 0,
    -- When the simulated bank answers; the payment worker finalises the payment then.
    process_after     timestamptz NOT NULL DEFAULT now(),
    -- The request that created it, so every log line about it can be traced back.
    correlation_id    text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (amount_refunded BETWEEN 0 AND amount),
    CHECK (NOT captured OR status = 'success'),
    CHECK ((method = 'upi' AND vpa IS NOT NULL AND card_last4 IS NULL)
        OR (method = 'card' AND vpa IS NULL AND card_network IS NOT NULL AND card_last4 IS NOT NULL))
);
CREATE INDEX idx_payments_order_id ON payments (order_id);
CREATE INDEX idx_payments_status ON payments (merchant_id, status, created_at DESC, id DESC);
CREATE INDEX idx_payments_merchant_id ON payments (merchant_id, created_at DESC, id DESC);
CREATE INDEX idx_payments_due ON payments (process_after) WHERE status = 'pending';

CREATE TABLE refunds (
    id            text PRIMARY KEY CHECK (id ~ '^rfnd_[A-Za-z0-9]{16}$'),
    payment_id    text NOT NULL REFERENCES payments (id),
    merchant_id   uuid NOT NULL REFERENCES merchants (id),
    amount        bigint NOT NULL CHECK (amount > 0),
    reason        text,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'failed')),
    process_after timestamptz NOT NULL DEFAULT now(),
    correlation_id text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,
    CHECK ((status = 'processed') = (processed_at IS NOT NULL))
);
CREATE INDEX idx_refunds_payment_id ON refunds (payment_id, created_at DESC, id DESC);
CREATE INDEX idx_refunds_due ON refunds (process_after) WHERE status = 'pending';

CREATE TABLE webhook_logs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    merchant_id     uuid NOT NULL REFERENCES merchants (id),
    event           text NOT NULL,
    -- The exact body bytes sent on every attempt, so every retry carries the same signature input.
    payload         text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'success', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts BETWEEN 0 AND 5),
    last_attempt_at timestamptz,
    -- When the next attempt is due; while an attempt runs, the end of that attempt's lease.
    next_retry_at   timestamptz,
    correlation_id  text,
    response_code   integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'pending') = (next_retry_at IS NOT NULL))
);
CREATE INDEX idx_webhook_logs_merchant_id ON webhook_logs (merchant_id, created_at DESC, id DESC);
CREATE INDEX idx_webhook_logs_status ON webhook_logs (status);
CREATE INDEX idx_webhook_logs_due ON webhook_logs (next_retry_at) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_log_id uuid NOT NULL REFERENCES webhook_logs (id) ON DELETE CASCADE,
    attempt_number integer NOT NULL CHECK (attempt_number BETWEEN 1 AND 5),
    attempted_at   timestamptz NOT NULL,
    duration_ms    integer NOT NULL CHECK (duration_ms >= 0),
    response_code  integer,
    response_body  text,
    error          text
);
CREATE INDEX idx_webhook_attempts_log_id ON webhook_attempts (webhook_log_id, id);

CREATE TABLE idempotency_keys (
    merchant_id     uuid NOT NULL REFERENCES merchants (id),
    key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_method  text NOT NULL,
    request_path    text NOT NULL,
    request_hash    text NOT NULL,
    -- NULL while the first request is still running.
    response_status integer,
    response_body   bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, key)
);
CREATE INDEX idx_idempotency_keys_expires_at ON idempotency_keys (expires_at);
