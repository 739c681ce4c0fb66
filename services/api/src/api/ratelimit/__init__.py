"""Rate limits on login, sign-up, public payments and the merchant API (docs/api.md#rate-limits)."""
