import os
from os import environ, getenv

SECRET_KEY = os.environ["SECRET_KEY"]
DATABASE_URL = environ.get("DATABASE_URL")
LOG = getenv(
    "LOG"
)
