"""The test merchant's webhook endpoints in a chaos run (docs/webhooks.md#endpoints), and what answers each:
the default one, two with event filters, one nobody answers (disabled during the run) and one
down until the faults are over (disabled, then enabled again and recovered)."""

from dataclasses import dataclass

# Short, so that the endpoints nobody answers are disabled during the run (docs/webhooks.md#endpoint-health: every
# delivery failed this long, at least 5 ended `failed`); a delivery fails 50 s after its first
# attempt with WEBHOOK_RETRY_INTERVALS_TEST, so they are disabled about a minute into the load.
DISABLE_AFTER = "30s"
DISABLED_REASON = "every delivery failed for 30 seconds"


@dataclass(frozen=True)
class EndpointPlan:
    """One of the test merchant's webhook endpoints and what answers it."""

    name: str
    events: tuple[str, ...]
    # Share of requests its receiver answers 500; None: nothing listens (connection refused).
    fail_rate: float | None
    # Its receiver starts only when the endpoint is recovered (down until then).
    down_until_recovery: bool = False

    @property
    def dead(self) -> bool:
        """Disabled automatically during the run: nothing answers it while the load runs."""
        return self.fail_rate is None or self.down_until_recovery

    def takes(self, event: str) -> bool:
        return "*" in self.events or event in self.events


# The default endpoint (the config's URL, failing --fail-rate) comes first; `fail_rate` of the
# others is fixed. "dead" is refused all along and disabled for it; "recovered" is refused
# until after the faults, disabled meanwhile, then enabled again and recovered since the start.
ENDPOINTS = (
    EndpointPlan("default", ("*",), 0.3),
    EndpointPlan("refunds", ("refund.created", "refund.processed"), 0.3),
    EndpointPlan("outcomes", ("payment.success", "payment.failed", "webhook_endpoint.disabled"), 0.1),
    EndpointPlan("dead", ("*",), None),
    EndpointPlan("recovered", ("payment.success", "refund.processed"), 0.2,
                 down_until_recovery=True),
)  # fmt: skip
