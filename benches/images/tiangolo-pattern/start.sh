#!/bin/sh
# Written from the documented behaviour of tiangolo/uvicorn-gunicorn's start script.
set -e
MODULE_NAME=${MODULE_NAME:-main}
VARIABLE_NAME=${VARIABLE_NAME:-app}
export APP_MODULE=${APP_MODULE:-"$MODULE_NAME:$VARIABLE_NAME"}
export GUNICORN_CONF=${GUNICORN_CONF:-/gunicorn_conf.py}
export WORKER_CLASS=${WORKER_CLASS:-uvicorn.workers.UvicornWorker}
PRE_START_PATH=${PRE_START_PATH:-/app/prestart.sh}
if [ -f "$PRE_START_PATH" ]; then
    . "$PRE_START_PATH"
fi
exec gunicorn -k "$WORKER_CLASS" -c "$GUNICORN_CONF" "$APP_MODULE"
