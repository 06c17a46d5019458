"""``GET /api/credits-matrix`` (public): tools with credits, plans, packs, version."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..context import service
from ..openapi import error_responses
from ..schemas import MatrixOut

router = APIRouter(tags=["catalog"])


@router.get(
    "/credits-matrix",
    response_model=MatrixOut,
    responses=error_responses(),
    summary="Cost in credits per tool, plans and top-up packs",
)
def credits_matrix() -> JSONResponse:
    """The current registry as a price matrix (public, no token)."""
    return JSONResponse(service().matrix())
