# 1. Send it new events again (your server is back up):
curl -X PATCH {{api}}/api/v1/webhooks/endpoints/{{endpoint}} \
  -H 'Content-Type: application/json' \
{{auth}} \
  -d '{"status": "enabled"}'

# 2. Deliver once more every event since the outage began that it never received:
curl -X POST {{api}}/api/v1/webhooks/endpoints/{{endpoint}}/recover \
  -H 'Content-Type: application/json' \
{{auth}} \
  -H 'Idempotency-Key: recover-{{endpoint}}-{{since}}' \
  -d {{window}}
