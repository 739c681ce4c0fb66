-- An order has at most one successful payment, whatever the concurrency
-- (docs/api.md#one-successful-payment-per-order). The payment worker keeps this by locking the
-- orders of a batch before it decides any outcome; this index makes PostgreSQL refuse the second
-- success should any code path ever forget to.
--
-- A database written by an older version may already hold orders paid twice: the index cannot
-- be built then, and the money involved needs a person (refund the extra payments), not a
-- migration that silently rewrites history. Stop with the orders to look at.
DO $$
DECLARE
    twice text;
BEGIN
    SELECT string_agg(order_id, ', ' ORDER BY order_id) INTO twice
    FROM (SELECT order_id FROM payments WHERE status = 'success'
          GROUP BY order_id HAVING count(*) > 1 ORDER BY order_id LIMIT 20) AS paid_twice;
    IF twice IS NOT NULL THEN
        RAISE EXCEPTION 'orders with more than one successful payment: %', twice
            USING HINT = 'Refund the extra payments and mark them failed (error_code '
                         'ORDER_ALREADY_PAID), then migrate again.';
    END IF;
END
$$;

CREATE UNIQUE INDEX payments_one_success_per_order ON payments (order_id) WHERE status = 'success';
