{{env}}

# Every event, signed as a webhook delivery is, to an endpoint on your machine:
gateway listen --forward-to {{target}}
