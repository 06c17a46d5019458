"""Ops overview (outstanding credits), the Reconciliation panel (admins) and the chained export button."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from credits_core.export import verify_chain
from credits_core.payments import StripeGateway
from credits_core.seed import seed_demo
from tests.standins.stripe import FakeStripe

from ..helpers import assert_clean, button, messages, metric, open_page, server_service, server_store, signed_in

ADMIN = "user_admin"


def outstanding_table(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "outstanding" in d.value.columns)


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("CZ_ADMIN_USERS", ADMIN)
    return signed_in(sub=ADMIN)


def test_outstanding_series_is_the_running_sum_of_the_rows_per_day(admin: AppTest) -> None:
    service = server_service()
    seed_demo(service, users=6, months=2, scale=0.3)
    service.top_up("user_0001", "pack_500", "extra-topup-1")  # purchased credits to value
    service.top_up("user_0002", "pack_100", "extra-topup-2")
    open_page(admin, "pages/ops_ledger.py")
    assert [s.value for s in admin.subheader][:1] == ["Outstanding credits"], "the overview leads the page"
    shown = outstanding_table(admin)
    per_day: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in service.iter_rows():
        cell = per_day[r.created_at.strftime("%Y-%m-%d")]
        cell[0] += r.included_delta
        cell[1] += r.purchased_delta
        cell[2 if r.delta > 0 else 3] += r.delta
    days = sorted(per_day)
    assert [d.strftime("%Y-%m-%d") for d in pd.to_datetime(shown["day"])] == days
    inc = pur = 0
    for (_, row), day in zip(shown.iterrows(), days, strict=True):
        inc, pur = inc + per_day[day][0], pur + per_day[day][1]
        assert (row["included"], row["purchased"], row["outstanding"]) == (inc, pur, inc + pur), day
        assert (row["creditsIn"], row["creditsOut"]) == (per_day[day][2], per_day[day][3]), day
    with server_store() as store:
        total = sum(a.balance.total for a in store.accounts())
    assert metric(admin, "Outstanding credits") == f"{total:,}" and inc + pur == total
    topups = [r for r in service.iter_rows() if r.kind == "topup"]
    price = sum(r.meta["price"] for r in topups) / sum(r.meta["credits"] for r in topups)
    assert shown["purchasedValue"].iloc[-1] == pytest.approx(pur * price / 100, abs=0.01)


def test_chained_export_button_writes_a_checkpoint_and_a_file_that_verifies(admin: AppTest) -> None:
    service = server_service()
    seed_demo(service, users=2, months=1, scale=0.1)
    admin.run()
    open_page(admin, "pages/ops_ledger.py")
    button(admin, "Chained export (JSON Lines)").click().run()
    assert_clean(admin)
    caption = next(c.value for c in admin.caption if "checkpoint `CZ_SMCR|checkpoint|" in c.value)
    name = caption.split("checkpoint `")[1].split("`")[0]
    checkpoint = service.find_row(name)
    assert checkpoint is not None and checkpoint.kind == "checkpoint" and checkpoint.delta == 0
    assert any(b.label == "Download chained export" for b in admin.download_button)
    _, head, data = admin.session_state["cz_chain"]  # the bytes the download button serves
    verdict = verify_chain(data.splitlines(keepends=True), service.find_row)
    assert verdict.ok and verdict.rows == head.rows == checkpoint.meta["rows"]


@pytest.fixture
def stripe_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    with FakeStripe(lifetime_s=120) as fake:
        monkeypatch.setenv("STRIPE_SECRET_KEY", fake.secret_key)
        monkeypatch.setenv("STRIPE_API_BASE", fake.url)
        monkeypatch.setenv("CZ_PUBLIC_APP_URL", "https://app.example.test")
        yield fake


def paid_but_never_confirmed(fake: FakeStripe, user: str) -> str:
    gw = StripeGateway(fake.secret_key, webhook_secret=None, api_base=fake.url,
                       public_app_url="https://app.example.test", max_network_retries=0)
    sid = gw.create_checkout(user_id=user, pack_id="pack_100", pack_label="100 credits", credits=100,
                             unit_amount=1500, currency="usd", registry_version=1, tenant="cityzeen",
                             attempt_id=f"ui-{user}").id
    fake.mark_paid(sid)
    return sid


def test_reconciliation_panel_finds_and_repairs_once(stripe_env: FakeStripe, monkeypatch) -> None:
    monkeypatch.setenv("CZ_ADMIN_USERS", ADMIN)
    sid = paid_but_never_confirmed(stripe_env, "user_buyer")
    at = signed_in(sub=ADMIN)
    open_page(at, "pages/ops_ledger.py")
    assert "Reconciliation" in [s.value for s in at.subheader]
    button(at, "Run reconciliation").click().run()
    assert_clean(at)
    drift = next(d.value for d in at.dataframe if "stripeId" in d.value.columns)
    assert list(zip(drift["code"], drift["stripeId"], drift["row"], strict=True)) == [
        ("paid_not_credited", sid, f"CZ_SMCR|topup|{sid}")]
    button(at, "Repair 1 line(s)").click().run()
    assert_clean(at)
    done = next(d.value for d in at.dataframe if "action" in d.value.columns)
    assert list(done["action"]) == ["credited"]
    with server_store() as store:
        assert store.account("user_buyer").balance.purchased == 100
    button(at, "Run reconciliation").click().run()
    assert "No drift" in messages(at)


def test_reconciliation_panel_is_for_admins_only(stripe_env: FakeStripe) -> None:
    at = signed_in(sub="user_plain")
    open_page(at, "pages/ops_ledger.py")
    assert "Admins only" in messages(at) and "Reconciliation" not in [s.value for s in at.subheader]
    assert not [b for b in at.button if b.label == "Run reconciliation"]


def test_reconciliation_without_stripe_says_so(admin: AppTest) -> None:
    open_page(admin, "pages/ops_ledger.py")
    assert "Stripe is not configured on this server" in messages(admin)
