"""What every Stripe object of the stand-in shares: ids, the API version, amounts."""

from __future__ import annotations

import secrets

# The API version stripe-python 16.1.0 pins (stripe/_api_version.py); used for
# the ``api_version`` of events when the creating request sent no Stripe-Version.
DEFAULT_API_VERSION = "2026-10-28.endive"
ZERO_DECIMAL = frozenset({"jpy", "krw", "bif", "clp", "djf", "gnf", "kmf", "mga", "pyg", "rwf", "ugx", "vnd"})


def rand_id(prefix: str, n: int = 24) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


def format_amount(amount: int, currency: str) -> str:
    if currency in ZERO_DECIMAL:
        return f"{amount:,} {currency.upper()}"
    return f"{amount / 100:,.2f} {currency.upper()}"
