"""What an app's settings code really needs from the environment, by running it.

Reads a JSON list of cases from stdin: {"path": config.py, "values": {VAR: value},
"listed": [VAR, ...]}. For each case, runs the file (as the app's import would) with
exactly the listed variables set to their values, then once more for each listed variable
with that one unset. The listing is right when the first run succeeds (every variable the
code needs is listed) and every other run fails (no variable is listed that the code
could do without). Prints a JSON list of what went wrong, empty when nothing did.
"""

import json
import os
import runpy
import sys


def runs(path, env):
    os.environ.clear()
    os.environ.update(env)
    try:
        runpy.run_path(path)
    except Exception as error:  # the app's import failing, whatever the library raises
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return None


def main():
    cases = json.load(sys.stdin)
    saved = dict(os.environ)
    problems = []
    for case in cases:
        env = {name: case["values"][name] for name in case["listed"] if name in case["values"]}
        unknown = [name for name in case["listed"] if name not in case["values"]]
        if unknown:
            problems.append({"path": case["path"], "listed but never read": unknown})
            continue
        error = runs(case["path"], env)
        if error:
            problems.append({"path": case["path"], "fails with every listed variable set": error})
            continue
        for name in case["listed"]:
            without = {k: v for k, v in env.items() if k != name}
            if runs(case["path"], without) is None:
                problems.append({"path": case["path"], "runs without a listed variable": name})
    os.environ.clear()
    os.environ.update(saved)
    json.dump(problems, sys.stdout)


main()
