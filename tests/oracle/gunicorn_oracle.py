#!/usr/bin/env python3
"""What gunicorn 27.0.1 makes of GUNICORN_CMD_ARGS, for fabuild's oracle test.

Reads one JSON string per line on stdin (the variable's value) and prints one JSON object
per line: the argv from shlex.split and the argparse namespace gunicorn's own parser
builds, or the class of error that stops gunicorn. It runs the same two calls as
gunicorn.app.base.Application.load_config: cfg.get_cmd_args_from_env() (shlex.split) and
cfg.parser().parse_args(...).

Values are compared as argparse stores them, before gunicorn's validators (Setting.set):
that is the layer fabuild's parser emulates, and it is where "accepted or refused"
is decided for the variable's syntax. Validators (positive ints, CIDRs, worker classes)
are what fabuild's rules check, with their own tests.
"""
import contextlib
import io
import json
import os
import sys

from gunicorn.config import Config


def tag(value):
    """The value in the shape fabuild serialises its own: {"str": ..}, {"int": ..}, ..."""
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, list):
        return {"list": [tag(v) for v in value]}
    raise TypeError(f"unexpected value {value!r}")


def classify(message):
    for needle, name in (
        ("ambiguous option", "ambiguous"),
        ("unrecognized arguments", "unrecognized"),
        ("expected one argument", "expected_argument"),
        ("ignored explicit argument", "ignored_explicit"),
        (" value: ", "invalid_value"),
    ):
        if needle in message:
            return name
    return "other: " + message


def run(text):
    os.environ["GUNICORN_CMD_ARGS"] = text
    cfg = Config()
    try:
        argv = cfg.get_cmd_args_from_env()
    except ValueError as err:
        return {"ok": False, "class": "shlex", "message": str(err)}
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            namespace = cfg.parser().parse_args(argv)
    except SystemExit as exit:
        if exit.code == 0:
            kind = "version" if "(version " in out.getvalue() else "help"
            return {"ok": False, "class": kind, "argv": argv}
        message = err.getvalue().strip().splitlines()[-1]
        return {"ok": False, "class": classify(message), "message": message, "argv": argv}
    values = {k: tag(v) for k, v in vars(namespace).items() if v is not None and k != "args"}
    return {"ok": True, "argv": argv, "values": values, "args": namespace.args}


def main():
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(run(json.loads(line)), sort_keys=True, ensure_ascii=False))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
