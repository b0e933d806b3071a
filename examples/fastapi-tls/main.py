"""orders-api: a minimal FastAPI service served by gunicorn over TLS."""

import asyncio

from fastapi import FastAPI

app = FastAPI(title="orders-api")


@app.get("/")
async def root() -> dict[str, str]:
    return {"service": "orders-api", "status": "ok"}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/slow")
async def slow(seconds: float = 3.0) -> dict[str, float]:
    """Answers after a delay: lets tests keep a request in flight during shutdown."""
    await asyncio.sleep(min(seconds, 30.0))
    return {"slept": seconds}
