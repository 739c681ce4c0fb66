"""The checkout page's copy of the payment rules (checkout-rules.js), run in Node.

These mirror docs/api.md#payment-methods so that what the page refuses is exactly what the API would
refuse.
"""

import json
import subprocess

import pytest

from checkout.app import STATIC_DIR

RULES_FILE = STATIC_DIR / "checkout-rules.js"


@pytest.fixture(scope="module")
def rules(node):
    """call(name, *args) -> the JS function's result, through one Node process per call batch."""

    def evaluate(calls: list[tuple]) -> list:
        script = (
            "const rules = require(process.argv[1]);"
            "const calls = JSON.parse(process.argv[2]);"
            "const results = calls.map(([name, ...args]) => {"
            "  if (name === 'isExpiryInFuture' && args.length === 3) args[2] = new Date(args[2]);"
            "  return rules[name](...args);"
            "});"
            "process.stdout.write(JSON.stringify(results));"
        )
        completed = subprocess.run(
            [node, "-e", script, str(RULES_FILE), json.dumps(calls)],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return json.loads(completed.stdout)

    return evaluate


def test_luhn_and_length(rules):
    cases = {
        "4111111111111111": True,
        "4111 1111 1111 1111": True,
        "4111-1111-1111-1111": True,
        "4111111111111112": False,  # one digit off: Luhn fails
        "4222222222222": True,  # 13 digits
        "422222222222": False,  # 12 digits
        "6011000990139424": True,
        "4111111111111111000": False,  # 19 digits, Luhn fails
        "4000000000000000006": True,  # 19 digits, Luhn holds
        "40000000000000000006": False,  # 20 digits
        "4111a11111111111": False,
        "": False,
    }
    results = rules([("isValidCardNumber", number) for number in cases])
    assert dict(zip(cases, results, strict=True)) == cases


def test_network_detection_as_the_shopper_types(rules):
    cases = {
        "4": "visa",
        "4111 1111": "visa",
        "51": "mastercard",
        "5555555555554444": "mastercard",
        "56": "unknown",
        "50": "unknown",
        "34": "amex",
        "37": "amex",
        "35": "unknown",
        "60": "rupay",
        "65": "rupay",
        "81": "rupay",
        "89": "rupay",
        "80": "unknown",
        "90": "unknown",
        "6": "unknown",
        "": "unknown",
    }
    results = rules([("cardNetwork", number) for number in cases])
    assert dict(zip(cases, results, strict=True)) == cases


def test_expiry_is_valid_through_the_end_of_its_month(rules):
    now = "2026-11-30T23:59:00"
    cases = [
        (("11", "26"), True),  # this month
        (("10", "26"), False),  # last month
        (("12", "26"), True),
        (("01", "27"), True),
        (("11", "2026"), True),  # four-digit year
        (("10", "2026"), False),
        (("13", "30"), False),
        (("00", "30"), False),
        (("12", "2099"), True),
    ]
    results = rules([("isExpiryInFuture", month, year, now) for (month, year), _ in cases])
    assert results == [expected for _, expected in cases]


def test_expiry_parsing_keeps_what_the_shopper_typed(rules):
    results = rules(
        [
            ("parseExpiry", "12/30"),
            ("parseExpiry", "1/30"),
            ("parseExpiry", "12 / 2030"),
            ("parseExpiry", "1230"),
            ("parseExpiry", "12/3"),
            ("formatExpiry", "1230"),
            ("formatExpiry", "4/"),
            ("formatExpiry", "12/30"),
        ]
    )
    assert results == [
        {"month": "12", "year": "30"},
        {"month": "01", "year": "30"},
        {"month": "12", "year": "2030"},
        None,
        None,
        "12/30",
        "04/",
        "12/30",
    ]


def test_vpa_pattern_matches_the_api(rules):
    cases = {
        "user@paytm": True,
        "first.last-1_x@okhdfcbank": True,
        "user@pay tm": False,
        "user@pay.tm": False,
        "userpaytm": False,
        "@paytm": False,
        "user@": False,
        "us er@paytm": False,
        "user@@paytm": False,
    }
    results = rules([("isValidVpa", vpa) for vpa in cases])
    assert dict(zip(cases, results, strict=True)) == cases


def test_cvv_is_three_digits_or_four_for_amex(rules):
    results = rules(
        [
            ("isValidCvv", "123", "visa"),
            ("isValidCvv", "1234", "visa"),
            ("isValidCvv", "1234", "amex"),
            ("isValidCvv", "123", "amex"),
            ("isValidCvv", "12a", "rupay"),
        ]
    )
    assert results == [True, False, True, False, False]


def test_amounts_are_shown_in_rupees_from_paise(rules):
    results = rules(
        [
            ("formatAmount", 50000, "INR"),
            ("formatAmount", 100, "INR"),
            ("formatAmount", 105, "INR"),
            ("formatAmount", 150000, "INR"),
            ("formatAmount", 10000000, "INR"),
        ]
    )
    assert results == ["₹500.00", "₹1.00", "₹1.05", "₹1,500.00", "₹1,00,000.00"]


def test_card_numbers_are_grouped_for_reading(rules):
    results = rules(
        [
            ("formatCardNumber", "4111111111111111"),
            ("formatCardNumber", "378282246310005"),
            ("formatCardNumber", "4111-1111"),
        ]
    )
    assert results == ["4111 1111 1111 1111", "3782 822463 10005", "4111 1111"]


def test_the_initial_is_the_first_whole_grapheme(rules):
    cases = {
        "😀 Smile Store": "😀",  # one emoji: two UTF-16 code units
        "🇮🇳 Chai Stall": "🇮🇳",  # a flag: two regional indicators
        "E\u0301mile Books": "E\u0301",  # E and its combining accent
        "👩🏽‍💻 Code Shop": "👩🏽‍💻",  # a ZWJ sequence with a skin tone
        "  asha traders": "A",
        "émile": "É",
        "straße": "S",
        "ßtore": "ß",  # its upper case is two letters: kept as it is
        "": "",
    }
    results = rules([("initial", name) for name in cases])
    assert dict(zip(cases, results, strict=True)) == cases


def test_a_merchant_name_is_shown_without_direction_controls(rules):
    cases = {
        "\u202eyaP nozamA": "yaP nozamA",  # right-to-left override: would read "Amazon Pay"
        "Shop\u2067\u202e\u2069 Pay": "Shop Pay",  # isolates and an override inside them
        "\u200fChai\u200e Stall\u061c": "Chai Stall",  # the direction marks
        "\u202aEmbedded\u202c": "Embedded",
        "مكتبة النور": "مكتبة النور",  # Arabic letters keep their own direction
        "👩🏽‍💻 Code Shop": "👩🏽‍💻 Code Shop",  # zero-width joiners are not direction controls
        "\u202e": "",
    }
    results = rules([("displayName", name) for name in cases])
    assert dict(zip(cases, results, strict=True)) == cases


def test_order_ids_have_the_apis_shape(rules):
    cases = {
        "order_AAAAAAAAAAAAAAAA": True,
        "order_aZ0bBRRMIrwK44ZF": True,
        "order_AAAA/AAAAAAAAAAA": False,
        "order_<script>1234567": False,
        "order_AAAAAAAAAAAAAAA": False,  # 15
        "order_AAAAAAAAAAAAAAAAA": False,  # 17
        "pay_AAAAAAAAAAAAAAAA": False,
        "": False,
    }
    results = rules([("isOrderId", value) for value in cases])
    assert dict(zip(cases, results, strict=True)) == cases
