"""Hosted checkout page, the embeddable SDK, and a demo merchant page (CONTRACT §9, §10)."""
