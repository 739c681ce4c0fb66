# The gateway CLI comes with the client: pip install ./clients/python
{{env}}

gateway trigger payment.success      # an order and a payment; waits for the event
gateway events list --limit 5
gateway payments list --status success --json
