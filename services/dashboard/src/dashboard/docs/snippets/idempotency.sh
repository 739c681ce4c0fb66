curl -i -X POST {{api}}/api/v1/orders \
  -H 'Content-Type: application/json' \
{{auth}} \
  -H 'Idempotency-Key: order-receipt_124' \
  -d '{"amount": 50000, "currency": "INR", "receipt": "receipt_124"}'
