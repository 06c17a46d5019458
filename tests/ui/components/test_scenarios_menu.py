"""The DEMO Scenarios menu, "Copy link to this state", and opening a (bad) link."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from streamlit.testing.v1 import AppTest

from ..helpers import assert_clean, chip, click, demo_service, demo_user, messages, new_app, open_page


def _link(at: AppTest) -> str:
    codes = [c.value for c in at.code if "scenario=" in c.value]
    assert codes, "no state link on the page"
    return codes[0]


def _open(link: str) -> AppTest:
    at = new_app()
    for key, values in parse_qs(urlsplit(link).query).items():
        at.query_params[key] = values
    return at.run()


def test_one_left_then_the_second_question_is_blocked(demo: AppTest) -> None:
    click(demo, "Exactly one quick answer left")
    assert chip(demo) == "1 credit · DEMO"
    assert "Scenario **Exactly one quick answer left**" in messages(demo) or "one quick answer" in messages(demo)
    open_page(demo, "pages/ask_ai.py")
    service, user = demo_service(demo), demo_user(demo)
    assert service.enforce
    service.debit(user, "ask_ai", "first")
    demo.run()
    assert chip(demo) == "0 credits · DEMO"


def test_a_link_rebuilds_the_state_in_a_fresh_session(demo: AppTest) -> None:
    click(demo, "Just after a downgrade trim")
    before = (chip(demo), demo_service(demo).state(demo_user(demo), tail=0))
    link = _link(demo)
    assert "scenario=downgrade_trim" in link and "plan=base" in link
    fresh = _open(link)
    assert_clean(fresh)
    after = demo_service(fresh).state(demo_user(fresh), tail=0)
    assert chip(fresh) == before[0]
    assert (after.plan, after.balance, after.month) == (before[1].plan, before[1].balance, before[1].month)
    assert "Opened a DEMO scenario link" in messages(fresh)
    assert demo_user(fresh) != demo_user(demo)


def test_a_bad_link_gives_a_notice_and_a_fresh_demo() -> None:
    at = _open("/account?v=1&scenario=empty&plan=gold&included=0&purchased=0&month=2026-11&enforce=1")
    assert_clean(at)
    assert "could not be opened" in messages(at) and "unknown plan 'gold'" in messages(at)
    assert chip(at) == "100 credits · DEMO"


def test_payment_that_fails_credits_nothing(demo: AppTest) -> None:
    click(demo, "A payment that fails")
    click(demo, "Buy (DEMO)")
    assert "Payment declined" in messages(demo)
    assert chip(demo) == "100 credits · DEMO"
    click(demo, "Buy (DEMO)")
    assert chip(demo) == "200 credits · DEMO"
