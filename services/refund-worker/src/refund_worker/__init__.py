"""The refund worker: processes refunds once the simulated bank has settled them."""
