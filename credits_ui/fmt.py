"""Formatting of money and credit amounts for display."""

from __future__ import annotations


def money(amount_minor: int, currency: str = "usd") -> str:
    """``4900, 'usd'`` → ``$49.00``; other currencies as ``49.00 EUR``."""
    value = amount_minor / 100
    if currency.lower() == "usd":
        return f"${value:,.2f}"
    return f"{value:,.2f} {currency.upper()}"


def credits_text(n: int) -> str:
    """``1 credit`` / ``2 credits`` / ``1,500 credits``."""
    return f"{n:,} credit" + ("" if n == 1 else "s")
