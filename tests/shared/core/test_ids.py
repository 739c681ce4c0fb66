from shared.core.ids import ORDER_PREFIX, PAYMENT_PREFIX, is_id, new_id


def test_ids_have_prefix_and_16_alphanumerics():
    ids = {new_id(PAYMENT_PREFIX) for _ in range(1000)}
    assert len(ids) == 1000
    assert all(is_id(value, PAYMENT_PREFIX) for value in ids)
    assert not is_id("pay_short", PAYMENT_PREFIX)
    assert not is_id(new_id(ORDER_PREFIX), PAYMENT_PREFIX)
