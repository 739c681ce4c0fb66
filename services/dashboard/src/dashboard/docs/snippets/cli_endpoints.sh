{{env}}

gateway webhooks endpoints create {{endpoint_url}} \
  --events {{endpoint_events}} --description 'ERP refunds'
gateway webhooks endpoints list
gateway webhooks list --endpoint {{endpoint}}
gateway webhooks endpoints recover {{endpoint}} --since {{since}}
