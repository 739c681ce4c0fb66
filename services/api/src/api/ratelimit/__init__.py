"""Rate limits on login, sign-up, public payments and the merchant API (CONTRACT §4, 429)."""
