#!/usr/bin/env python3
"""What gunicorn 27.0.1 makes of GUNICORN_CMD_ARGS, for fabuild's oracle test.

Reads one JSON string per line on stdin (the variable's value) and prints one JSON object
per line. It runs what gunicorn.app.base.Application.load_config does with the variable,
without starting a server: cfg.get_cmd_args_from_env() (shlex.split), then
cfg.parser().parse_args(...), then cfg.set(name, value) for every setting given, in the
namespace's order, then cfg.validate(), each stopping at the first error as gunicorn does
(argparse exits 2; a validator's exception becomes "Error: ..." and exit 1).

The answer holds the argv, the argparse namespace ("values") and, when every validator
accepts, what each setting holds after its validator ("validated"). When a validator
refuses, "class" is "validator" with the setting and the exception's text, which gunicorn
prints after "Error: ". Validators that look at the machine (does a directory, file or
user exist, is the h2 package installed) answer for the machine this runs on; the Rust
side knows which those are.
"""
import contextlib
import io
import json
import os
import sys
import warnings

from gunicorn.config import Config


def tag(value):
    """The value in the shape fabuild serialises its own: {"str": ..}, {"int": ..}, ..."""
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        # str() refuses ints over 4300 digits; lift the limit for the answer only, not
        # while gunicorn's validators run (their messages hit it too).
        limit = sys.get_int_max_str_digits()
        sys.set_int_max_str_digits(0)
        try:
            return {"int": str(value)}
        finally:
            sys.set_int_max_str_digits(limit)
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, (list, tuple)):
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


def validated(cfg, namespace):
    """Config.set for each setting given, as load_config does, then Config.validate."""
    given = []
    err = io.StringIO()
    with contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, value in vars(namespace).items():
            if value is None or name == "args":
                continue
            try:
                cfg.set(name.lower(), value)
            except Exception as exc:  # gunicorn catches every exception here
                return {"class": "validator", "setting": name, "message": str(exc)}
            given.append(name)
        try:
            cfg.validate()
        except Exception as exc:
            return {"class": "validator", "setting": "validate", "message": str(exc)}
    return {"validated": {name: tag(cfg.settings[name].get()) for name in given}}


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
    answer = {"argv": argv, "values": values, "args": namespace.args}
    answer.update(validated(cfg, namespace))
    answer["ok"] = "validated" in answer
    return answer


def main():
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(run(json.loads(line)), sort_keys=True, ensure_ascii=False))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
