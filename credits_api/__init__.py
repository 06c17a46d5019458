"""HTTP API under ``/api`` (SPEC §5), served by the Streamlit process.

``app.py`` mounts it: ``st.App(__file__, routes=[Mount("/api", app=create_api())])``.
"""

from .app import create_api

__all__ = ["create_api"]
