-- API secrets replaced by a rotation keep authenticating until expires_at (24 h by default,
-- API_SECRET_GRACE_SECONDS), so a merchant can switch deployments over without downtime.
-- One row per replaced secret: rotating twice within the grace period keeps both working.
CREATE TABLE retired_api_secrets (
    merchant_id uuid NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    api_secret  text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, api_secret)
);
