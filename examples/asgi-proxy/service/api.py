"""catalog-api: a minimal Starlette app that reports what the proxy told it."""

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def root(request: Request) -> JSONResponse:
    client = request.client.host if request.client else None
    return JSONResponse({"service": "catalog-api", "scheme": request.url.scheme, "client": client})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def slow(request: Request) -> JSONResponse:
    """Answers after a delay: lets tests keep a request in flight during shutdown."""
    seconds = min(float(request.query_params.get("seconds", 3)), 30.0)
    await asyncio.sleep(seconds)
    return JSONResponse({"slept": seconds})


app = Starlette(routes=[Route("/", root), Route("/healthz", healthz), Route("/slow", slow)])
