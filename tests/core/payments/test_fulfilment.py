"""Fulfilment of a paid top-up session on the memory store: no Stripe, no HTTP, just the rule.

``credit_paid_session`` is what both the buyer's return (confirm) and the
webhook call once Stripe has said "paid": credit the pack stored in the
session, once, net of what the charge already refunded, and only for this tenant.
"""

from __future__ import annotations

import pytest

from credits_core import CreditsService, MemoryStore
from credits_core.errors import CheckoutNotFound
from credits_core.payments.events import PaidSession
from credits_core.payments.flow import credit_paid_session
from credits_core.policy.stripe_refunds import ChargeState

TENANT = "cityzeen"


def paid(session_id: str = "cs_1", *, credits: int = 100, amount: int = 1500, tenant: str = TENANT) -> PaidSession:
    return PaidSession(session_id, "u1", "pack_100", credits, amount, "usd", 1, tenant, "pi_" + session_id)


def test_a_paid_session_credits_its_stored_pack_to_purchased_once(service: CreditsService, store: MemoryStore) -> None:
    first = credit_paid_session(service, paid(), None, tenant=TENANT, via="webhook")
    again = credit_paid_session(service, paid(), None, tenant=TENANT, via="confirm")
    assert (first.replayed, again.replayed) == (False, True)
    assert first.row.delta == 100 and again.row == first.row
    assert service.state("u1").balance.purchased == 100  # included credits (a plan's grant) are untouched
    assert [r.name for r in store.rows() if r.name.startswith("CZ_SMCR|topup|")] == [first.row.name]


def test_the_session_not_the_current_registry_decides_the_credits(service: CreditsService) -> None:
    # A session bought at an older price list still gives what it promised.
    result = credit_paid_session(service, paid(credits=120, amount=1500), None, tenant=TENANT, via="webhook")
    assert result.row.delta == 120


def test_a_session_of_another_tenant_is_not_found_and_writes_nothing(
    service: CreditsService, store: MemoryStore
) -> None:
    with pytest.raises(CheckoutNotFound):
        credit_paid_session(service, paid(tenant="othertenant"), None, tenant=TENANT, via="webhook")
    assert list(store.rows()) == []


@pytest.mark.parametrize(("refunded", "kept"), [(0, 100), (600, 60), (1500, 0)])
def test_a_charge_refunded_before_the_credit_credits_only_what_was_kept(
    service: CreditsService, refunded: int, kept: int
) -> None:
    charge = ChargeState("ch_1", 1500, refunded, "usd")
    credit_paid_session(service, paid(), charge, tenant=TENANT, via="webhook")
    assert service.state("u1").balance.purchased == kept
