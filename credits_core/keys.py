"""Ledger row names (``CZ_SMCR|…``) and idempotency-key validation."""

from __future__ import annotations

import re

from .errors import InvalidKey
from .models import ROW_PREFIX

_KEY = re.compile(r"[A-Za-z0-9._:-]{1,200}")
_SPACE = re.compile(r"\s")  # str.isspace's characters (both use Py_UNICODE_ISSPACE)
_MAX_USER = 128


def check_key(key: object, what: str = "idempotencyKey") -> str:
    """Return ``key`` when it is 1–200 chars of ``[A-Za-z0-9._:-]``."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        shown = repr(key)[:40] if isinstance(key, str) else type(key).__name__
        raise InvalidKey(
            f"{what} must be 1-200 characters of A-Z a-z 0-9 . _ : - (got {shown})",
            field=what,
        )
    return key


def check_user(user_id: object) -> str:
    """User ids come from Clerk (``sub``) or the DEMO session: no ``|``, bounded."""
    if not isinstance(user_id, str) or not user_id or len(user_id) > _MAX_USER or "|" in user_id:
        raise InvalidKey("userId must be 1-128 characters without '|'", field="userId")
    if not user_id.isprintable() or _SPACE.search(user_id):
        raise InvalidKey("userId must not contain spaces or control characters", field="userId")
    return user_id


def debit_name(key: str) -> str:
    return f"{ROW_PREFIX}debit|{key}"


def refund_name(key: str) -> str:
    return f"{ROW_PREFIX}refund|{key}"


def grant_name(user_id: str, month: str) -> str:
    return f"{ROW_PREFIX}grant|{user_id}|{month}"


def trim_name(user_id: str, month: str, seq: int) -> str:
    return f"{ROW_PREFIX}trim|{user_id}|{month}|{seq}"


def plan_name(user_id: str, request_id: str) -> str:
    return f"{ROW_PREFIX}plan|{user_id}|{request_id}"


def upgrade_name(user_id: str, month: str, plan_id: str) -> str:
    return f"{ROW_PREFIX}upgrade|{user_id}|{month}|{plan_id}"


def topup_name(session_id: str) -> str:
    return f"{ROW_PREFIX}topup|{session_id}"


def adjust_name(key: str) -> str:
    return f"{ROW_PREFIX}adjust|{key}"


def checkpoint_name(export_id: str) -> str:
    return f"{ROW_PREFIX}checkpoint|{export_id}"


def hold_name(key: str) -> str:
    return f"{ROW_PREFIX}hold|{key}"


def settle_name(key: str) -> str:
    return f"{ROW_PREFIX}settle|{key}"


def release_name(key: str) -> str:
    return f"{ROW_PREFIX}release|{key}"
