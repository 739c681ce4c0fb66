"""The shared field rules hold to the standards they name."""

import re

import regex

from api.fields import DEFAULT_IGNORABLE, EMAIL_PATTERN, is_blank


def test_the_default_ignorable_ranges_are_unicodes_property():
    # Written as ranges so that every reader of the OpenAPI document can read the email
    # pattern; held here to Default_Ignorable_Code_Point (Unicode Standard Annex 44) as the
    # regex package has it.
    prop = regex.compile(r"\p{Default_Ignorable_Code_Point}")
    listed = {point for first, last in DEFAULT_IGNORABLE for point in range(first, last + 1)}
    assert listed == {point for point in range(0x110000) if prop.match(chr(point))}


def test_the_email_pattern_reads_the_same_in_pythons_re_as_in_pydantic():
    # schemathesis and Python clients read the document's pattern with re: it must compile
    # there, with the characters past the BMP as characters.
    pattern = re.compile(EMAIL_PATTERN)
    assert pattern.match("owner@shop.test")
    assert not pattern.match("owner\U000e0041@shop.test")
    assert is_blank("\U000e0100\u034f") and not is_blank("\u200d\U0001f600")
