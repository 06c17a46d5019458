"""The action registry: public read, admin replace / patch, admin version list."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from credits_core.errors import BadRequest, RegistryInvalid, RegistryVersionConflict
from credits_core.registry import Registry, apply_patch, parse_registry

from ..auth import require_admin
from ..context import service
from ..openapi import error_responses
from ..schemas import RegistryAdminIn, RegistryDocOut, RegistrySavedOut, RegistryVersionsOut

router = APIRouter(tags=["catalog"])
# Mounted only when CZ_REGISTRY_ADMIN_SECRET is set at start-up, so that without
# it these routes are absent for every method and from the OpenAPI document;
# ``require_admin`` answers 404 too if the secret disappears later.
admin_router = APIRouter(tags=["catalog"])

# A patch without expectedVersion is re-applied on top of a concurrent change
# (it merges by id), at most this many times.
_PATCH_ATTEMPTS = 3


@router.get(
    "/action-registry",
    response_model=RegistryDocOut,
    responses=error_responses(),
    summary="The registry document of the tenant",
)
def action_registry() -> JSONResponse:
    """Plans, tools and packs as stored (public, no token)."""
    return JSONResponse(service().registry.to_json())


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
    reg = await run_in_threadpool(_save, doc)
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
    return JSONResponse({"versions": service().registries.versions()})


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


def _save(doc: dict[str, Any]) -> Registry:
    expected = doc.pop("expectedVersion", None)
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool) or expected < 1):
        raise BadRequest("expectedVersion must be a positive integer", field="expectedVersion")
    repo = service().registries
    if "patch" not in doc:
        return repo.save(doc, expected_version=expected)
    patch = doc.pop("patch")
    problems = [f"{key}: not allowed beside patch (only expectedVersion is)" for key in doc]
    if not isinstance(patch, dict):
        problems.append("patch: must be an object")
    if problems:
        raise RegistryInvalid("registry patch rejected: " + "; ".join(problems), problems=problems)
    for attempt in range(1, _PATCH_ATTEMPTS + 1):
        base = repo.current()
        new_doc = _patched(base, patch)
        try:
            return repo.save(new_doc, expected_version=base.version if expected is None else expected)
        except RegistryVersionConflict:
            if expected is not None or attempt == _PATCH_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _patched(base: Registry, patch: dict[str, Any]) -> dict[str, Any]:
    """``apply_patch``, but a rejected patch lists *every* problem.

    ``apply_patch`` stops at the patch's own problems (unknown keys, items
    without id); the well-formed part of the patch is then applied and
    validated too, so the 400 also names e.g. a negative cost in the same patch.
    """
    try:
        return apply_patch(base.to_json(), patch)
    except RegistryInvalid as first:
        problems = list(first.details.get("problems", []))
        cleaned: dict[str, Any] = {}
        for key, value in patch.items():
            if key in ("plans", "tools", "packs") and isinstance(value, list):
                cleaned[key] = [i for i in value if isinstance(i, dict) and isinstance(i.get("id"), str)]
            elif key == "defaultPlan":
                cleaned[key] = value
        try:
            parse_registry(apply_patch(base.to_json(), cleaned))
        except RegistryInvalid as second:
            problems += [p for p in second.details.get("problems", []) if p not in problems]
        raise RegistryInvalid("registry patch rejected: " + "; ".join(problems[:5]), problems=problems) from None
