"""Text cut for display or for the API's length limits: between graphemes, never inside one."""

import pytest

from dashboard.rendering import cut_text


@pytest.mark.parametrize(
    ("text", "limit", "end", "expected"),
    [
        ("😀 Smile Store", 1, "", "😀"),  # one code point in Python (two UTF-16 units in JS)
        ("😀 Smile Store", 2, "", "😀 "),
        ("🇮🇳 Chai", 1, "", ""),  # half a flag is no flag
        ("🇮🇳 Chai", 2, "", "🇮🇳"),
        ("E\u0301mile", 1, "", ""),  # E without its accent is another letter
        ("E\u0301mile", 3, "", "E\u0301m"),
        ("👩🏽‍💻 dev", 3, "", ""),  # a ZWJ sequence of four code points
        ("abcdef", 4, "…", "abc…"),
        ("ab🇮🇳cd", 4, "…", "ab…"),
        ("short", 10, "…", "short"),
        (None, 5, "…", ""),
    ],
)
def test_cut_text_keeps_graphemes_whole(text, limit, end, expected):
    cut = cut_text(text, limit, end)
    assert cut == expected
    assert len(cut) <= limit


def test_a_refund_reason_at_the_apis_limit_is_cut_before_a_flag_not_inside_it():
    reason = "a" * 254 + "🇮🇳"  # 256 code points: the flag's second half would be the 256th
    assert cut_text(reason, 255) == "a" * 254
