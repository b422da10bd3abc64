"""The request examples of Dojo's "Refund a payment" page, verbatim, as the tests run them.

Only the host, port, key and payment intent id are substituted (see test_seed_examples.py).
"""

CURL = r"""curl -v --request POST \
--url https://api.dojo.tech/payment-intents/<paymentIntentId>/refunds \
--header 'Content-Type: application/json' \
--header 'Authorization: Basic <your_api_key>' \
--header 'Version: 2024-02-05' \
--header 'IdempotencyKey: 656565gfyd65' \
--data '{
"amount": 1000,
"refundReason": "Demo refund",
"notes": "Duplicate transaction"
}'
"""

PYTHON = r"""import http.client
conn = http.client.HTTPSConnection("api.dojo.tech")
payload = "{\"amount\":1000,\"refundReason\":\"Demo refund\",\"notes\":\"Duplicate transaction\"}"
headers = {
'Content-Type': "application/json",
'IdempotencyKey': "656565gfyd65",
'Version': "2024-02-05",
'Authorization': "Basic <your_api_key>"
}
conn.request("POST", f"/payment-intents/{paymentIntentId}/refunds", payload, headers)
res = conn.getresponse()
data = res.read()
print(data.decode("utf-8"))
conn.close()
"""
