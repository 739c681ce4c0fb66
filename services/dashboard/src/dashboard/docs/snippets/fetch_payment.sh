curl {{api}}/api/v1/payments/{{payment}} \
{{auth}}
