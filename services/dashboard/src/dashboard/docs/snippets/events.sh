curl -G {{api}}/api/v1/events \
{{auth}} \
  --data-urlencode 'type=payment.created' \
  --data-urlencode 'created_from=2020-01-01T00:00:00Z' \
  --data-urlencode 'limit=5'
