curl -X POST {{api}}/api/v1/webhooks/endpoints \
  -H 'Content-Type: application/json' \
{{auth}} \
  -H 'Idempotency-Key: erp-refunds-endpoint' \
  -d {{endpoint_body}}
