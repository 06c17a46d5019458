"""Editing the registry: save a document, patch by id (retried on a concurrent change), preview.

The fields a save manages (``tenant``, ``version``, ``updatedAt``) are set in
one place, ``repository.managed_fields``; the API route and the Registry admin
page both call these verbs through the service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..errors import BadRequest, RegistryInvalid, RegistryVersionConflict
from .model import Registry, parse_registry
from .patch import apply_patch
from .repository import RegistryRepository, managed_fields

# A patch without expectedVersion is re-applied on top of a concurrent change
# (it merges by id), at most this many times.
PATCH_ATTEMPTS = 3


def preview(doc: dict[str, Any], current: Registry, now: datetime | None = None) -> Registry:
    """``doc`` validated as it would be saved next (every problem at once)."""
    return parse_registry({**doc, **managed_fields(current.tenant, current.version + 1, now)})


def save_or_patch(repo: RegistryRepository, body: dict[str, Any]) -> Registry:
    """A whole document, or ``{"patch": {...}}``, with an optional ``expectedVersion``."""
    doc = dict(body)
    expected = doc.pop("expectedVersion", None)
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool) or expected < 1):
        raise BadRequest("expectedVersion must be a positive integer", field="expectedVersion")
    if "patch" not in doc:
        return repo.save(doc, expected_version=expected)
    patch = doc.pop("patch")
    problems = [f"{key}: not allowed beside patch (only expectedVersion is)" for key in doc]
    if not isinstance(patch, dict):
        problems.append("patch: must be an object")
    if problems:
        raise RegistryInvalid("registry patch rejected: " + "; ".join(problems), problems=problems)
    for attempt in range(1, PATCH_ATTEMPTS + 1):
        base = repo.current()
        new_doc = _patched(base, patch)
        try:
            return repo.save(new_doc, expected_version=base.version if expected is None else expected)
        except RegistryVersionConflict:
            if expected is not None or attempt == PATCH_ATTEMPTS:
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
