"""The webhook dispatcher: delivers signed events to merchants and retries on schedule."""
