"""Account page and DEMO controls: plan preview + confirm, DEMO purchase, month rollover, spend down."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from ..helpers import assert_clean, chip, click, demo_service, demo_user, messages, metric


def choose_plan(at: AppTest, plan: str, current: str) -> AppTest:
    at.selectbox(key=f"cz_plan_choice_{current}").set_value(plan).run()
    assert_clean(at)
    return at


def test_balance_by_bucket_and_matrix(demo: AppTest) -> None:
    assert metric(demo, "Balance") == "100"
    assert metric(demo, "Included") == "100"
    assert metric(demo, "Purchased") == "0"
    assert metric(demo, "Plan") == "Base"
    matrix = next(d.value for d in demo.dataframe if "Needs" in d.value.columns)
    deep = matrix[matrix["Tool"] == "Ask AI — deep research"].iloc[0]
    assert deep["Credits"] == 5 and deep["Needs"] == "Intelligence+"
    assert not deep["Base"] and deep["Intelligence"] and deep["Professional"]
    assert [s.value for s in demo.subheader][:1] == ["Credits"]
    assert demo.subheader[0].proto.anchor == "credits", "the chip's /account#credits target"


def test_upgrade_preview_then_confirm_grants(demo: AppTest) -> None:
    choose_plan(demo, "professional", "base")
    assert "Preview: Base → Professional" in " ".join(m.value for m in demo.markdown)
    assert metric(demo, "Granted now") == "+1,400"
    assert metric(demo, "Trimmed") == "−0"
    assert metric(demo, "New balance") == "1,500"
    assert chip(demo) == "100 credits · DEMO", "a preview changes nothing"
    click(demo, "Confirm: switch to Professional")
    assert "You are now on **Professional**: granted +1,400, trimmed −0, balance **1,500**" in messages(demo)
    assert chip(demo) == "1,500 credits · DEMO"
    assert metric(demo, "Plan") == "Professional"


def test_downgrade_preview_then_confirm_trims(demo: AppTest) -> None:
    service, user = demo_service(demo), demo_user(demo)
    service.change_plan(user, "professional")
    service.top_up(user, "pack_100", "demo-test-pack")  # purchased credits are never trimmed
    demo.run()
    assert chip(demo) == "1,600 credits · DEMO"
    choose_plan(demo, "base", "professional")
    assert metric(demo, "Granted now") == "+0"
    assert metric(demo, "Trimmed") == "−1,200"
    assert metric(demo, "New balance") == "400"
    click(demo, "Confirm: switch to Base")
    assert "granted +0, trimmed −1,200, balance **400**" in messages(demo)
    assert metric(demo, "Included") == "300" and metric(demo, "Purchased") == "100"
    assert chip(demo) == "400 credits · DEMO"


def test_switching_down_and_up_again_grants_nothing_new(demo: AppTest) -> None:
    choose_plan(demo, "intelligence", "base")
    click(demo, "Confirm: switch to Intelligence")
    assert chip(demo) == "400 credits · DEMO"
    choose_plan(demo, "base", "intelligence")
    click(demo, "Confirm: switch to Base")
    choose_plan(demo, "intelligence", "base")
    assert metric(demo, "Granted now") == "+0"


def test_demo_purchase_credits_the_purchased_bucket(demo: AppTest) -> None:
    demo.button(key="cz_buy_pack_500").click().run()
    assert_clean(demo)
    assert "DEMO purchase: **+500 credits**" in messages(demo)
    assert metric(demo, "Purchased") == "500"
    assert chip(demo) == "600 credits · DEMO"
    [row] = [r for r in demo_service(demo).ledger_tail(demo_user(demo), 10) if r.kind == "topup"]
    assert row.name.startswith("CZ_SMCR|topup|demo-")


def test_next_month_grants_then_caps_at_soft_cap(demo: AppTest) -> None:
    click(demo, "Next month")
    assert "monthly grant **+100** included credits" in messages(demo)
    assert "Included balance: **200 / 300**" in messages(demo)
    assert chip(demo) == "200 credits · DEMO"
    click(demo, "Next month")
    assert chip(demo) == "300 credits · DEMO"
    click(demo, "Next month")
    text = messages(demo)
    assert "monthly grant **+0**" in text and "capped by the soft cap of **300**" in text
    assert chip(demo) == "300 credits · DEMO"


def test_spend_down_and_reset(demo: AppTest) -> None:
    demo.button(key="cz_buy_pack_100").click().run()
    click(demo, "Spend down")
    assert chip(demo) == "0 credits · DEMO"
    assert metric(demo, "Purchased") == "0"
    old_user = demo_user(demo)
    click(demo, "Reset demo")
    assert chip(demo) == "100 credits · DEMO"
    assert demo_user(demo) != old_user


def test_demo_plan_picker_in_sidebar(demo: AppTest) -> None:
    demo.sidebar.selectbox(key="cz_demo_plan_base").set_value("intelligence").run()
    assert_clean(demo)
    assert "Plan is now **Intelligence**" in messages(demo)
    assert chip(demo) == "400 credits · DEMO"


def test_checkout_cancel_return(demo: AppTest) -> None:
    demo.query_params["checkout"] = "cancel"
    demo.run()
    assert_clean(demo)
    assert "Checkout cancelled" in messages(demo)
    assert "checkout" not in demo.query_params
