"""Reading a top-up's charge from Stripe (``payments.refund_sync``), against the stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from credits_core import CreditsService, FixedClock, MemoryStore
from credits_core.errors import CheckoutNotFound, PaymentsUnavailable
from credits_core.payments.refund_sync import newest, paid_session_of_payment_intent, session_charge
from credits_core.policy.stripe_refunds import ChargeState
from credits_core.registry import MemoryRegistryRepository
from tests.core.payments.support import PACK_PRICE, App, gateway_for
from tests.core.payments.test_refund_orders import T0
from tests.standins.stripe import FakeStripe


@pytest.fixture
def app(store: MemoryStore) -> Iterator[App]:
    with FakeStripe(lifetime_s=120) as fake:
        service = CreditsService(store, MemoryRegistryRepository(), clock=FixedClock(T0))
        yield App(service, gateway_for(fake), fake)


def test_session_charge_reads_the_refunded_amount(app: App):
    sid = app.buy("u1")
    charge = session_charge(app.gateway, sid)
    assert charge is not None and charge.charge_id.startswith("ch_")
    assert (charge.amount, charge.amount_refunded, charge.currency) == (PACK_PRICE, 0, "usd")
    app.fake.refund(sid, 300, notify=False)
    assert session_charge(app.gateway, sid).amount_refunded == 300  # type: ignore[union-attr]
    sent = app.fake.requests()[-1]
    assert sent["method"] == "GET" and sent["data"]["expand"] == ["payment_intent.latest_charge"]


def test_a_session_without_a_charge_has_none(app: App):
    sid = app.gateway.create_checkout(
        user_id="u2", pack_id="pack_100", pack_label="100", credits=100, unit_amount=PACK_PRICE, currency="usd",
        registry_version=1, tenant="cityzeen", attempt_id="free",
    ).id
    app.fake.mark_paid(sid, payment_status="no_payment_required")  # a 100 % discount: nothing charged
    assert session_charge(app.gateway, sid) is None


def test_unknown_session_and_stripe_down(app: App):
    with pytest.raises(CheckoutNotFound):
        session_charge(app.gateway, "cs_test_nope")
    sid = app.buy("u3")
    app.fake.fail_next(1, 500)
    with pytest.raises(PaymentsUnavailable) as err:
        session_charge(app.gateway, sid)
    assert app.fake.secret_key not in json.dumps(err.value.to_dict()) + str(err.value)


def test_the_session_of_a_payment_intent(app: App):
    sid = app.buy("u4")
    pi = app.fake.session(sid)["payment_intent"]
    app.fake.refund(sid, 750, notify=False)
    found = paid_session_of_payment_intent(app.gateway, pi)
    assert found is not None
    paid, charge = found
    assert (paid.session_id, paid.user_id, paid.credits) == (sid, "u4", 100)
    assert charge is not None and charge.amount_refunded == 750
    assert paid_session_of_payment_intent(app.gateway, "pi_not_ours") is None
    sent = app.fake.requests()[-1]
    assert (sent["method"], sent["path"], sent["data"]["payment_intent"]) == ("GET", "/v1/checkout/sessions", "pi_not_ours")


def test_a_refund_of_someone_elses_payment_is_ignored(app: App, store: MemoryStore):
    sid = app.buy("u5")
    payload = json.loads(app.fake.charge_refunded(sid))
    payload["data"]["object"]["payment_intent"] = "pi_of_another_integration"
    raw = json.dumps(payload).encode()
    assert app.hook(raw) == {"received": True, "action": "ignored"}
    assert store.account("u5").balance.purchased == 0


def test_newest_prefers_the_most_refunded_state_of_one_charge():
    a, b = ChargeState("ch_1", 100, 30), ChargeState("ch_1", 100, 60)
    assert newest(a, b) == b and newest(b, None, a) == b and newest(None) is None
    assert newest(ChargeState("ch_2", 100, 90), a) == ChargeState("ch_2", 100, 90)  # other charge: the first known
