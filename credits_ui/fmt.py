"""Formatting of money and credit amounts for display."""

from __future__ import annotations

from credits_core.text import credits_text


def money(amount_minor: int, currency: str = "usd") -> str:
    """``4900, 'usd'`` → ``$49.00``; other currencies as ``49.00 EUR``."""
    value = amount_minor / 100
    if currency.lower() == "usd":
        return f"${value:,.2f}"
    return f"{value:,.2f} {currency.upper()}"


__all__ = ["credits_text", "money"]
