-- A payment made with a test value (a VPA such as failure@razorpay or a card such as
-- 4000 0000 0000 0002) answers the same in every mode. The API recognises the value when the
-- payment is created, while it still holds the card number, and stores only the outcome here;
-- the payment worker applies it. NULL: an ordinary instrument, answered by the simulated bank.
ALTER TABLE payments ADD COLUMN IF NOT EXISTS test_outcome text
    CONSTRAINT payments_test_outcome_known
    CHECK (test_outcome IN ('success', 'PAYMENT_FAILED', 'CARD_DECLINED', 'INSUFFICIENT_FUNDS'));
