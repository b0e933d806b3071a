"""orders: a FastAPI service in a uv workspace, importing its sibling member pricing."""

import asyncio

from fastapi import FastAPI
from pricing import total

app = FastAPI(title="orders")


@app.get("/")
async def root() -> dict[str, str | int]:
    return {"service": "orders", "status": "ok", "total": total(3, 250)}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/slow")
async def slow(seconds: float = 3.0) -> dict[str, float]:
    """Answers after a delay: lets tests keep a request in flight during shutdown."""
    await asyncio.sleep(min(seconds, 30.0))
    return {"slept": seconds}
