"""The Streamlit app: pages lay out widgets and call ``credits_core``."""
