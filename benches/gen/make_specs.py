#!/usr/bin/env python3
"""Write N distinct app.yaml specs, and for each the same values as a cookiecutter context.

Usage: make_specs.py OUT_DIR N SEED FABUILD_BIN

OUT_DIR/specs/NNNN/{app.yaml,requirements.txt}   what `fabuild gen` reads
OUT_DIR/contexts/NNNN.json                        what the cookiecutter template reads
The specs vary name, module, interface, python version, port, workers, cpus, timeouts,
keep-alive, max-requests, TLS (dir and file names), uid/gid and labels. The server pins
for the template are taken once from `fabuild plan` (a hand-kept template carries them).
"""
import json
import os
import random
import subprocess
import sys

WORDS = "orders payments users catalog search billing ledger auth inventory ship notify report media geo price".split()


def spec_values(i, rng):
    asgi = rng.random() < 0.6
    tls = rng.random() < 0.5
    cpus = rng.choice([1, 1, 2, 2, 3, 4, 0.5, 1.5])
    v = {
        "name": f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i:04d}",
        "module": rng.choice(["main:app", "app.main:app", "service.api:create_app()", "wsgi:application"]),
        "interface": "asgi" if asgi else "wsgi",
        "python_version": rng.choice(["3.11", "3.12", "3.13"]),
        "port": rng.choice(["", str(rng.randrange(1024, 65536))]),
        "workers": rng.choice(["", str(rng.randrange(1, 9))]),
        "cpus": str(cpus),
        "timeout": str(rng.randrange(10, 301)),
        "graceful_timeout": str(rng.randrange(5, 61)),
        "keepalive": str(rng.randrange(61, 301)),
        "max_requests": rng.choice(["0", str(rng.randrange(500, 5001))]),
        "tls": "yes" if tls else "no",
        "tls_dir": rng.choice(["/opt/key", "/opt/tls", "/var/run/certs"]),
        "certfile": rng.choice(["cert.pem", "tls.crt", "abc-cert.pem"]),
        "keyfile": rng.choice(["key.pem", "tls.key", "abc-key.pem"]),
        "uid": str(rng.randrange(1000, 60000)),
        "labels": {},
    }
    v["gid"] = rng.choice([v["uid"], str(rng.randrange(1000, 60000))])
    v["max_requests_jitter"] = "0" if v["max_requests"] == "0" else str(rng.randrange(1, 200))
    for _ in range(rng.randrange(0, 4)):
        key = rng.choice(["com.example.team", "com.example.owner", "org.opencontainers.image.source",
                          "org.opencontainers.image.version", "com.example.tier"])
        v["labels"][key] = rng.choice(WORDS) + "-" + str(rng.randrange(100))
    return v


def app_yaml(v):
    y = [f"version: 1", f"name: {v['name']}", "app:", f"  module: {json.dumps(v['module'])}",
         f"  interface: {v['interface']}", "python:", f"  version: \"{v['python_version']}\"",
         "  requirements: requirements.txt", "server:"]
    if v["port"]:
        y.append(f"  port: {v['port']}")
    if v["workers"]:
        y.append(f"  workers: {v['workers']}")
    y += [f"  cpus: {v['cpus']}", f"  timeout: {v['timeout']}", f"  graceful_timeout: {v['graceful_timeout']}"]
    if v["interface"] == "asgi":
        y.append(f"  keepalive: {v['keepalive']}")
    if v["max_requests"] != "0":
        y += [f"  max_requests: {v['max_requests']}", f"  max_requests_jitter: {v['max_requests_jitter']}"]
    if v["tls"] == "yes":
        y += ["tls:", f"  dir: {v['tls_dir']}", f"  certfile: {v['certfile']}", f"  keyfile: {v['keyfile']}"]
    y += ["user:", f"  uid: {v['uid']}", f"  gid: {v['gid']}"]
    if v["labels"]:
        y.append("labels:")
        y += [f"  {k}: {json.dumps(val)}" for k, val in v["labels"].items()]
    return "\n".join(y) + "\n"


def pins(fabuild, tmp):
    """The hashed server pins per interface, as fabuild plans them."""
    out = {}
    for interface in ("asgi", "wsgi"):
        d = os.path.join(tmp, "pins-" + interface)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "app.yaml"), "w") as f:
            f.write(f"version: 1\nname: pins\napp:\n  module: main:app\n  interface: {interface}\n")
        plan = json.loads(subprocess.check_output([fabuild, "plan", "app.yaml"], cwd=d))
        out[interface] = plan["server_pins"]
    return out


def main():
    out, n, seed, fabuild = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rng = random.Random(seed)
    os.makedirs(os.path.join(out, "contexts"), exist_ok=True)
    server_pins = pins(fabuild, out)
    seen = set()
    i = 0
    while len(seen) < n:
        v = spec_values(len(seen), rng)
        text = app_yaml(v)
        if text in seen:
            continue
        seen.add(text)
        d = os.path.join(out, "specs", f"{i:04d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "app.yaml"), "w") as f:
            f.write(text)
        with open(os.path.join(d, "requirements.txt"), "w") as f:
            f.write("fastapi==0.165.0\n" if v["interface"] == "asgi" else "flask\n")
        ctx = dict(v, dir=f"{i:04d}", requirements="requirements.txt", pins=server_pins)
        with open(os.path.join(out, "contexts", f"{i:04d}.json"), "w") as f:
            json.dump(ctx, f)
        i += 1


if __name__ == "__main__":
    main()
