"""Who is an admin: one decision for the API and the pages (SPEC §7, "the same rule for the API").

An admin is either a signed-in user listed in ``CZ_ADMIN_USERS`` (by user id,
or by e-mail where the identity carries one) or whoever presents the
``CZ_REGISTRY_ADMIN_SECRET`` (the ``x-cz-registry-admin`` header on the API,
typed in on the Ops page). The secret is compared in constant time.
"""

from __future__ import annotations

import hmac

from .config import Settings
from .errors import Forbidden

ADMIN_HEADER = "x-cz-registry-admin"


def is_admin_user(settings: Settings, user_id: str | None, email: str | None = None) -> bool:
    """True when ``user_id`` (or ``email``) is listed in ``CZ_ADMIN_USERS``."""
    admins = settings.admin_users
    return bool(user_id and user_id in admins) or bool(email and email in admins)


def secret_matches(settings: Settings, presented: str | None) -> bool:
    """True when ``presented`` equals the admin secret (which must be configured)."""
    secret = settings.registry_admin_secret
    if not secret or not presented:
        return False
    return hmac.compare_digest(presented.strip().encode("utf-8", "surrogateescape"), secret.encode("utf-8"))


def check_admin_secret(settings: Settings, presented: str | None) -> None:
    """``Forbidden`` naming what is wrong unless ``presented`` is the admin secret."""
    if settings.registry_admin_secret is None:
        raise Forbidden("admin access is disabled on this server (CZ_REGISTRY_ADMIN_SECRET is not set)")
    if not presented:
        raise Forbidden(f"this request needs the {ADMIN_HEADER} header", header=ADMIN_HEADER)
    if not secret_matches(settings, presented):
        raise Forbidden(f"the {ADMIN_HEADER} header is not valid", header=ADMIN_HEADER)
