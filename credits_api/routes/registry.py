"""The action registry: public read, admin replace / patch, admin version list."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from credits_core.errors import BadRequest

from ..auth import require_admin
from ..context import service
from ..openapi import error_responses
from ..schemas import RegistryAdminIn, RegistryDocOut, RegistrySavedOut, RegistryVersionsOut

router = APIRouter(tags=["catalog"])
# Mounted only when CZ_REGISTRY_ADMIN_SECRET is set at start-up, so that without
# it these routes are absent for every method and from the OpenAPI document;
# ``require_admin`` answers 404 too if the secret disappears later.
admin_router = APIRouter(tags=["catalog"])


@router.get(
    "/action-registry",
    response_model=RegistryDocOut,
    responses=error_responses(),
    summary="The registry document of the tenant",
)
def action_registry() -> JSONResponse:
    """Plans, tools and packs as stored (public, no token)."""
    return JSONResponse(service().saved_registry.to_json())


@admin_router.post(
    "/action-registry-admin",
    response_model=RegistrySavedOut,
    responses=error_responses(403, 404, 409),
    dependencies=[Depends(require_admin)],
    summary="Replace or patch the registry (admin header)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": RegistryAdminIn.model_json_schema()}},
        }
    },
)
async def action_registry_admin(request: Request) -> JSONResponse:
    """Store a new registry version: a whole document, or ``{"patch": {...}}``.

    The body is read only after the admin check, so that with
    ``CZ_REGISTRY_ADMIN_SECRET`` unset this route is indistinguishable from
    an absent one (404 whatever the body). Every problem of the resulting
    document is listed in one 400 ``registry_invalid`` (``problems``).
    """
    doc = _json_object(await request.body())
    reg = await run_in_threadpool(service().save_registry, doc)
    return JSONResponse({"version": reg.version, "updatedAt": reg.updated_at, "registry": reg.to_json()})


@admin_router.get(
    "/action-registry/versions",
    response_model=RegistryVersionsOut,
    responses=error_responses(403, 404),
    dependencies=[Depends(require_admin)],
    summary="Every stored registry version (admin header)",
)
def action_registry_versions() -> JSONResponse:
    """``[{version, updatedAt}]``, newest first."""
    return JSONResponse({"versions": service().registry_versions()})


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise BadRequest("request body must be a JSON object", field="body")
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise BadRequest(_TOO_DEEP, field="body") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON ({type(exc).__name__})", field="body") from None
    if not isinstance(doc, dict):
        raise BadRequest("request body must be a JSON object", field="body")
    if _depth(doc) > MAX_DEPTH:
        raise BadRequest(_TOO_DEEP, field="body")
    return doc


MAX_DEPTH = 16  # a registry document is 4 levels deep; patches a few more
_TOO_DEEP = f"request body is nested too deeply (at most {MAX_DEPTH} levels)"


def _depth(doc: Any) -> int:
    """Nesting depth of a JSON value, without recursion (patching recurses)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                break
            stack.extend((v, level + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest
