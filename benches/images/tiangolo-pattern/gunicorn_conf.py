"""gunicorn settings in the style of tiangolo/uvicorn-gunicorn, from its documented
environment variables: WORKERS_PER_CORE (default 1), MAX_WORKERS (cap), WEB_CONCURRENCY
(override), HOST/PORT or BIND, LOG_LEVEL, TIMEOUT and GRACEFUL_TIMEOUT (120),
KEEP_ALIVE (5), ACCESS_LOG and ERROR_LOG ("-")."""
import json
import multiprocessing
import os

cores = multiprocessing.cpu_count()  # the host's CPUs, not the container's limit
workers_per_core = float(os.getenv("WORKERS_PER_CORE", "1"))
max_workers = int(os.environ["MAX_WORKERS"]) if os.getenv("MAX_WORKERS") else None
if os.getenv("WEB_CONCURRENCY"):
    web_concurrency = int(os.environ["WEB_CONCURRENCY"])
else:
    web_concurrency = max(int(workers_per_core * cores), 2)
if max_workers:
    web_concurrency = min(web_concurrency, max_workers)

bind = os.getenv("BIND") or f"{os.getenv('HOST', '0.0.0.0')}:{os.getenv('PORT', '80')}"
loglevel = os.getenv("LOG_LEVEL", "info")
workers = web_concurrency
accesslog = os.getenv("ACCESS_LOG", "-") or None
errorlog = os.getenv("ERROR_LOG", "-") or None
graceful_timeout = int(os.getenv("GRACEFUL_TIMEOUT", "120"))
timeout = int(os.getenv("TIMEOUT", "120"))
keepalive = int(os.getenv("KEEP_ALIVE", "5"))

print(json.dumps({"loglevel": loglevel, "workers": workers, "bind": bind, "graceful_timeout": graceful_timeout,
                  "timeout": timeout, "keepalive": keepalive, "cores": cores,
                  "workers_per_core": workers_per_core}), flush=True)
