curl -X POST {{api}}/api/v1/payments/{{payment}}/capture \
  -H 'Content-Type: application/json' \
{{auth}} \
  -d '{}'
