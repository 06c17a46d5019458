"""HTTP API tests against `streamlit run app.py`."""
