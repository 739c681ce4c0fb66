-- An idempotency key's request_hash of a card payment was a plain SHA-256 of a body holding the
-- card's full number and CVV: searchable from the last four digits the payment shows. Such
-- hashes are now salted scrypt (docs/idempotency.md#cards); the old ones are overwritten, not
-- left to expire. A retry of such a request within its 24 hours then no longer matches: it is
-- refused (422), never charged twice.
UPDATE idempotency_keys
SET request_hash = 'retired: a card payment''s unsalted hash'
WHERE request_path = '/api/v1/payments'
  AND response_body IS NOT NULL
  AND position(convert_to('"method":"card"', 'UTF8') IN response_body) > 0;
