#!/usr/bin/env python3
"""How fabuild's time grows with hostile input: each shape is timed at a size n and at 4n.

A cost linear in the input takes about 4 times as long at 4n (less, where process start-up
dominates); a quadratic one about 16 times. Each shape here was quadratic once (or is the
kind of input that makes a parser so): thousands of env keys, of app factories in one file,
of explain errors. The fuzzers cannot see this: they keep inputs to a few KiB.

    python3 benches/scaling.py [path/to/fabuild]    (default target/release/fabuild)

Prints one row a shape: the median of 3 runs at n and at 4n, and the ratio. A ratio above
8 is marked SUPER-LINEAR and the script exits 1. Ratios, not times, are the result: they
are taken in one run on one machine, so load on a shared host moves both sides alike.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 3
LIMIT = 8.0

SPEC_HEAD = (
    "version: 1\nname: orders-api\napp:\n  module: main:app\n  interface: asgi\n"
    'python:\n  version: "3.12"\nserver:\n  port: 8000\n'
)
FLASK = "from flask import Flask\n"


def spec_env(n):
    return SPEC_HEAD + "env:\n" + "".join(f"  K{i}: v\n" for i in range(n))


def spec_bad_args(n):
    return SPEC_HEAD + "  extra_args:\n" + "    - -b=x\n" * n


def dockerfile(word):
    def make(n):
        value = " ".join([word] * n)
        return f'FROM python:3.12-slim\nENV GUNICORN_CMD_ARGS="{value}"\n'

    return make


def factories(n):
    return FLASK + "".join(
        f"def create_app{i}():\n    return Flask(__name__)\n" for i in range(n)
    )


def conf_lines(n):
    return "".join(f"x{i} = {i}\n" for i in range(n))


# (name, command, file the input goes to, input maker, n). 4n of each stays inside
# fabuild's own limits: a 1 MiB spec, a 131,071-byte GUNICORN_CMD_ARGS (FAB129), a 1 MiB
# .py file, a 16 MiB gunicorn.conf.py.
SHAPES = [
    ("check: env keys", ["check", "app.yaml"], "app.yaml", spec_env, 20_000),
    ("gen: env keys", ["gen", "app.yaml"], "app.yaml", spec_env, 20_000),
    ("check: extra_args findings", ["check", "app.yaml"], "app.yaml", spec_bad_args, 20_000),
    ("explain: repairable errors", ["explain", "--dockerfile", "Dockerfile"], "Dockerfile",
     dockerfile("--preload=true"), 2_000),
    ("explain: unknown flags", ["explain", "--dockerfile", "Dockerfile"], "Dockerfile",
     dockerfile("--x"), 8_000),
    ("explain: short flags", ["explain", "--dockerfile", "Dockerfile"], "Dockerfile",
     dockerfile("-w 1"), 6_000),
    ("init: app factories in one file", ["init", "--force"], "app.py", factories, 5_000),
    ("init: gunicorn.conf.py lines", ["init", "--force"], "gunicorn.conf.py", conf_lines,
     200_000),
]


def seconds(binary, args, directory):
    start = time.perf_counter()
    subprocess.run(
        [binary, *args],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    return time.perf_counter() - start


def median_at(binary, args, name, make, n):
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / name).write_text(make(n))
        if name == "gunicorn.conf.py":
            (directory / "app.py").write_text(FLASK + "app = Flask(__name__)\n")
        return statistics.median(seconds(binary, args, directory) for _ in range(RUNS))


def main():
    repo = Path(__file__).resolve().parent.parent
    binary = str(Path(sys.argv[1]).resolve()) if len(sys.argv) > 1 else str(
        repo / "target/release/fabuild"
    )
    print(f"{'shape':34} {'n':>7} {'at n':>9} {'at 4n':>9} {'ratio':>6}")
    worst = 0.0
    for label, args, name, make, n in SHAPES:
        small = median_at(binary, args, name, make, n)
        large = median_at(binary, args, name, make, 4 * n)
        ratio = large / small
        worst = max(worst, ratio)
        mark = "  SUPER-LINEAR" if ratio > LIMIT else ""
        print(f"{label:34} {n:>7} {small:>8.3f}s {large:>8.3f}s {ratio:>6.1f}{mark}")
    print(f"largest ratio {worst:.1f} (linear is about 4, quadratic about 16)")
    return 1 if worst > LIMIT else 0


if __name__ == "__main__":
    sys.exit(main())
