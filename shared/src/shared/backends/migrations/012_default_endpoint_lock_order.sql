-- set_default_webhook_url, clearing a URL, ended the default endpoint's pending deliveries
-- (locking their rows) before deleting the endpoint (locking its row): the reverse of the
-- order every other writer of an endpoint and its deliveries keeps (the endpoint first: the
-- API's update and delete, the dispatcher recording attempts). A dispatcher recording an
-- attempt of one of those deliveries at that moment waited for the function, which waited for
-- it, and PostgreSQL aborted one of them. The endpoint's row is now locked first.
CREATE OR REPLACE FUNCTION set_default_webhook_url(merchant uuid, url text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    endpoint text;
BEGIN
    PERFORM 1 FROM merchants WHERE id = merchant FOR NO KEY UPDATE;
    SELECT id INTO endpoint FROM webhook_endpoints WHERE merchant_id = merchant AND is_default
        FOR UPDATE;
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
