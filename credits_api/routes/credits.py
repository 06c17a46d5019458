"""A user's credits: state, debit, refund (admin), plan change.

Thin routes: parse → call ``CreditsService`` → answer its ``to_dict()``.
Every ``CreditsError`` the service raises (402, 403, 409, 503, …) is
translated in ``errors.py``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from credits_core.auth import Principal
from credits_core.errors import BadRequest, Forbidden, SubscriptionRequired
from credits_core.policy.debits import SUBSCRIBE_PATH

from ..auth import admin_scheme, bearer_scheme, check_admin, current_user, user_of
from ..context import service
from ..openapi import error_responses
from ..schemas import KEY_PATTERN, DebitIn, DebitOut, LedgerChangeOut, PlanIn, PlanOut, RefundIn, StateOut

router = APIRouter(tags=["credits"])

DEFAULT_TAIL = 20
MAX_TAIL = 500


@router.get(
    "/credits-state",
    response_model=StateOut,
    responses=error_responses(401, 403),
    summary="Balance, plan, caps, runway and the ledger tail of the caller (or, for support, of userId)",
)
def credits_state(
    request: Request,
    limit: int = Query(DEFAULT_TAIL, ge=0, le=MAX_TAIL, description="ledger rows to return, newest first"),
    userId: str | None = Query(
        None,
        min_length=1,
        max_length=128,
        pattern=r"^[^|\s]+$",
        description="support view: another user's state; needs the admin header",
    ),
    admin_key: str | None = Security(admin_scheme),
    _bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
) -> JSONResponse:
    """The caller's state; with ``userId`` the admin header is required instead of a token."""
    for name in ("limit", "userId"):
        if len(request.query_params.getlist(name)) > 1:
            raise BadRequest(f"query parameter {name!r} was given more than once", field=name)
    if userId is not None:
        check_admin(request, admin_key)
        return JSONResponse(_with_runway(service().state(userId, tail=limit, read_only=True).to_dict(), userId))
    user_id = user_of(request).user_id
    return JSONResponse(_with_runway(service().state(user_id, tail=limit).to_dict(), user_id))


def _with_runway(state: dict, user_id: str) -> dict:
    """The state plus ``runway`` (null when there is too little history)."""
    runway = service().runway(user_id)
    return state | {"runway": None if runway is None else runway.to_dict()}


@router.post(
    "/credits-debit",
    response_model=DebitOut,
    responses=error_responses(401, 402, 403, 409),
    summary="Charge a tool once per idempotency key",
)
def credits_debit(
    body: DebitIn,
    user: Principal = Depends(current_user),
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", pattern=KEY_PATTERN, description="alternative to `idempotencyKey`"
    ),
) -> JSONResponse:
    """200 with the row and the new balance (``replayed`` on a repeat), else 400/402/403/409.

    The key is taken from the body or the ``Idempotency-Key`` header; both
    given and different is a 400.
    """
    key = _one_key(body.idempotencyKey, idempotency_key)
    return JSONResponse(service().debit(user.user_id, body.tool, key).to_dict())


@router.post(
    "/credits-refund",
    response_model=LedgerChangeOut,
    responses=error_responses(401, 403, 404),
    summary="Refund a debit once (admin header, or a CZ_ADMIN_USERS token)",
)
def credits_refund(
    request: Request,
    body: RefundIn,
    admin_key: str | None = Security(admin_scheme),
    _bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
) -> JSONResponse:
    """Return a debit's credits to the buckets they came from; a repeat replays (SPEC §4.6).

    403 when the admin header is missing or wrong, or admin access is disabled
    (``CZ_REGISTRY_ADMIN_SECRET`` unset); 404 for an unknown key.
    """
    check_admin(request, admin_key)
    result = service().refund(body.idempotencyKey, body.reason or "action failed")
    return JSONResponse(result.to_dict())


@router.post(
    "/credits-plan",
    response_model=PlanOut,
    responses=error_responses(401, 403),
    summary="Preview a plan change (dryRun, Bearer) or apply one (admin header, with userId)",
)
def credits_plan(
    request: Request,
    body: PlanIn,
    admin_key: str | None = Security(admin_scheme),
    _bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
) -> JSONResponse:
    """Record the new plan, trim to its soft cap, grant an upgrade difference (SPEC §4.3).

    Plans are paid Stripe subscriptions: a user's token answers dry runs only,
    and asking to apply is 403 ``subscription_required`` with the path to
    subscribe. The admin header (support, server-to-server) applies a change
    to ``userId``.
    """
    if admin_key is not None or (body.userId is not None and _is_admin_token(request)):
        check_admin(request, admin_key)
        if not body.userId:
            raise BadRequest("userId is required when the admin header applies a plan change", field="userId")
        user_id = body.userId
    else:
        user_id = user_of(request).user_id
        if body.userId is not None and body.userId != user_id:
            raise Forbidden("userId names another user; that needs the admin header", field="userId")
        if not body.dryRun:
            raise SubscriptionRequired(
                "plans are paid subscriptions: subscribe or change your subscription through Stripe",
                subscribe=SUBSCRIBE_PATH,
            )
    change = service().change_plan(user_id, body.plan, dry_run=body.dryRun, request_id=body.requestId)
    return JSONResponse(change.to_dict())


def _is_admin_token(request: Request) -> bool:
    try:
        check_admin(request, None)
    except Forbidden:
        return False
    return True


def _one_key(in_body: str | None, in_header: str | None) -> str:
    if in_body and in_header and in_body != in_header:
        raise BadRequest(
            "idempotencyKey in the body and the Idempotency-Key header differ; send one, or the same",
            field="idempotencyKey",
        )
    key = in_body or in_header
    if not key:
        raise BadRequest(
            "idempotencyKey is required (in the body or the Idempotency-Key header)", field="idempotencyKey"
        )
    return key
