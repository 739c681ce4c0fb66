curl -X POST {{api}}/api/v1/orders \
  -H 'Content-Type: application/json' \
{{auth}} \
  -d '{"amount": 50000, "currency": "INR", "receipt": "receipt_123"}'
