curl -G {{api}}/api/v1/webhooks \
{{auth}} \
  --data-urlencode 'endpoint_id={{endpoint}}' \
  --data-urlencode 'limit=5'
