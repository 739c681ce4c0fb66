"""Amounts are integers in paise; this is the one place they become rupees for people."""

MINIMUM_AMOUNT = 100
MAXIMUM_AMOUNT = 100_000_000_00  # ₹10 crore: far above any checkout, far below bigint


def format_inr(paise: int) -> str:
    """₹ with Indian digit grouping: 12345678 paise -> ₹1,23,456.78."""
    rupees, rest = divmod(paise, 100)
    digits = str(rupees)
    head, tail = digits[:-3], digits[-3:]
    groups: list[str] = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return "₹" + ",".join([*groups, tail]) + f".{rest:02d}"
