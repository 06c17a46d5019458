"""Request and response models of the HTTP API (pydantic v2), with examples.

Requests are strict about their keys (``extra="forbid"``): a typo such as
``idempotency_key`` is a 400 naming the field, not a silently ignored key.
Responses mirror the ``to_dict()`` shapes of ``credits_core.models`` exactly;
routes return those dicts directly and the schemathesis test checks that the
documents below describe them (FastAPI "Response Model",
https://fastapi.tiangolo.com/tutorial/response-model/).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Same rule as credits_core.keys.check_key (SPEC §4.5).
KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,200}$"
KEY_FIELD_DOC = "1–200 characters of A-Z a-z 0-9 . _ : -; permanent (never reuse a key for another action)"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- shared shapes --------------------------------------------------------------------


class BalanceOut(_Out):
    """Credits by bucket; ``total = included + purchased``; never negative."""

    total: int = Field(ge=0)
    included: int = Field(ge=0)
    purchased: int = Field(ge=0)

    model_config = ConfigDict(json_schema_extra={"examples": [{"total": 99, "included": 99, "purchased": 0}]})


class ReceiptOut(_Out):
    """What a charge charged: price × units, buckets consumed, balance before and after, the hold if any."""

    registryVersion: int | None = None
    unitPrice: int | None = None
    units: int
    charged: int = Field(ge=0)
    included: int = Field(ge=0, description="credits taken from the included bucket")
    purchased: int = Field(ge=0, description="credits taken from the purchased bucket")
    balanceBefore: BalanceOut
    balanceAfter: BalanceOut
    hold: str | None = Field(default=None, description="the hold key this charge settled")
    reserved: int | None = Field(default=None, description="credits the hold reserved")
    released: int | None = Field(default=None, description="reserved credits freed by the settle")
    shortfall: int | None = Field(default=None, description="cost that could not be charged (never below zero)")


class RowOut(_Out):
    """One append-only ledger row."""

    name: str = Field(description="unique key, always beginning `CZ_SMCR|`", examples=["CZ_SMCR|debit|q-123"])
    userId: str
    kind: Literal["grant", "upgrade", "trim", "debit", "refund", "topup", "adjust", "plan", "hold", "release"]
    delta: int = Field(description="signed credit change")
    bucket: Literal["included", "purchased", "mixed"]
    includedDelta: int
    purchasedDelta: int
    createdAt: str = Field(description="UTC, ISO 8601", examples=["2026-11-03T10:15:00Z"])
    meta: dict[str, Any] = Field(description="tool, cost, registryVersion, plan, month, balanceAfter, …")
    receipt: ReceiptOut | None = Field(default=None, description="on a charge (debit or settle): what it charged")


class ErrorDetail(BaseModel):
    """``code`` is stable; ``message`` is for people; other keys are details of that code."""

    model_config = ConfigDict(extra="allow")

    code: str = Field(examples=["insufficient_credits"])
    message: str


class ErrorOut(BaseModel):
    """Every non-2xx answer."""

    error: ErrorDetail


# -- credits ---------------------------------------------------------------------------


class DebitIn(_In):
    tool: str = Field(min_length=1, max_length=64, description="tool id from the matrix", examples=["ask_ai"])
    idempotencyKey: str | None = Field(
        default=None,
        pattern=KEY_PATTERN,
        description=KEY_FIELD_DOC + "; or send the Idempotency-Key header",
        examples=["q-7f3a9c"],
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"tool": "ask_ai", "idempotencyKey": "q-7f3a9c"}]})


class DebitOut(_Out):
    row: RowOut
    balance: BalanceOut
    replayed: bool = Field(description="true when this key was seen before: the first answer, nothing written")
    warning: str | None = Field(
        default=None, description="warn-only mode: the balance did not cover the cost, nothing was charged"
    )
    refund: RowOut | None = Field(default=None, description="on a replay: the refund of this debit, if it was refunded")


class RefundIn(_In):
    idempotencyKey: str = Field(pattern=KEY_PATTERN, description="the key of the debit to refund")
    reason: str | None = Field(default=None, max_length=200, examples=["the AI call timed out"])

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"idempotencyKey": "q-7f3a9c", "reason": "the AI call timed out"}]}
    )


class LedgerChangeOut(_Out):
    """Answer of a refund or a top-up: the row written (or found) and the balance after it."""

    row: RowOut
    balance: BalanceOut
    replayed: bool


class PlanIn(_In):
    plan: str = Field(min_length=1, max_length=64, examples=["intelligence"])
    dryRun: bool = Field(default=False, description="compute the change without writing it")
    requestId: str | None = Field(
        default=None, pattern=KEY_PATTERN, description="names the plan row; a random one when absent"
    )
    userId: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[^|\s]+$",
        description="whose plan: required with the admin header; with a token, only the caller",
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"plan": "intelligence", "dryRun": True}]})


class PlanOut(_Out):
    previousPlan: str
    plan: str
    granted: int = Field(description="upgrade grant written (rule 3)")
    trimmed: int = Field(description="included credits removed to fit the new soft cap")
    balance: BalanceOut
    softCap: int
    monthlyIncluded: int
    dryRun: bool
    replayed: bool = Field(description="true when this requestId was seen before: the first answer again")
    rows: list[RowOut]


class RunwayOut(_Out):
    """How long the balance lasts at the user's recent pace (README "Runway")."""

    days: float | None = Field(description="central estimate in days; null when it lasts beyond a year")
    low: float | None = Field(description="days at the fast end of the recent pace")
    high: float | None = Field(description="days at the slow end; null beyond a year")
    dailyBurn: float = Field(description="credits a day over the last 28 days (uses not charged count too)")
    basisDays: int = Field(description="days of history the pace is measured over")
    nextGrant: int = Field(description="credits the next monthly grant (the 1st, UTC) adds, counted in")
    holds: int = Field(description="credits reserved by active holds, taken off first")
    runOutOn: str | None = Field(description="UTC date of the central run-out, YYYY-MM-DD")
    text: str = Field(examples=["≈ 12 days left at your recent pace (range 9–16)"])


class ActiveHoldOut(_Out):
    holdKey: str
    held: int = Field(ge=0)
    expiresAt: str


class StateOut(_Out):
    userId: str
    plan: str
    balance: BalanceOut
    monthlyIncluded: int
    softCap: int
    enforce: bool
    month: str = Field(examples=["2026-11"])
    registryVersion: int
    available: int = Field(ge=0, description="balance − active holds: what a debit or a new hold can use")
    held: int = Field(ge=0, description="credits reserved by active holds")
    holds: list[ActiveHoldOut] = Field(description="active holds, oldest first (expired ones count as released)")
    ledgerTail: list[RowOut] = Field(description="the last `limit` rows, newest first")
    runway: RunwayOut | None = Field(
        default=None, description="days left at the recent pace; null when there is too little history to say"
    )


# -- holds -----------------------------------------------------------------------------


class HoldIn(_In):
    tool: str = Field(min_length=1, max_length=64, examples=["ask_ai_deep"])
    holdKey: str = Field(pattern=KEY_PATTERN, description=KEY_FIELD_DOC, examples=["research-7f3a"])
    units: int | None = Field(
        default=None, ge=0, le=1_000_000, description="estimated units; the tool's estimate when absent"
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"tool": "ask_ai_deep", "holdKey": "research-7f3a"}]})


class SettleIn(_In):
    holdKey: str = Field(pattern=KEY_PATTERN, examples=["research-7f3a"])
    units: int = Field(ge=0, le=1_000_000, description="units actually used; charged at the price the hold locked")

    model_config = ConfigDict(json_schema_extra={"examples": [{"holdKey": "research-7f3a", "units": 5}]})


class ReleaseIn(_In):
    holdKey: str = Field(pattern=KEY_PATTERN, examples=["research-7f3a"])
    reason: str | None = Field(default=None, max_length=200, examples=["the research run failed"])


class HoldOut(_Out):
    """Answer of hold, settle and release; a replay is the first answer with ``replayed: true``."""

    holdKey: str
    status: Literal["held", "settled", "released"]
    row: RowOut
    balance: BalanceOut
    available: int = Field(ge=0)
    replayed: bool
    held: int | None = Field(default=None, description="hold: credits reserved")
    expiresAt: str | None = Field(default=None, description="hold: when it is released by itself")
    receipt: ReceiptOut | None = Field(default=None, description="settle: what was held, charged and released")
    warning: str | None = None


# -- catalog ---------------------------------------------------------------------------


class MatrixTool(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    label: str
    credits: int
    category: str
    description: str = ""
    minPlan: str | None = None


class MatrixPlan(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    label: str
    monthlyIncluded: int
    softCap: int
    rank: int


class MatrixPack(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    label: str
    credits: int
    price: int = Field(description="minor units (cents)")
    currency: str


class MatrixOut(_Out):
    tenant: str
    version: int
    tools: list[MatrixTool]
    plans: list[MatrixPlan]
    packs: list[MatrixPack]


class RegistryDocOut(BaseModel):
    """The registry document (SPEC §2); see ``credits_core.registry.model`` for every field."""

    model_config = ConfigDict(extra="allow")

    tenant: str
    version: int
    updatedAt: str
    defaultPlan: str
    plans: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    packs: list[dict[str, Any]]


class RegistryAdminIn(BaseModel):
    """Either a whole registry document (``plans``, ``tools``, ``packs``, …) or ``{"patch": {...}}``.

    A patch merges items by ``id``, appends new ids and deletes
    ``{"id": "x", "remove": true}`` (``credits_core.registry.apply_patch``).
    ``expectedVersion`` makes the change conditional (409 when the registry
    moved on). ``tenant``, ``version`` and ``updatedAt`` are set by the server.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"patch": {"tools": [{"id": "ask_ai", "credits": 2}]}, "expectedVersion": 1},
            ]
        },
    )

    patch: dict[str, Any] | None = None
    expectedVersion: int | None = Field(default=None, ge=1)
    defaultPlan: str | None = None
    plans: list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    packs: list[dict[str, Any]] | None = None


class RegistrySavedOut(_Out):
    version: int
    updatedAt: str
    registry: RegistryDocOut


class RegistryVersionOut(_Out):
    version: int
    updatedAt: str


class RegistryVersionsOut(_Out):
    versions: list[RegistryVersionOut] = Field(description="newest first")


# -- payments --------------------------------------------------------------------------


class CheckoutIn(_In):
    pack: str = Field(min_length=1, max_length=64, examples=["pack_100"])

    model_config = ConfigDict(json_schema_extra={"examples": [{"pack": "pack_100"}]})


class CheckoutOut(_Out):
    url: str = Field(description="send the browser here (Stripe-hosted Checkout)")
    sessionId: str = Field(examples=["cs_test_a1B2c3"])


class ConfirmIn(_In):
    sessionId: str = Field(min_length=4, max_length=255, pattern=r"^cs_[A-Za-z0-9_]+$", examples=["cs_test_a1B2c3"])

    model_config = ConfigDict(json_schema_extra={"examples": [{"sessionId": "cs_test_a1B2c3"}]})


class WebhookOut(_Out):
    received: bool = True
    action: Literal["credited", "replayed", "pending", "refund_recorded", "plan_changed", "unchanged", "ignored"]
    sessionId: str | None = None
    subscriptionId: str | None = None
