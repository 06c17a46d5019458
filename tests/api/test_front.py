"""``ApiFront`` sends ``/api/…`` to the API app with a Mount's scope, and everything else to Streamlit."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from credits_api.front import ApiFront


async def _where(request: Request) -> JSONResponse:
    return JSONResponse({"root_path": request.scope.get("root_path"), "path": request.url.path})


def _client() -> TestClient:
    api = Starlette(routes=[Route("/credits-state", _where)])
    mount = Mount("/api", app=api)

    async def outer(scope, receive, send) -> None:  # stands for Streamlit's stack
        await JSONResponse({"served_by": "streamlit", "path": scope["path"]})(scope, receive, send)

    return TestClient(ApiFront(outer, mount))


def test_api_paths_reach_the_api_with_the_scope_a_mount_gives() -> None:
    r = _client().get("/api/credits-state?limit=5")
    assert r.json() == {"root_path": "/api", "path": "/api/credits-state"}


def test_other_paths_go_through_streamlit() -> None:
    client = _client()
    for path in ("/", "/ops_ledger", "/apiary", "/_stcore/health"):
        assert client.get(path).json() == {"served_by": "streamlit", "path": path}
