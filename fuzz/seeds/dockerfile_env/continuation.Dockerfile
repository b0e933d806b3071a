FROM a AS one
ENV GUNICORN_CMD_ARGS=--workers=1
FROM b
env \
  GUNICORN_CMD_ARGS="a\\b \"q\" \$x" OTHER=y
