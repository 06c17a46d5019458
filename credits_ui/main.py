"""The app frame: page config, navigation, mode, sidebar and the header chip.

``app.py`` calls :func:`main` on every script run. The entry script is the
frame around each page (https://docs.streamlit.io/develop/concepts/multipage-apps/page-and-navigation):
it decides the mode (signed in → server, else DEMO), draws the sidebar, runs
the selected page, and only then fills the header chip, so the chip shows
the balance *after* whatever the page just did.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.navigation.page import StreamlitPage

from . import flash, nav, session
from .components.chip import header_chip
from .components.demo_controls import demo_controls
from .components.errors import capture, show_error
from .components.scenarios import open_link, scenario_menu
from .session import UiSession
from .session.auth import auth_configured, auth_providers

APP_TITLE = "Secondary Market credits"
_IN_FRAME: ContextVar[bool] = ContextVar("cz_in_frame", default=False)


def _home() -> None:
    """The root URL: forward to the Account page (keeps ``/account`` addressable)."""
    st.switch_page(nav.ACCOUNT.path, query_params=st.query_params.to_dict())


def _navigation() -> StreamlitPage:
    page = {spec: st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path) for spec in nav.PAGES}
    # The default page is served at "/" and loses its own url_path, so a hidden
    # home page takes the root and Account keeps "/account" (Stripe returns there).
    home = st.Page(_home, title="Home", icon=":material/home:", url_path="home", default=True, visibility="hidden")
    return st.navigation(
        {
            "Credits": [home, page[nav.ACCOUNT], page[nav.ASK_AI]],
            "Plans": [page[nav.PRICING]],
            "Admin": [page[nav.OPS], page[nav.REGISTRY]],
        }
    )


def _sidebar(ui: UiSession | None) -> None:
    with st.sidebar:
        if ui is not None and not ui.is_demo:
            st.markdown(f":material/verified_user: Signed in as **{ui.name}**")
            st.caption("Server mode: your real balance on the shared ledger.")
            st.button("Sign out", icon=":material/logout:", on_click=st.logout, width="stretch")
            return
        if ui is not None:
            with st.expander("DEMO controls", expanded=True, icon=":material/science:"):
                demo_controls(ui)
                scenario_menu(ui)
        if auth_configured():
            for provider in auth_providers():
                label = "Sign in" if provider is None else f"Sign in with {provider.title()}"
                args = () if provider is None else (provider,)
                st.button(label, icon=":material/login:", on_click=st.login, args=args, width="stretch", type="primary")
            st.caption("Sign in to use your real balance (server mode).")
        else:
            st.caption(
                "Server mode (your real balance) needs sign-in, which is not configured here: "
                "add an `[auth]` section to `.streamlit/secrets.toml`."
            )


def _top_bar(ui: UiSession | None) -> DeltaGenerator:
    """The DEMO banner (or who is signed in) and an empty slot for the chip, filled last."""
    left, right = st.columns([3, 2], vertical_alignment="center")
    with left:
        if ui is not None and ui.is_demo:
            st.info(
                "**DEMO mode** — balances live in this browser session only and purchases are simulated. "
                "Nothing here touches a real account.",
                icon=":material/science:",
            )
        elif ui is not None:
            st.caption(f"{APP_TITLE} · {ui.name}")
    return right.container()


def main() -> None:
    """Build the page frame and run the selected page."""
    st.set_page_config(page_title=APP_TITLE, page_icon=":material/toll:", layout="wide")
    current = _navigation()
    if current.title == "Home":
        current.run()  # forwards to /account before anything is drawn
    open_link()  # a DEMO scenario link rebuilds its state before the session is read
    ui, err = capture(session.current)
    chip_slot = _top_bar(ui)
    _sidebar(ui)
    if ui is None:
        show_error(err)  # type: ignore[arg-type]
        return
    flash.render()
    token = _IN_FRAME.set(True)
    try:
        current.run()
    finally:
        _IN_FRAME.reset(token)
    with chip_slot:
        header_chip(ui)


def run_page(render: Callable[[], None]) -> None:
    """Run a page's ``render`` inside the app frame.

    Streamlit still knows the pre-``st.navigation`` "pages/ directory" mode:
    until a script run has called ``st.navigation`` in this process (a fresh
    server whose first visitor lands on ``/account``, or every ``AppTest``
    run), a page file whose name matches its URL is executed on its own,
    without ``app.py``. Then this draws the whole frame instead, which runs
    the page again, inside it.
    """
    if _IN_FRAME.get():
        render()
    else:
        main()
