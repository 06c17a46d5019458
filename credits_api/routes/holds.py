"""Two-phase debits: reserve an estimate, settle the actual cost, or release (README "Holds").

Thin routes: parse → ``CreditsService.hold_async / settle_async / release_async`` → ``to_dict()``
(on the event loop, like the debit: SQLite's async group commit, no threadpool hop).
Keys are permanent: a repeat answers the first answer (``replayed: true``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from credits_core.auth import Principal

from ..auth import current_user
from ..context import service
from ..openapi import error_responses
from ..schemas import HoldIn, HoldOut, ReleaseIn, SettleIn

router = APIRouter(tags=["holds"])


@router.post(
    "/credits-hold",
    response_model=HoldOut,
    responses=error_responses(401, 402, 403, 409),
    summary="Reserve a tool's estimated cost (available = balance − active holds); expires after the registry's TTL",
)
async def credits_hold(body: HoldIn, user: Principal = Depends(current_user)) -> JSONResponse:
    """200 with the hold row, ``held``, ``expiresAt`` and ``available``; 402 when available credits do not cover it."""
    return JSONResponse((await service().hold_async(user.user_id, body.tool, body.holdKey, body.units)).to_dict())


@router.post(
    "/credits-settle",
    response_model=HoldOut,
    responses=error_responses(401, 404, 409),
    summary="Charge the units actually used and free the rest of the hold (409 hold_expired after its TTL)",
)
async def credits_settle(body: SettleIn, user: Principal = Depends(current_user)) -> JSONResponse:
    """200 with the charge row and its ``receipt`` (reserved, charged, released); never charges above available."""
    return JSONResponse((await service().settle_async(user.user_id, body.holdKey, body.units)).to_dict())


@router.post(
    "/credits-release",
    response_model=HoldOut,
    responses=error_responses(401, 404, 409),
    summary="Free a hold (the action failed or did not run)",
)
async def credits_release(body: ReleaseIn, user: Principal = Depends(current_user)) -> JSONResponse:
    """200 with the release row; a hold that expired answers its release; a settled one is 409 hold_closed."""
    answer = await service().release_async(user.user_id, body.holdKey, body.reason or "released")
    return JSONResponse(answer.to_dict())
