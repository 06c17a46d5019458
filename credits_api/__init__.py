"""HTTP API under /api (placeholder until the API issue lands)."""

from fastapi import FastAPI


def create_api() -> FastAPI:
    api = FastAPI(title="Secondary Market credits API", docs_url=None, redoc_url=None)

    @api.get("/credits-matrix")
    def matrix() -> dict:
        from credits_core.runtime import shared_service

        return shared_service().matrix()

    return api
