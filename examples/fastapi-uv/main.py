"""ledger-api: a minimal FastAPI service whose dependencies come from uv.lock."""

import asyncio

from fastapi import FastAPI

app = FastAPI(title="ledger-api")


@app.get("/")
async def root() -> dict[str, str]:
    return {"service": "ledger-api", "status": "ok"}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/slow")
async def slow(seconds: float = 3.0) -> dict[str, float]:
    """Answers after a delay: lets tests keep a request in flight during shutdown."""
    await asyncio.sleep(min(seconds, 30.0))
    return {"slept": seconds}
