from shared.core.money import format_inr


def test_format_inr_uses_indian_grouping():
    assert format_inr(50000) == "₹500.00"
    assert format_inr(100) == "₹1.00"
    assert format_inr(12345678) == "₹1,23,456.78"
    assert format_inr(1234567890) == "₹1,23,45,678.90"
