"""Reconciliation on the Stripe stand-in: each planted drift found and repaired once; a clean ledger is clean."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from credits_core import CreditsService, FixedClock, MemoryStore
from credits_core.errors import PaymentsUnavailable
from credits_core.reconcile import StripeLister, reconcile, repair
from credits_core.registry import MemoryRegistryRepository
from tests.core.payments.support import PACK_PRICE, TENANT, App, gateway_for
from tests.core.payments.test_refund_orders import T0
from tests.standins.stripe import FakeStripe, WebhookSink, rate_limit


@pytest.fixture
def app(store: MemoryStore) -> Iterator[App]:
    with FakeStripe(lifetime_s=120, webhook_retry_delays=(0.01, 0.01)) as fake:
        service = CreditsService(store, MemoryRegistryRepository(), clock=FixedClock(T0))
        yield App(service, gateway_for(fake), fake)


def lister(app: App, **kw) -> StripeLister:
    waits: list[float] = []
    return StripeLister(app.gateway, sleep=waits.append, **kw)


def run(app: App, **kw):
    return reconcile(app.service, app.gateway, tenant=TENANT, lister=lister(app, **kw))


def rows(app: App) -> int:
    return sum(1 for _ in app.service.iter_rows())


def unpaid_session(app: App, user: str) -> str:
    return app.gateway.create_checkout(
        user_id=user, pack_id="pack_100", pack_label="100 credits", credits=100, unit_amount=PACK_PRICE,
        currency="usd", registry_version=1, tenant=TENANT, attempt_id=f"open-{user}",
    ).id


def plant(app: App) -> dict[str, str]:
    """Every kind of drift, next to a session that is in order."""
    ok = app.buy("u_clean")
    app.confirm("u_clean", ok)
    never = app.buy("u_never_confirmed")  # paid, the buyer never came back, no webhook configured
    with WebhookSink(statuses=[500] * 3) as sink:  # the webhook is delivered, fails every retry: lost
        app.fake.set_webhook_url(sink.url)
        lost = unpaid_session(app, "u_lost_webhook")
        app.fake.mark_paid(lost, notify=True)
        app.fake.wait_for_deliveries(3)
        app.fake.set_webhook_url(None)
    refunded = app.buy("u_refunded")
    app.confirm("u_refunded", refunded)
    app.fake.refund(refunded, 750, notify=False)  # charge.refunded never arrives
    by_hand = unpaid_session(app, "u_by_hand")
    app.service.top_up("u_by_hand", "pack_100", by_hand)  # someone credited an unpaid session
    app.service.top_up("u_ghost", "pack_100", "cs_test_no_such_session")
    return {"ok": ok, "never": never, "lost": lost, "refunded": refunded, "by_hand": by_hand}


def test_a_clean_ledger_reports_zero_drift(app: App):
    for user in ("a", "b"):
        sid = app.buy(user)
        app.confirm(user, sid)
    unpaid_session(app, "c")  # an open session credits nothing and owes nothing
    report = run(app)
    assert report.drift == [] and report.checked["paidSessions"] == 2 and report.checked["sessions"] == 3


def test_each_planted_drift_is_found_then_repaired_exactly_once(app: App, store: MemoryStore):
    s = plant(app)
    report = run(app)
    found = {(d.code, d.stripe_id): d for d in report.drift}
    charge = app.fake._sessions[s["refunded"]].charge["id"]  # type: ignore[index]
    assert set(found) == {
        ("paid_not_credited", s["never"]),
        ("paid_not_credited", s["lost"]),
        ("refund_not_taken_back", charge),
        ("credited_not_paid", s["by_hand"]),
        ("stripe_object_missing", "cs_test_no_such_session"),
    }
    assert found[("paid_not_credited", s["never"])].row == f"CZ_SMCR|topup|{s['never']}"
    assert found[("credited_not_paid", s["by_hand"])].row == f"CZ_SMCR|topup|{s['by_hand']}"
    assert "750 of 1500" in found[("refund_not_taken_back", charge)].detail
    assert found[("stripe_object_missing", "cs_test_no_such_session")].repair is None

    before = rows(app)
    done = {(r.drift.code, r.drift.stripe_id): r for r in repair(app.service, app.gateway, report, tenant=TENANT)}
    assert {k: r.action for k, r in done.items()} == {
        ("paid_not_credited", s["never"]): "credited",
        ("paid_not_credited", s["lost"]): "credited",
        ("refund_not_taken_back", charge): "taken_back",
        ("credited_not_paid", s["by_hand"]): "reversed",
        ("stripe_object_missing", "cs_test_no_such_session"): "skipped",
    }
    acct = store.account
    assert acct("u_never_confirmed").balance.purchased == 100
    assert acct("u_lost_webhook").balance.purchased == 100
    assert acct("u_refunded").balance.purchased == 50, "half the charge refunded: half the pack taken back"
    assert acct("u_by_hand").balance.purchased == 0
    assert app.service.find_row(f"CZ_SMCR|adjust|reconcile-unpaid:{s['by_hand']}").delta == -100  # type: ignore[union-attr]
    written = rows(app) - before
    assert written >= 4

    again = run(app)
    assert [(d.code, d.stripe_id) for d in again.drift] == [("stripe_object_missing", "cs_test_no_such_session")]
    after = rows(app)
    second = repair(app.service, app.gateway, again, tenant=TENANT)
    assert [r.action for r in second] == ["skipped"] and rows(app) == after, "a second repair changes nothing"
    # And the paths themselves are exactly-once: repairing the first report again writes nothing either.
    assert {r.action for r in repair(app.service, app.gateway, report, tenant=TENANT)} <= {"nothing_to_do", "skipped", "reversed"}
    assert rows(app) == after


def test_a_reversal_never_goes_below_zero_and_records_the_shortfall(app: App, store: MemoryStore):
    sid = unpaid_session(app, "u_spender")
    app.service.top_up("u_spender", "pack_100", sid)
    app.service.adjust("u_spender", "spend", -60, "purchased", "spent 60 of the pack")
    report = run(app)
    (done,) = repair(app.service, app.gateway, report, tenant=TENANT)
    row = app.service.find_row(done.row)  # type: ignore[arg-type]
    assert row is not None and (row.delta, row.meta["wanted"], row.meta["short"]) == (-40, 100, 60)
    assert "short 60" in row.meta["reason"] and store.account("u_spender").balance.purchased == 0


def test_a_mismatched_top_up_is_reported_for_a_human(app: App):
    sid = app.buy("u_mismatch")
    app.service.top_up("u_mismatch", "pack_500", sid)  # credited by hand with the wrong pack
    (line,) = run(app).drift
    assert (line.code, line.stripe_id, line.repair) == ("amount_mismatch", sid, None)
    assert "500 credits in the ledger, 100 bought" in line.detail


def test_pages_are_walked_and_rate_limits_waited_out(app: App):
    sids = [app.buy(f"p{k}") for k in range(5)]
    rate_limit(app.fake, 2, retry_after=2)
    lst = lister(app, page=2)
    report = reconcile(app.service, app.gateway, tenant=TENANT, lister=lst)
    assert {d.stripe_id for d in report.drift} == set(sids) and lst.waits == [2.0, 2.0]
    pages = [r for r in app.fake.requests() if r["path"] == "/v1/checkout/sessions" and r["status"] == 200]
    assert len(pages) >= 3 and any(p["params"].get("starting_after") for p in pages)
    # Mid-walk 429: the walk resumes after the last session seen (none twice, none lost).
    rate_limit(app.fake, 1, retry_after=1, after=1)  # the second page answers 429 once
    lst = lister(app, page=2)
    seen = [d.stripe_id for d in reconcile(app.service, app.gateway, tenant=TENANT, lister=lst).drift]
    assert sorted(seen) == sorted(sids) and lst.waits == [1.0]
    resumed = [r["params"].get("starting_after") for r in app.fake.requests()[-6:] if r["method"] == "GET"]
    assert resumed.count(None) >= 1 and len([x for x in resumed if x]) >= 2


def test_stripe_down_or_refusing_is_a_clear_error_and_writes_nothing(app: App):
    app.buy("u_down")
    before = rows(app)
    app.fake.fail_next(1, 500)
    with pytest.raises(PaymentsUnavailable) as err:
        run(app)
    assert "list checkout sessions" in err.value.message and app.fake.secret_key not in str(err.value.to_dict())
    rate_limit(app.fake, 1, should_retry=False)
    with pytest.raises(PaymentsUnavailable) as err:
        run(app)
    assert err.value.details["reason"] == "rate_limited" and rows(app) == before


def test_a_window_finds_a_refund_of_an_older_session_and_ledger_rows_of_the_window(app: App):
    from datetime import UTC, datetime

    from tests.standins.stripe import set_created

    old = app.buy("u_old")
    app.confirm("u_old", old)
    app.fake.refund(old, 300, notify=False)
    set_created(app.fake, old, 1_600_000_000)  # 2020: before the window
    refund_id = app.fake.__dict__["_refund_objects"][-1]["id"]
    set_created(app.fake, refund_id, 1_800_000_000)  # 2027: inside it
    outside = app.buy("u_outside")  # paid, uncredited, but created in 2020 too: not in this window
    set_created(app.fake, outside, 1_600_000_100)
    since, until = datetime(2026, 6, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
    report = reconcile(app.service, app.gateway, tenant=TENANT, since=since, until=until, lister=lister(app))
    assert [(d.code, d.session) for d in report.drift] == [("refund_not_taken_back", old)]
    listed = [r for r in app.fake.requests() if r["path"] == "/v1/checkout/sessions" and r["method"] == "GET"]
    assert listed[0]["params"]["created[gte]"] == str(int(since.timestamp()))
