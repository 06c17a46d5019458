"""Ask AI in DEMO mode: cost shown first, debit until blocked, warn-only, refund, no double charge."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from ..helpers import assert_clean, chip, click, demo_service, demo_user, messages, open_page


def ask(at: AppTest, question: str, *, tool: str | None = None) -> AppTest:
    at.text_area(key="cz_ask_question").input(question)
    if tool:
        at.button_group(key="cz_ask_tool").set_value(tool)
    at.button(key="cz_ask_submit").click().run()
    assert_clean(at)
    return at


def debits(at: AppTest) -> list:
    return [r for r in demo_service(at).ledger_tail(demo_user(at), 500) if r.kind == "debit"]


def set_balance(at: AppTest, credits: int) -> None:
    """Bring the DEMO balance to ``credits`` through the engine (an ops adjustment)."""
    service, user = demo_service(at), demo_user(at)
    bal = service.state(user, tail=0).balance
    service.adjust(user, "test-set-included", credits - bal.included, "included", "test setup")


def test_cost_is_shown_before_asking(demo: AppTest) -> None:
    open_page(demo, "pages/ask_ai.py")
    assert any("costs **1 credit**" in m.value and "balance: **100**" in m.value for m in demo.markdown)
    assert demo.button(key="cz_ask_submit").label == "Ask · 1 credit"
    demo.button_group(key="cz_ask_tool").set_value("ask_ai_deep").run()
    assert any("reserves **8 credits**" in m.value and "Intelligence" in m.value for m in demo.markdown)


def test_debit_until_blocked_with_enforcement(demo: AppTest) -> None:
    open_page(demo, "pages/ask_ai.py")
    set_balance(demo, 2)
    for n, expected in ((1, "1 credit"), (2, "0 credits")):
        ask(demo, f"Question number {n}?")
        assert "Charged **1 credit**" in messages(demo)
        assert chip(demo) == f"{expected} · DEMO"
    ask(demo, "One question too many?")
    text = messages(demo)
    assert "Not enough credits" in text
    assert [m.value for m in demo.metric if m.label == "Required"] == ["1 credit"]
    assert [m.value for m in demo.metric if m.label == "Your balance"] == ["0 credits"]
    assert any("Top up" in p.value for p in demo.get("page_link")), "top-up path link"
    assert len(debits(demo)) == 2, "a blocked question writes nothing"
    assert chip(demo) == "0 credits · DEMO"


def test_warn_only_allows_and_warns(demo: AppTest) -> None:
    open_page(demo, "pages/ask_ai.py")
    demo.toggle(key="cz_demo_enforce").set_value(False).run()
    set_balance(demo, 0)
    ask(demo, "Can I still ask with nothing left?")
    assert "Warn-only mode" in messages(demo)
    assert "nothing was charged" in messages(demo)
    [row] = debits(demo)
    assert row.delta == 0 and row.meta["shortfall"] == 1
    assert chip(demo) == "0 credits · DEMO"
    assert any(m.name == "assistant" for m in demo.chat_message), "the action still ran"


def test_failure_is_refunded(demo: AppTest) -> None:
    open_page(demo, "pages/ask_ai.py")
    demo.toggle(key="cz_ask_fail").set_value(True).run()
    ask(demo, "Will this one fail?")
    assert "refunded" in messages(demo)
    assert chip(demo) == "100 credits · DEMO"
    kinds = [r.kind for r in demo_service(demo).ledger_tail(demo_user(demo), 10)]
    assert kinds[:2] == ["refund", "debit"]
    # retrying is a new, separately charged question (the failed one is closed)
    demo.toggle(key="cz_ask_fail").set_value(False).run()
    demo.button(key="cz_ask_submit").click().run()
    assert chip(demo) == "99 credits · DEMO"
    assert len(debits(demo)) == 2


def test_double_click_is_charged_once(demo: AppTest) -> None:
    open_page(demo, "pages/ask_ai.py")
    ask(demo, "What is a fair discount to NAV?")
    assert chip(demo) == "99 credits · DEMO"
    first_key = debits(demo)[0].name
    demo.button(key="cz_ask_submit").click().run()  # the second click of a double click
    assert_clean(demo)
    assert "not charged again" in messages(demo)
    assert chip(demo) == "99 credits · DEMO"
    assert [r.name for r in debits(demo)] == [first_key]
    # a new question is a new charge
    click(demo, "New question")
    ask(demo, "And for a 2021 vintage?")
    assert chip(demo) == "98 credits · DEMO"


def test_plan_required_links_to_upgrade(demo: AppTest) -> None:
    open_page(demo, "pages/ask_ai.py")
    ask(demo, "Deep dive please", tool="ask_ai_deep")
    text = messages(demo)
    assert "Upgrade needed" in text and "Intelligence" in text
    assert any("Change plan" in p.value for p in demo.get("page_link"))
    assert debits(demo) == []


def on_intelligence(at: AppTest) -> None:
    demo_service(at).change_plan(demo_user(at), "intelligence", reason="test")


def test_deep_research_reserves_charges_and_releases(demo: AppTest) -> None:
    open_page(demo, "pages/ask_ai.py")
    on_intelligence(demo)
    before = demo_service(demo).state(demo_user(demo), tail=0).balance.total
    ask(demo, "Deep dive into 2019 buyout secondaries", tool="ask_ai_deep")
    assert "reserved 8 · charged 5 · released 3" in messages(demo)
    assert chip(demo) == f"{before - 5:,} credits · DEMO"
    tail = demo_service(demo).ledger_tail(demo_user(demo), 2)
    assert [r.kind for r in tail] == ["debit", "hold"] and tail[0].meta["released"] == 3
    demo.button(key="cz_ask_submit").click().run()  # a double click replays: no second hold, no second charge
    assert chip(demo) == f"{before - 5:,} credits · DEMO"
    assert demo_service(demo).state(demo_user(demo), tail=0).holds == ()


def test_a_failed_deep_research_releases_its_hold(demo: AppTest) -> None:
    open_page(demo, "pages/ask_ai.py")
    on_intelligence(demo)
    before = demo_service(demo).state(demo_user(demo), tail=0).balance.total
    demo.toggle(key="cz_ask_fail").set_value(True).run()
    ask(demo, "Extract the fees", tool="document_extract")
    assert "hold was released" in messages(demo) and "reserved 6 · charged 0 · released 6" in messages(demo)
    assert chip(demo) == f"{before:,} credits · DEMO"
    assert [r.kind for r in demo_service(demo).ledger_tail(demo_user(demo), 2)] == ["release", "hold"]


def test_ops_lists_active_and_expired_holds(demo: AppTest) -> None:
    service, user = demo_service(demo), demo_user(demo)
    service.hold(user, "comps_report", "ops-h1")
    service.hold(user, "comps_report", "ops-h2")
    service.settle(user, "ops-h2", 1)
    frame = service.holds(user)
    assert dict(zip(frame["holdKey"], frame["status"], strict=True)) == {"ops-h1": "active", "ops-h2": "settled"}
    open_page(demo, "pages/ops_ledger.py")
    assert any("Holds · 1 active" in e.label for e in demo.expander)
    service.clock.advance_month()  # the DEMO clock a month on: the open hold (TTL 900 s) reads as expired
    assert service.holds(user).set_index("holdKey").loc["ops-h1", "status"] == "expired"
