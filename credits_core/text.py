"""Words shared by every caller's messages (API, CLI, pages)."""

from __future__ import annotations


def credits_text(n: int) -> str:
    """``1 credit`` / ``2 credits`` / ``1,500 credits``."""
    return f"{n:,} credit" + ("" if n == 1 else "s")
