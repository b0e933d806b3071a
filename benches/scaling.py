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

Memory is the peak resident set of the run (GNU time's count: /usr/bin/time), and the row
gives what each further byte of input costs: (peak at 4n - peak at n) / (input at 4n
- input at n). A reader that keeps the text and a little per line costs a few bytes; one
that keeps a record per line costs a hundred or more.
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
GNU_TIME = "/usr/bin/time"

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


def run(binary, args, directory):
    """Seconds and peak resident bytes of one run.

    The peak is GNU time's (`%M`): the kernel keeps a process's peak across exec, so a
    child forked from this Python, which holds the input, would count Python's pages too.
    """
    with tempfile.NamedTemporaryFile() as report:
        start = time.perf_counter()
        subprocess.run(
            [GNU_TIME, "-f", "%M", "-o", report.name, binary, *args],
            cwd=directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1"},
            check=False,
        )
        took = time.perf_counter() - start
        return took, int(Path(report.name).read_text().split()[-1]) * 1024


def median_at(binary, args, name, make, n):
    """Median seconds, median peak bytes and the input's size in bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        text = make(n)
        (directory / name).write_text(text)
        if name == "gunicorn.conf.py":
            (directory / "app.py").write_text(FLASK + "app = Flask(__name__)\n")
        runs = [run(binary, args, directory) for _ in range(RUNS)]
        return (
            statistics.median(t for t, _ in runs),
            statistics.median(m for _, m in runs),
            len(text.encode()),
        )


def main():
    if not Path(GNU_TIME).is_file():
        sys.exit(f"{GNU_TIME} (GNU time, Debian package `time`) measures the peak memory")
    repo = Path(__file__).resolve().parent.parent
    binary = str(Path(sys.argv[1]).resolve()) if len(sys.argv) > 1 else str(
        repo / "target/release/fabuild"
    )
    print(
        f"{'shape':34} {'n':>7} {'at n':>9} {'at 4n':>9} {'ratio':>6} "
        f"{'peak at 4n':>11} {'B/input B':>10}"
    )
    worst = 0.0
    for label, args, name, make, n in SHAPES:
        small, small_peak, small_size = median_at(binary, args, name, make, n)
        large, large_peak, large_size = median_at(binary, args, name, make, 4 * n)
        ratio = large / small
        worst = max(worst, ratio)
        per_byte = (large_peak - small_peak) / (large_size - small_size)
        mark = "  SUPER-LINEAR" if ratio > LIMIT else ""
        print(
            f"{label:34} {n:>7} {small:>8.3f}s {large:>8.3f}s {ratio:>6.1f} "
            f"{large_peak / 2**20:>8.1f} MB {per_byte:>10.1f}{mark}"
        )
    print(f"largest ratio {worst:.1f} (linear is about 4, quadratic about 16)")
    return 1 if worst > LIMIT else 0


if __name__ == "__main__":
    sys.exit(main())
