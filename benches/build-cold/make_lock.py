#!/usr/bin/env python3
"""Writes a hash-locked requirements file, as `uv export` or `pip-compile --generate-hashes`
would: for each wheel file name given, `name==version` with the sha256 of every file PyPI
has for that version (all platforms), read from the index's simple API (PEP 691 JSON).

Usage: make_lock.py WHEEL_FILE... > requirements-locked.txt
"""
import json
import re
import sys
import urllib.request

out = []
for path in sorted(sys.argv[1:]):
    name, version = path.rsplit("/", 1)[-1].split("-")[:2]
    name = re.sub(r"[-_.]+", "-", name).lower()
    req = urllib.request.Request(f"https://pypi.org/simple/{name}/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        files = json.load(r)["files"]
    prefix = re.compile("^" + "[-_.]".join(map(re.escape, name.split("-"))) + f"-{re.escape(version)}[-.]", re.I)
    hashes = sorted(f["hashes"]["sha256"] for f in files if prefix.match(f["filename"]))
    out.append(f"{name}=={version} \\\n" + " \\\n".join(f"    --hash=sha256:{h}" for h in hashes))
print("# fastapi 0.165.0 and its dependencies, every file's sha256 (benches/build-cold/make_lock.py)")
print("\n".join(out))
