"""Route modules, one per resource; each exposes ``router``.

``ADMIN_ROUTERS`` hold the admin-only routes (``x-cz-registry-admin``), mounted
only when ``CZ_REGISTRY_ADMIN_SECRET`` is configured.
"""

from . import credits, holds, matrix, payments, registry, subscriptions

ROUTERS = (matrix.router, registry.router, credits.router, holds.router, payments.router, subscriptions.router)
ADMIN_ROUTERS = (registry.admin_router,)

__all__ = ["ADMIN_ROUTERS", "ROUTERS"]
