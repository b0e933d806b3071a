# The field corpus: real projects nobody here wrote, obtained at test time (sourced by run.sh).
# shellcheck shell=bash
#
# Each project is one line of CORPUS and one function `make_<name> DIR` that creates it in DIR
# (which does not exist yet). Projects come from two places, never from this repository:
#   - sdists from PyPI, pinned by version AND sha256 (fetch_sdist), that ship runnable apps:
#     Flask's examples/, FastAPI's docs_src/;
#   - the ecosystem's own generators (uv, poetry, pdm, django-admin), pinned with hashes in
#     tests/field/requirements.txt, with the framework pinned in the command that adds it.
# A generated project has no app until someone writes one: those get the few lines the
# framework's own documentation shows (FastAPI's is copied from its sdist's docs_src), and the
# `added` column says so. Nothing fabuild writes is ever edited.
#
# CORPUS columns (|-separated): name | framework | dependency layout | path to probe (must
# answer 2xx, needs no external service) | where it comes from | code added by hand

CORPUS=(
  "flask-tutorial|Flask|PEP 621 (pyproject.toml, no lock)|/hello|Flask 3.1.3 sdist: examples/tutorial (flaskr)|none"
  "flask-javascript|Flask|PEP 621 (pyproject.toml, no lock)|/|Flask 3.1.3 sdist: examples/javascript|none"
  "flask-celery|Flask|requirements.txt (pip-compile output)|/|Flask 3.1.3 sdist: examples/celery|none"
  "django-pip|Django|requirements.txt (uv pip compile --generate-hashes)|/admin/login/|django-admin startproject; uv pip compile|none"
  "django-uv|Django|uv (uv.lock)|/admin/login/|uv init --app; uv add django; django-admin startproject|none"
  "fastapi-uv|FastAPI|uv (uv.lock)|/|uv init --app; uv add fastapi|main.py = FastAPI docs_src/first_steps/tutorial001.py (8 lines)"
  "fastapi-bigger-uv|FastAPI|uv (uv.lock)|/?token=jessica|uv init --app; uv add fastapi; FastAPI 0.165.0 sdist: docs_src/bigger_applications/app|none"
  "fastapi-uv-workspace|FastAPI|uv workspace (root uv.lock, member packages/api)|/|uv init --app; uv init --package packages/api; uv add --package api fastapi|src/api/main.py = FastAPI docs_src/first_steps/tutorial001.py"
  "flask-poetry|Flask|Poetry (poetry.lock)|/|poetry new; poetry add flask|src/flask_poetry/app.py: Flask quickstart (6 lines)"
  "fastapi-poetry|FastAPI|Poetry (poetry.lock)|/|poetry new; poetry add fastapi|src/fastapi_poetry/main.py = FastAPI docs_src/first_steps/tutorial001.py"
  "starlette-pdm|Starlette|pdm (pdm.lock)|/|pdm init -n; pdm add starlette|app.py: Starlette README example (11 lines)"
  "litestar-pdm|Litestar|pdm (pdm.lock)|/|pdm init -n; pdm add litestar|app.py: Litestar README example (7 lines)"
  "litestar-requirements|Litestar|requirements.txt (uv pip compile)|/|uv pip compile; Litestar README example|app.py: Litestar README example (7 lines)"
)

# Pinned sdists: name version sha256 (the sha256 PyPI publishes for the file).
FLASK_SDIST="flask 3.1.3 0ef0e52b8a9cd932855379197dd8f94047b359ca0a78695144304cb45f87c9eb"
FASTAPI_SDIST="fastapi 0.165.0 dd94d4128319c1e1d50535ab023ab698f850a4d2822f0e181747b46f4ff3c0ab"
# Framework versions the generated projects add.
DJANGO_VERSION=5.2.19
FASTAPI_VERSION=0.165.0
FLASK_VERSION=3.1.3
STARLETTE_VERSION=1.10.0
LITESTAR_VERSION=2.25.0

# fetch_sdist "NAME VERSION SHA256": prints the path of the verified sdist, downloading it
# with pip (hash-checked) into the cache when missing; the file is checked again before every
# use, so a corrupted or replaced cache entry fails instead of being built.
fetch_sdist() {
  local name version sha file req
  read -r name version sha <<<"$1"
  file=$FIELD_CACHE/sdist/$name-$version.tar.gz
  # A cached file that is not the pinned one (a download cut short, a replaced file) is
  # fetched again, and the new copy must match too.
  if [ -e "$file" ] && ! echo "$sha  $file" | sha256sum --check --quiet >/dev/null 2>&1; then
    echo "cached $file does not match its sha256: downloading it again" >&2
    rm -f "$file"
  fi
  if [ ! -e "$file" ]; then
    mkdir -p "$FIELD_CACHE/sdist"
    req=$(mktemp)
    printf '%s==%s --hash=sha256:%s\n' "$name" "$version" "$sha" >"$req"
    "$FIELD_VENV/bin/pip" download --quiet --no-deps --no-binary :all: --require-hashes \
      -d "$FIELD_CACHE/sdist" -r "$req" >&2 || { rm -f "$req"; return 1; }
    rm -f "$req"
  fi
  echo "$sha  $file" | sha256sum --check --quiet >&2 || { echo "sha256 mismatch: $file" >&2; return 1; }
  echo "$file"
}

# from_sdist "NAME VERSION SHA256" PATH DIR: DIR becomes PATH (a directory inside the sdist).
from_sdist() {
  local file top tmp name version
  file=$(fetch_sdist "$1") || return 1
  read -r name version _ <<<"$1"
  top=$name-$version
  tmp=$(mktemp -d)
  tar -xzf "$file" -C "$tmp" "$top/$2" || { rm -rf "$tmp"; return 1; }
  mv "$tmp/$top/$2" "$3"
  rm -rf "$tmp"
}

make_flask-tutorial() { from_sdist "$FLASK_SDIST" examples/tutorial "$1"; }
make_flask-javascript() { from_sdist "$FLASK_SDIST" examples/javascript "$1"; }
make_flask-celery() { from_sdist "$FLASK_SDIST" examples/celery "$1"; }

make_django-pip() {
  mkdir "$1"
  "$FIELD_VENV/bin/django-admin" startproject mysite "$1"
  printf 'django==%s\n' "$DJANGO_VERSION" >"$1/requirements.in"
  (cd "$1" && uv pip compile --generate-hashes --quiet requirements.in -o requirements.txt)
}

make_django-uv() {
  uv init --quiet --app --vcs none --name mysite "$1"
  (cd "$1" && uv add --quiet "django==$DJANGO_VERSION" \
    && "$FIELD_VENV/bin/django-admin" startproject mysite .)
}

fastapi_first_steps() {
  local src
  src=$(fetch_sdist "$FASTAPI_SDIST") || return 1
  tar -xzOf "$src" "fastapi-$FASTAPI_VERSION/docs_src/first_steps/tutorial001.py" >"$1"
}

make_fastapi-uv() {
  uv init --quiet --app --vcs none --name fastapi-uv "$1"
  (cd "$1" && uv add --quiet "fastapi==$FASTAPI_VERSION")
  fastapi_first_steps "$1/main.py"
}

make_fastapi-bigger-uv() {
  uv init --quiet --app --vcs none --name bigger "$1"
  (cd "$1" && uv add --quiet "fastapi==$FASTAPI_VERSION")
  from_sdist "$FASTAPI_SDIST" docs_src/bigger_applications/app "$1/app"
}

make_fastapi-uv-workspace() {
  uv init --quiet --app --vcs none --name field-ws "$1"
  (cd "$1" && uv init --quiet --package --vcs none --name api packages/api \
    && uv add --quiet --package api "fastapi==$FASTAPI_VERSION")
  fastapi_first_steps "$1/packages/api/src/api/main.py"
}

make_flask-poetry() {
  poetry new --no-interaction --name flask-poetry "$1" >/dev/null
  (cd "$1" && poetry add --lock --no-interaction "flask==$FLASK_VERSION" >/dev/null)
  cat >"$1/src/flask_poetry/app.py" <<'EOF'
from flask import Flask

app = Flask(__name__)

@app.route("/")
def hello_world():
    return "<p>Hello, World!</p>"
EOF
}

make_fastapi-poetry() {
  poetry new --no-interaction --name fastapi-poetry "$1" >/dev/null
  (cd "$1" && poetry add --lock --no-interaction "fastapi==$FASTAPI_VERSION" >/dev/null)
  fastapi_first_steps "$1/src/fastapi_poetry/main.py"
}

pdm_project() {
  mkdir "$1"
  (cd "$1" && pdm init -n --python "$(command -v python3)" >/dev/null \
    && pdm add --no-sync "$2" >/dev/null)
  # pdm can print an error and still exit 0: the lock must name the package.
  grep -q "^name = \"${2%%==*}\"" "$1/pdm.lock" || { echo "pdm.lock does not lock ${2%%==*}"; return 1; }
}

make_starlette-pdm() {
  pdm_project "$1" "starlette==$STARLETTE_VERSION"
  cat >"$1/app.py" <<'EOF'
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def homepage(request):
    return JSONResponse({'hello': 'world'})


app = Starlette(debug=True, routes=[
    Route('/', homepage),
])
EOF
}

litestar_hello() {
  cat >"$1" <<'EOF'
from litestar import Litestar, get


@get("/")
async def index() -> str:
    return "Hello, world!"


app = Litestar([index])
EOF
}

make_litestar-pdm() {
  pdm_project "$1" "litestar==$LITESTAR_VERSION"
  litestar_hello "$1/app.py"
}

make_litestar-requirements() {
  mkdir "$1"
  printf 'litestar==%s\n' "$LITESTAR_VERSION" >"$1/requirements.in"
  (cd "$1" && uv pip compile --quiet requirements.in -o requirements.txt)
  litestar_hello "$1/app.py"
}
