"""No secret or token in server logs: checked by this test on its own requests, and for every server at the end.

Order-independent: the test sends the requests a careless log line would leak
from, then reads that server's log; the session fixture ``_logs_hold_no_secret``
(``conftest.py``) scans every server log of the session when the servers stop.
"""

from __future__ import annotations

from tests.api.conftest import SECRETS, Api, assert_log_clean


def test_server_logs_hold_no_secret_and_no_token(api: Api):
    # requests that carry secrets in places a careless log line would print
    api.http.get("/api/credits-state", headers={"Authorization": f"Bearer {api.token('user_log', exp_in=-60)}"})
    api.http.post("/api/credits-refund", json={"idempotencyKey": "nope"}, headers=api.admin())
    api.http.post("/api/stripe-webhook", content=b"{}", headers={"Stripe-Signature": "t=1,v1=" + "0" * 64})
    assert SECRETS
    assert_log_clean(api.server.log_path)
