"""The app's pages: file, title, icon and URL path, in navigation order.

``st.page_link`` and ``st.switch_page`` take these file paths (relative to
``app.py``); ``st.navigation`` is built from the same list in ``main``.

Each URL path is the file's stem on purpose: until the first ``st.navigation``
call of a process, Streamlit still resolves URLs against the ``pages/``
directory (its older multipage mode). With matching names a deep link to a
fresh server runs the page file, which draws the frame itself
(``main.run_page``), instead of a "Page not found" dialog.
Docs: https://docs.streamlit.io/develop/api-reference/navigation/st.page
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its file (relative to ``app.py``), title, icon and URL path."""

    path: str
    title: str
    icon: str
    url_path: str


ACCOUNT = PageSpec("pages/account.py", "Account", ":material/account_balance_wallet:", "account")
ASK_AI = PageSpec("pages/ask_ai.py", "Ask AI", ":material/smart_toy:", "ask_ai")
OPS = PageSpec("pages/ops_ledger.py", "Ops ledger", ":material/monitoring:", "ops_ledger")
PRICING = PageSpec("pages/pricing_preview.py", "Pricing preview", ":material/sell:", "pricing_preview")
REGISTRY = PageSpec("pages/registry_admin.py", "Registry admin", ":material/tune:", "registry_admin")

PAGES = (ACCOUNT, ASK_AI, OPS, PRICING, REGISTRY)
