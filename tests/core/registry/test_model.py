"""The registry document: defaults, validation listing every problem, patches."""

from __future__ import annotations

import copy

import pytest

from credits_core.errors import RegistryInvalid, UnknownPack, UnknownPlan, UnknownTool
from credits_core.registry import Tool, apply_patch, parse_registry


@pytest.fixture
def doc(registry) -> dict:
    return copy.deepcopy(registry.to_json())


def problems_of(doc) -> list[str]:
    with pytest.raises(RegistryInvalid) as info:
        parse_registry(doc)
    err = info.value
    assert (err.code, err.http_status) == ("registry_invalid", 400)
    return err.details["problems"]


def test_default_registry_placeholders(registry):
    plans = {p.id: (p.monthly_included, p.soft_cap, p.rank) for p in registry.plans}
    assert plans == {"base": (100, 300, 1), "intelligence": (400, 1200, 2), "professional": (1500, 4500, 3)}
    tools = {t.id: (t.credits, t.min_plan) for t in registry.tools}
    assert tools["ask_ai"] == (1, None) and tools["ask_ai_deep"] == (5, "intelligence")
    assert tools["portfolio_scan"] == (25, "professional") and tools["watchlist_alert"] == (0, None)
    assert {p.id: (p.credits, p.price, p.currency) for p in registry.packs} == {
        "pack_100": (100, 1500, "usd"),
        "pack_500": (500, 6000, "usd"),
        "pack_2000": (2000, 20000, "usd"),
    }
    assert (registry.tenant, registry.version, registry.default_plan) == ("cityzeen", 1, "base")


def test_lookups_raise_by_meaning(registry):
    with pytest.raises(UnknownTool):
        registry.tool("nope")
    with pytest.raises(UnknownPlan):
        registry.plan("nope")
    with pytest.raises(UnknownPack):
        registry.pack("nope")


def test_matrix_has_tools_plans_with_soft_caps_and_packs(registry):
    m = registry.matrix()
    assert m["version"] == 1 and m["tenant"] == "cityzeen"
    assert {p["id"]: p["softCap"] for p in m["plans"]} == {"base": 300, "intelligence": 1200, "professional": 4500}
    assert {t["id"] for t in m["tools"]} == {t.id for t in registry.tools}
    assert m["tools"][1]["minPlan"] == "intelligence"


def test_round_trip_through_json(registry, doc):
    assert parse_registry(doc) == registry


def test_soft_cap_multiplier_defaults_to_three(doc):
    del doc["plans"][0]["softCapMultiplier"]
    assert parse_registry(doc).plan("base").soft_cap == 300
    doc["plans"][0]["softCapMultiplier"] = 1.5
    assert parse_registry(doc).plan("base").soft_cap == 150


def test_every_problem_of_a_document_is_listed_at_once(doc):
    doc["colour"] = "blue"  # unknown top-level key
    doc["tools"][0]["credits"] = -1  # negative cost
    doc["tools"][1]["price"] = 5  # unknown key in a tool
    doc["tools"][2]["id"] = "ask_ai"  # duplicate id
    doc["tools"][3]["minPlan"] = "gold"  # gate on a missing plan
    doc["plans"] = [p for p in doc["plans"] if p["id"] != "professional"]  # a plan missing
    del doc["packs"][0]["price"]  # a pack without a price
    doc["packs"][1]["credits"] = 0
    problems = problems_of(doc)
    expected = [
        "colour: unknown key",
        "tools[0].credits: Input should be greater than or equal to 0",
        "tools[1].price: unknown key",
        "tools[2].id: duplicate id 'ask_ai'",
        "tools[3].minPlan: unknown plan 'gold'",
        "plans: plan 'professional' is missing",
        "packs[0].price: missing",
        "packs[0]: a pack needs a price and a currency",
        "packs[1].credits: Input should be greater than 0",
    ]
    for item in expected:
        assert item in problems, (item, problems)
    assert len(problems) == len(set(problems))


@pytest.mark.parametrize("bad", [None, [], "registry", 3])
def test_a_document_that_is_not_an_object(bad):
    assert problems_of(bad) == ["registry must be a JSON object"]


def test_missing_sections_and_wrong_types(doc):
    del doc["tools"]
    doc["plans"] = "three plans"
    doc["version"] = "one"
    problems = problems_of(doc)
    assert "tools: missing" in problems
    assert any(p.startswith("plans:") for p in problems)
    assert any(p.startswith("version:") for p in problems)


def test_duplicate_plan_ranks_and_unknown_default_plan(doc):
    doc["plans"][1]["rank"] = 1
    doc["defaultPlan"] = "free"
    problems = problems_of(doc)
    assert "plans: ranks must be distinct" in problems
    assert "defaultPlan: unknown plan 'free'" in problems


def test_ids_and_currency_are_checked(doc):
    doc["tools"][0]["id"] = "Ask AI!"
    doc["packs"][0]["currency"] = "US Dollar"
    problems = problems_of(doc)
    assert any(p.startswith("tools[0].id:") for p in problems)
    assert any(p.startswith("packs[0].currency:") for p in problems)


def test_patch_merges_appends_and_removes_by_id(doc):
    patched = apply_patch(
        doc,
        {
            "tools": [
                {"id": "ask_ai", "credits": 2},
                {"id": "new_tool", "label": "New", "credits": 7},
                {"id": "data_export", "remove": True},
            ],
            "defaultPlan": "intelligence",
        },
    )
    reg = parse_registry(patched)
    assert reg.tool("ask_ai").credits == 2 and reg.tool("ask_ai").label == "Ask AI"
    assert reg.tool("new_tool").credits == 7
    with pytest.raises(UnknownTool):
        reg.tool("data_export")
    assert reg.default_plan == "intelligence"
    assert doc["tools"][0]["credits"] == 1  # the input is untouched


def test_patch_problems_are_all_listed(doc):
    with pytest.raises(RegistryInvalid) as info:
        apply_patch(doc, {"colour": 1, "tools": "x", "packs": [{"credits": 5}]})
    assert info.value.details["problems"] == [
        "colour: unknown key in patch",
        "tools: must be a list",
        "packs[0]: each change needs an id",
    ]


def test_a_patch_can_still_produce_an_invalid_document(doc):
    patched = apply_patch(doc, {"plans": [{"id": "base", "remove": True}], "tools": [{"id": "ask_ai", "credits": -5}]})
    problems = problems_of(patched)
    assert "plans: plan 'base' is missing" in problems
    assert any(p.startswith("tools[0].credits") for p in problems)


def test_what_a_run_takes_up_front_is_the_fixed_price_or_the_per_unit_estimate() -> None:
    fixed = Tool(id="ask_ai", label="Ask", credits=2)
    metered = Tool(id="deep", label="Deep", credits=0, unit_credits=3, estimated_units=8)
    assert (fixed.per_unit, fixed.upfront_credits, fixed.unit_price) == (False, 2, 2)
    assert (metered.per_unit, metered.upfront_credits, metered.unit_price) == (True, 24, 3)
