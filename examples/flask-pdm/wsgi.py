"""catalog: a minimal Flask service whose dependencies come from pdm.lock."""

import time

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/")
def root():
    return jsonify(service="catalog", status="ok")


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")


@app.get("/slow")
def slow():
    """Answers after a delay: lets tests keep a request in flight during shutdown."""
    seconds = min(float(request.args.get("seconds", 3)), 30.0)
    time.sleep(seconds)
    return jsonify(slept=seconds)
