curl -X POST {{api}}/api/v1/payments/{{payment}}/refunds \
  -H 'Content-Type: application/json' \
{{auth}} \
  -H 'Idempotency-Key: refund-{{payment}}-1' \
  -d '{"amount": 10000, "reason": "Customer returned one item"}'
