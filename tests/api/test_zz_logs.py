"""Runs last (file order): no secret or token in any server log of this session."""

from __future__ import annotations

import re

from tests.api.conftest import LOGS, SECRETS, Api

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")


def test_server_logs_hold_no_secret_and_no_token(api: Api):
    # a few requests that carry secrets in places a careless log line would print
    api.http.get("/api/credits-state", headers={"Authorization": f"Bearer {api.token('user_log', exp_in=-60)}"})
    api.http.post("/api/credits-refund", json={"idempotencyKey": "nope"}, headers=api.admin())
    api.http.post("/api/stripe-webhook", content=b"{}", headers={"Stripe-Signature": "t=1,v1=" + "0" * 64})
    assert LOGS and SECRETS
    for path in LOGS:
        text = path.read_text(errors="replace")
        for secret in SECRETS:
            assert secret not in text, f"a secret is in {path.name}"
        assert not JWT.search(text), f"a JWT is in {path.name}"
        assert "sk_test_" not in text and "whsec_" not in text, path.name
