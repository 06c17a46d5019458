"""The Account page after a Checkout whose payment was partly refunded before the buyer returned."""

from __future__ import annotations

import pytest

from tests.standins.stripe import FakeStripe

from ..helpers import assert_clean, chip, messages, signed_in


def test_a_refunded_share_is_held_back_and_said(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeStripe() as stripe:
        monkeypatch.setenv("STRIPE_SECRET_KEY", stripe.secret_key)
        monkeypatch.setenv("STRIPE_API_BASE", stripe.url)
        monkeypatch.setenv("CZ_PUBLIC_APP_URL", "http://127.0.0.1:8501")
        at = signed_in(sub="user_refunded_early")
        at.button(key="cz_buy_pack_500").click().run()
        [link] = at.get("link_button")
        session_id = link.proto.url.rstrip("/").rsplit("/", 1)[-1]
        stripe.mark_paid(session_id)
        stripe.refund(session_id, 2400, notify=False)  # 40 % of 6000 refunded before the return
        at.query_params.update({"checkout": "success", "session_id": session_id})
        at.run()
        assert_clean(at)
        expected = "Payment received: **+300 credits** (200 held back: the payment was refunded). New balance **400**"
        assert expected in messages(at)
        assert chip(at) == "400 credits"
