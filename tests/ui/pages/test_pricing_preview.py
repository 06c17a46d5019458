"""Pricing preview: the pure computation (``credits_ui.pricing``) and the page's what-if edits."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from credits_core import load_default_registry
from credits_core.seed import PERSONAS
from credits_ui.pricing import (
    PackOption,
    PlanOption,
    ToolCost,
    best_plan,
    cheapest_packs,
    credits_needed,
    options_from_registry,
    quote,
    quote_all,
)

from ..helpers import assert_clean, open_page

PLANS, TOOLS, PACKS = options_from_registry(load_default_registry())
PLAN = {p.id: p for p in PLANS}


@pytest.mark.parametrize(
    ("shortfall", "counts", "price"),
    [
        (0, (), 0),
        (-5, (), 0),
        (1, (("pack_100", 1),), 1500),
        (100, (("pack_100", 1),), 1500),
        (101, (("pack_100", 2),), 3000),
        (450, (("pack_500", 1),), 6000),  # cheaper than 5 × 100 ($75)
        (600, (("pack_500", 1), ("pack_100", 1)), 7500),
        (1700, (("pack_2000", 1),), 20000),  # one 2,000 pack beats 3 × 500 + 2 × 100 ($210)
        (2100, (("pack_2000", 1), ("pack_100", 1)), 21500),
    ],
)
def test_cheapest_packs_on_the_default_packs(shortfall: int, counts: tuple, price: int) -> None:
    bought = cheapest_packs(shortfall, PACKS)
    assert bought.counts == counts
    assert bought.price == price
    assert bought.credits >= max(0, shortfall)


def _brute_force(shortfall: int, packs: list[PackOption]) -> int:
    best = None
    limit = [shortfall // p.credits + 1 for p in packs]
    for combo in itertools.product(*(range(n + 1) for n in limit)):
        credits = sum(n * p.credits for n, p in zip(combo, packs, strict=True))
        if credits >= shortfall:
            cost = sum(n * p.price for n, p in zip(combo, packs, strict=True))
            best = cost if best is None else min(best, cost)
    assert best is not None
    return best


@settings(max_examples=60, deadline=None)
@given(
    shortfall=st.integers(min_value=1, max_value=400),
    packs=st.lists(
        st.tuples(st.integers(min_value=7, max_value=150), st.integers(min_value=1, max_value=5000)),
        min_size=1,
        max_size=3,
    ),
)
def test_cheapest_packs_is_optimal(shortfall: int, packs: list[tuple[int, int]]) -> None:
    options = [PackOption(f"p{i}", f"p{i}", credits, price) for i, (credits, price) in enumerate(packs)]
    bought = cheapest_packs(shortfall, options)
    assert bought.credits >= shortfall
    assert bought.price == _brute_force(shortfall, options)


def test_huge_shortfall_stays_fast_and_covers() -> None:
    odd = [PackOption("a", "a", 97, 1000), PackOption("b", "b", 1009, 9000)]
    bought = cheapest_packs(10_000_000, odd)
    assert bought.credits >= 10_000_000
    assert bought.price <= (10_000_000 // 1009 + 1) * 9000


def test_no_pack_cannot_cover() -> None:
    with pytest.raises(ValueError):
        cheapest_packs(10, [])
    assert cheapest_packs(0, []).counts == ()


def test_credits_needed_skips_tools_the_plan_does_not_include() -> None:
    needed, blocked = credits_needed(PERSONAS["analyst"], TOOLS, PLAN["base"])
    assert set(blocked) == {"ask_ai_deep", "valuation_model", "document_extract"}
    assert needed == 150 * 1 + 20 * 3 + 30 * 1 + 6 * 2
    needed, blocked = credits_needed(PERSONAS["analyst"], TOOLS, PLAN["intelligence"])
    assert blocked == ()
    assert needed == 150 + 12 * 5 + 20 * 3 + 14 * 8 + 8 * 4 + 30 + 6 * 2  # 456


def test_quotes_for_the_seeded_personas() -> None:
    light = quote("light user", PERSONAS["light user"], PLAN["base"], TOOLS, PACKS)
    assert (light.credits_needed, light.shortfall, light.effective_price) == (47, 0, 4900)
    assert light.unused_included == 53 and light.packs.packs_bought == 0
    analyst = quote("analyst", PERSONAS["analyst"], PLAN["intelligence"], TOOLS, PACKS)
    assert (analyst.credits_needed, analyst.shortfall) == (456, 56)
    assert analyst.packs.counts == (("pack_100", 1),)
    assert analyst.effective_price == 14900 + 1500
    quotes = quote_all(PERSONAS, PLANS, TOOLS, PACKS)
    assert len(quotes) == 9
    assert best_plan(quotes) == {"light user": "base", "analyst": "intelligence", "power trader": "professional"}


def test_what_if_values_change_the_answer() -> None:
    cheap_ai = [ToolCost(t.id, t.label, 0 if t.id == "ask_ai" else t.credits, t.min_rank) for t in TOOLS]
    generous = [PlanOption(p.id, p.label, p.monthly_price, 1000, p.rank, p.currency) for p in PLANS]
    analyst = quote("analyst", PERSONAS["analyst"], generous[1], cheap_ai, PACKS)
    assert analyst.credits_needed == 456 - 150
    assert analyst.shortfall == 0 and analyst.effective_price == 14900


# -- the page ---------------------------------------------------------------------------


def results(at: AppTest):
    return next(d.value for d in at.dataframe if "Effective / month" in d.value.columns)


def test_pricing_page_shows_personas_by_plans(demo: AppTest) -> None:
    open_page(demo, "pages/pricing_preview.py")
    table = results(demo)
    assert len(table) == 9
    row = table[(table["Persona"] == "Analyst") & (table["Plan"].str.startswith("Intelligence"))].iloc[0]
    assert row["Credits needed"] == 456
    assert row["Top-ups bought"] == "1 × 100 credits"
    assert row["Effective / month"] == "$164.00"
    assert row["Plan"].endswith("★")
    assert len(demo.get("vega_lite_chart")) == 1


def test_pricing_what_if_edit_is_not_saved(demo: AppTest) -> None:
    open_page(demo, "pages/pricing_preview.py")
    demo.session_state["cz_price_tools"] = {"edited_rows": {0: {"Credits": 3}}, "added_rows": [], "deleted_rows": []}
    demo.run()
    assert_clean(demo)
    table = results(demo)
    row = table[(table["Persona"] == "Analyst") & (table["Plan"].str.startswith("Intelligence"))].iloc[0]
    assert row["Credits needed"] == 456 + 150 * 2
    assert demo.session_state["cz_demo_service"].registry.tool("ask_ai").credits == 1
