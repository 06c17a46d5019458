"""Patch a registry document by id (the ``patch`` mode of the admin route).

A patch is ``{"plans": [...], "tools": [...], "packs": [...]}`` plus optional
top-level fields. Items whose ``id`` exists are merged field by field, new
ids are appended, and ``{"id": "x", "remove": true}`` deletes an item.
"""

from __future__ import annotations

from typing import Any

from ..errors import RegistryInvalid

_LISTS = ("plans", "tools", "packs")
_FIELDS = ("defaultPlan",)


def apply_patch(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Return a new document: ``doc`` with ``patch`` applied (input untouched)."""
    problems = [f"{key}: unknown key in patch" for key in patch if key not in _LISTS + _FIELDS]
    out = {k: v for k, v in doc.items()}
    for field in _FIELDS:
        if field in patch:
            out[field] = patch[field]
    for section in _LISTS:
        changes = patch.get(section)
        if changes is None:
            continue
        if not isinstance(changes, list):
            problems.append(f"{section}: must be a list")
            continue
        items = [dict(item) for item in out.get(section, [])]
        for i, change in enumerate(changes):
            if not isinstance(change, dict) or not isinstance(change.get("id"), str):
                problems.append(f"{section}[{i}]: each change needs an id")
                continue
            found = next((item for item in items if item.get("id") == change["id"]), None)
            if change.get("remove") is True:
                items = [item for item in items if item.get("id") != change["id"]]
            elif found is not None:
                found.update(change)
            else:
                items.append(dict(change))
        out[section] = items
    if problems:
        raise RegistryInvalid("registry patch rejected: " + "; ".join(problems), problems=problems)
    return out
