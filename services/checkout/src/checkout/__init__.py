"""Hosted checkout page, the embeddable SDK, and a demo merchant page
(services/checkout/README.md#the-page)."""
