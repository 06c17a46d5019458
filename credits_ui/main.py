"""Navigation and the header chip (placeholder until the full app lands)."""

import streamlit as st

from credits_core import CreditsService, MemoryStore


def main() -> None:
    st.set_page_config(page_title="Secondary Market credits", layout="wide")
    if "demo_service" not in st.session_state:
        st.session_state.demo_service = CreditsService(MemoryStore())
    service = st.session_state.demo_service
    state = service.state("demo")
    st.markdown(f"**DEMO** · {state.balance.total} credits")
    st.title("Secondary Market credits")
