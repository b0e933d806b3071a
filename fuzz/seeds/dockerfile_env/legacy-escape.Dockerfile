# escape=`
FROM python:3.12 AS base
ENV GUNICORN_CMD_ARGS="--workers=2 `
  --bind=0.0.0.0:80"
FROM base
ENV A=$HOME B=${A:-x}
ENV GUNICORN_CMD_ARGS --name 'it'"s $A"
