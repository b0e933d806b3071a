#!/usr/bin/env python3
"""Helpers for tests/e2e/run.sh: load the expectation JSON and check what the
real engine produced against it. Standard library only.

  expect.py load EXPECT_JSON            -> shell assignments (eval-able) for run.sh
  expect.py check-config EXPECT_JSON CONFIG_JSON
                                        -> checks `skopeo inspect --config` output
  expect.py probe                       -> (runs INSIDE the image) prints JSON facts
  expect.py check-probe EXPECT_JSON PROBE_JSON DOCKERIGNORE
                                        -> checks versions, /app contents and who
                                           owns and can write them, secrets
  expect.py check-procs EXPECT_JSON PROCS_JSON
                                        -> checks uid/gid of every process, PID 1,
                                           worker count
See run.sh for the expectation format.
"""
import json
import os
import shlex
import sys

DEFAULT_PINS = {
    "asgi": {"gunicorn": "27.0.1", "uvicorn": "0.54.0", "uvicorn-worker": "0.4.0"},
    "wsgi": {"gunicorn": "27.0.1"},
}
# No installer stays in an image: pip and uv run from the build cache mount.
INSTALLERS = ["pip", "setuptools", "uv"]
DEFAULT_ABSENT = {"asgi": INSTALLERS, "wsgi": ["uvicorn", "uvicorn-worker"] + INSTALLERS}


def die(msg):
    print(f"expect.py: {msg}", file=sys.stderr)
    sys.exit(2)


def gunicorn_opt(args, flag):
    """Value of --flag=VALUE / --flag VALUE in a shlex-split arg list, else None."""
    val = None
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            val = args[i + 1]
        elif a.startswith(flag + "="):
            val = a[len(flag) + 1:]
    return val


def load(path):
    with open(path, encoding="utf-8") as f:
        e = json.load(f)
    if not isinstance(e, dict):
        die(f"{path}: top level must be an object")
    for k in ("name", "uid", "gid", "port", "gunicorn_cmd_args", "interface"):
        if k not in e:
            die(f"{path}: missing required key {k!r}")
    if e["interface"] not in ("asgi", "wsgi"):
        die(f"{path}: interface must be 'asgi' or 'wsgi', not {e['interface']!r}")
    for k in ("uid", "gid", "port"):
        if not isinstance(e[k], int) or isinstance(e[k], bool):
            die(f"{path}: {k} must be an integer")
    try:
        args = shlex.split(e["gunicorn_cmd_args"])
    except ValueError as exc:
        die(f"{path}: gunicorn_cmd_args does not shlex-split: {exc}")
    e.setdefault("tls_dir", None)
    e.setdefault("labels", [])
    # `fabuild plan` shapes: [[key, value], ...] pairs, server_pins, workers{}
    if isinstance(e["labels"], list) and all(isinstance(x, list) and len(x) == 2 for x in e["labels"]):
        e["labels"] = dict(e["labels"])
    env = e.get("env") or {}
    e["env"] = dict(env) if isinstance(env, list) else env
    if "pins" not in e and isinstance(e.get("server_pins"), list):
        e["pins"] = {p["name"]: p["version"] for p in e["server_pins"]}
    if isinstance(e.get("workers"), dict):
        e["workers"] = e["workers"].get("count")
    if e["tls_dir"]:
        key = e.get("tls_key") or gunicorn_opt(args, "--keyfile")
        cert = e.get("tls_cert") or gunicorn_opt(args, "--certfile")
        if not key or not cert:
            die(f"{path}: tls_dir set but no --keyfile/--certfile in gunicorn_cmd_args "
                "(or tls_key/tls_cert keys)")
        for what, p in (("key", key), ("cert", cert)):
            if os.path.dirname(p) != e["tls_dir"].rstrip("/"):
                die(f"{path}: TLS {what} {p!r} is not directly inside tls_dir {e['tls_dir']!r}")
        e["tls_key"], e["tls_cert"] = key, cert
    else:
        e["tls_key"] = e["tls_cert"] = ""
    gt = gunicorn_opt(args, "--graceful-timeout")
    e.setdefault("graceful_timeout", int(float(gt)) if gt else 30)
    w = gunicorn_opt(args, "--workers") or gunicorn_opt(args, "-w")
    e.setdefault("workers", int(w) if w else None)
    e.setdefault("pins", DEFAULT_PINS[e["interface"]])
    e.setdefault("absent", DEFAULT_ABSENT[e["interface"]])
    e.setdefault("slow_path", "/slow?seconds=3")
    e.setdefault("image", f"localhost/fabuild-e2e/{e['name']}:e2e")
    return e


def cmd_load(path):
    e = load(path)
    out = {
        "EX_NAME": e["name"],
        "EX_UID": e["uid"],
        "EX_GID": e["gid"],
        "EX_PORT": e["port"],
        "EX_TLS_DIR": e["tls_dir"] or "",
        "EX_TLS_KEY": os.path.basename(e["tls_key"]),
        "EX_TLS_CERT": os.path.basename(e["tls_cert"]),
        "EX_INTERFACE": e["interface"],
        "EX_GRACEFUL": e["graceful_timeout"],
        "EX_WORKERS": e["workers"] if e["workers"] is not None else "",
        "EX_SLOW_PATH": e["slow_path"],
        "EX_IMAGE": e["image"],
    }
    for k, v in out.items():
        print(f"{k}={shlex.quote(str(v))}")


class Checker:
    def __init__(self, what):
        self.what = what
        self.failed = []

    def check(self, ok, desc, detail=""):
        mark = "ok  " if ok else "FAIL"
        print(f"    [{mark}] {self.what}: {desc}" + ("" if ok or not detail else f"\n           {detail}"))
        if not ok:
            self.failed.append(desc)

    def done(self):
        if self.failed:
            print(f"    {self.what}: {len(self.failed)} check(s) failed: {'; '.join(self.failed)}")
            sys.exit(1)


def cmd_check_config(exp_path, cfg_path):
    e = load(exp_path)
    with open(cfg_path, encoding="utf-8") as f:
        full = json.load(f)
    cfg = full.get("config") or {}
    c = Checker("image config")
    want_user = f"{e['uid']}:{e['gid']}"
    c.check(cfg.get("User") == want_user, f"User == {want_user!r}", f"got {cfg.get('User')!r}")

    env = {}
    for item in cfg.get("Env") or []:
        k, _, v = item.partition("=")
        env[k] = v
    got = env.get("GUNICORN_CMD_ARGS")
    c.check(got == e["gunicorn_cmd_args"], "Env GUNICORN_CMD_ARGS byte-equal to expected",
            f"expected {e['gunicorn_cmd_args']!r}\n           got      {got!r}")
    if got is not None:
        try:
            shlex.split(got)
            c.check(True, "GUNICORN_CMD_ARGS shlex-splits (as gunicorn reads it)")
        except ValueError as exc:
            c.check(False, "GUNICORN_CMD_ARGS shlex-splits (as gunicorn reads it)", str(exc))
    for k, v in e["env"].items():
        c.check(env.get(k) == v, f"Env {k} byte-equal to expected",
                f"expected {v!r}\n           got      {env.get(k)!r}")
    for bad in ("PIP_CERT", "WEB_CONCURRENCY", "PORT"):
        c.check(bad not in env, f"Env has no {bad}", f"got {bad}={env.get(bad)!r}")

    ports = cfg.get("ExposedPorts") or {}
    c.check(f"{e['port']}/tcp" in ports, f"ExposedPorts has {e['port']}/tcp", f"got {sorted(ports)}")
    if e["tls_dir"]:
        vols = cfg.get("Volumes") or {}
        c.check(e["tls_dir"] in vols, f"Volumes has {e['tls_dir']}", f"got {sorted(vols)}")

    cmd = cfg.get("Cmd")
    c.check(isinstance(cmd, list) and len(cmd) >= 1 and cmd[0] == "gunicorn",
            "Cmd is an exec-form JSON array starting with \"gunicorn\"", f"got {cmd!r}")
    if e.get("cmd"):
        c.check(cmd == e["cmd"], f"Cmd == {e['cmd']!r}", f"got {cmd!r}")
    c.check(not cfg.get("Entrypoint"), "no Entrypoint (gunicorn is PID 1)", f"got {cfg.get('Entrypoint')!r}")
    sig = cfg.get("StopSignal")
    c.check(sig in (None, "", "SIGTERM", "15"), "StopSignal is SIGTERM/default", f"got {sig!r}")

    labels = cfg.get("Labels") or {}
    want = e["labels"]
    if isinstance(want, dict):
        for k, v in want.items():
            if v is None:
                c.check(k in labels, f"label {k} present", f"labels: {sorted(labels)}")
            else:
                c.check(labels.get(k) == v, f"label {k} == {v!r}", f"got {labels.get(k)!r}")
    else:
        for k in want:
            c.check(k in labels and labels[k] != "", f"label {k} present and non-empty",
                    f"got {labels.get(k)!r}; labels: {sorted(labels)}")
    c.done()


PROBE_DISTS = ("gunicorn", "uvicorn", "uvicorn-worker", "uvicorn_worker", "click", "h11")


APP_TREE_LIMIT = 20000


def app_tree(root):
    """Owner, mode and writability (for the user the probe runs as) of root and of
    everything under it, symlinks not followed; at most APP_TREE_LIMIT entries."""
    import stat
    out = []

    def add(path):
        st = os.lstat(path)
        link = stat.S_ISLNK(st.st_mode)
        out.append({"path": path, "uid": st.st_uid, "gid": st.st_gid,
                    "mode": stat.S_IMODE(st.st_mode), "dir": stat.S_ISDIR(st.st_mode),
                    "writable": not link and os.access(path, os.W_OK)})

    if not os.path.isdir(root):
        return []
    add(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames) + sorted(filenames):
            if len(out) >= APP_TREE_LIMIT:
                return out
            add(os.path.join(dirpath, name))
    return out


def bytecode(roots):
    """Each .py under roots: does its unchecked-hash .pyc (the flags Python reads) sit
    beside it? (Sources checked, the first ones without, the first ones with another mode.)"""
    import importlib.util
    sources, missing, other = 0, [], []
    for root in roots:
        for dirpath, _, filenames in os.walk(root):
            for name in sorted(filenames):
                if not name.endswith(".py"):
                    continue
                sources += 1
                path = os.path.join(dirpath, name)
                try:
                    with open(importlib.util.cache_from_source(path), "rb") as f:
                        flags = int.from_bytes(f.read(8)[4:8], "little")
                except OSError:
                    missing.append(path)
                    continue
                if flags != 0b01:
                    other.append(path)
    return {"sources": sources, "missing": missing[:5], "missing_count": len(missing),
            "other": other[:5]}


def cmd_probe(extra):
    """Runs inside the image with the image's python."""
    import importlib.metadata as m
    names = set(PROBE_DISTS) | set(extra)
    versions = {}
    for n in sorted(names):
        try:
            versions[n] = m.version(n)
        except m.PackageNotFoundError:
            versions[n] = None
    # Extension modules' sizes and whether every file still matches RECORD: the image
    # build strips debug information from some and must keep RECORD true.
    native, record_ok = {}, {}
    import base64
    import hashlib
    for n in sorted(names):
        if versions[n] is None:
            continue
        files = m.distribution(n).files or []
        native[n] = sum(f.locate().stat().st_size for f in files if str(f).endswith(".so"))
        record_ok[n] = all(
            base64.urlsafe_b64encode(hashlib.sha256(f.locate().read_bytes()).digest()).rstrip(b"=").decode()
            == f.hash.value for f in files if f.hash)
    try:
        app = sorted(os.listdir("/app"))
    except OSError:
        app = None
    print(json.dumps({
        "versions": versions,
        "native": native,
        "record_ok": record_ok,
        "app": app,
        "app_tree": app_tree("/app"),
        "uid": os.getuid(), "gid": os.getgid(),
        "run_secrets": os.path.exists("/run/secrets/pip_ca"),
        "tmp_fabuild": os.path.exists("/tmp/fabuild"),
        "install_cache": sorted(os.listdir("/root/.cache/fabuild")) if os.path.isdir("/root/.cache/fabuild") else [],
        "python": sys.version.split()[0],
        "bytecode": bytecode(["/opt/venv/lib", "/app"]),
    }))


def canon(n):
    return n.lower().replace("_", "-").replace(".", "-")


def cmd_check_probe(exp_path, probe_path, dockerignore):
    e = load(exp_path)
    with open(probe_path, encoding="utf-8") as f:
        p = json.load(f)
    vers = {canon(k): v for k, v in p["versions"].items() if v is not None}
    c = Checker("image contents")
    for name, want in e["pins"].items():
        got = vers.get(canon(name))
        c.check(got == want, f"{name}=={want} installed", f"got {got!r}")
    for name in e["absent"]:
        got = vers.get(canon(name))
        c.check(got is None, f"{name} absent", f"found {name}=={got}")
    for name, ok in p.get("record_ok", {}).items():
        c.check(ok, f"{name}'s files match its RECORD")
    # Unstripped, uvloop's module is 13.6 MB and httptools' two 1.6 MB.
    for name, limit in (("uvloop", 3_000_000), ("httptools", 600_000)):
        if name in e["pins"]:
            got = p.get("native", {}).get(name)
            c.check(got is not None and got < limit,
                    f"{name}'s extension modules lost their debug information", f"{got} bytes")
    c.check(p["uid"] == e["uid"] and p["gid"] == e["gid"],
            f"default process runs as {e['uid']}:{e['gid']}", f"got {p['uid']}:{p['gid']}")
    c.check(not p["run_secrets"], "no /run/secrets/pip_ca in the image")
    c.check(not p["tmp_fabuild"], "no /tmp/fabuild leftovers in the image")
    c.check(not p.get("install_cache"), "the installer cache mount left nothing in the image",
            f"/root/.cache/fabuild holds {p.get('install_cache')}")
    app = p["app"] or []
    c.check(bool(app), "/app is populated", f"got {app!r}")
    # Compiled at build time, unchecked-hash: no worker compiles a module at boot.
    b = p["bytecode"]
    c.check(b["sources"] > 0 and b["missing_count"] == 0,
            f"every one of {b['sources']} .py in /opt/venv/lib and /app has its .pyc",
            f"{b['missing_count']} without, e.g. {b['missing']}")
    c.check(not b["other"], "every .pyc is unchecked-hash", f"e.g. {b['other']}")
    check_app_tree(c, e, p.get("app_tree") or [])
    # Plain names in .dockerignore (no wildcards, no negation) must not be in /app.
    if dockerignore and os.path.exists(dockerignore):
        with open(dockerignore, encoding="utf-8") as f:
            for line in f:
                pat = line.strip().strip("/")
                while pat.startswith("**/"):
                    pat = pat[3:]
                if not pat or pat.startswith("#") or pat.startswith("!") or any(ch in pat for ch in "*?[/"):
                    continue
                # The context's bytecode is left out; the image compiles its own.
                if pat == "__pycache__":
                    continue
                c.check(pat not in app, f".dockerignore'd {pat!r} not copied into /app")
    c.done()


def check_app_tree(c, e, tree):
    """The app's code is root's: /app itself 0:0 mode 0755 (a builder that creates a
    missing WORKDIR as the current USER gives it to the app user), every file and
    directory in it owned by 0:0, and none writable by the user the image runs as.
    Directories the app writes (app.writable) and what is in them are left out."""
    writable = [w["path"].rstrip("/") for w in e.get("writable") or []]

    def app_writes(path):
        return any(path == w or path.startswith(w + "/") for w in writable)

    root = next((t for t in tree if t["path"] == "/app"), None)
    got = f"{root['uid']}:{root['gid']} mode {root['mode']:04o}" if root else "missing"
    c.check(root is not None and (root["uid"], root["gid"], root["mode"]) == (0, 0, 0o755),
            "/app is 0:0 mode 0755", f"got {got}")
    inside = [t for t in tree if t["path"] != "/app" and not app_writes(t["path"])]

    def show(bad):
        return "; ".join(f"{t['path']} {t['uid']}:{t['gid']} {t['mode']:04o}" for t in bad[:5]) + (
            f" ... and {len(bad) - 5} more" if len(bad) > 5 else "")

    bad = [t for t in inside if (t["uid"], t["gid"]) != (0, 0)]
    c.check(not bad, f"the {len(inside)} entries under /app are owned by 0:0", show(bad))
    bad = [t for t in tree if t["writable"] and not app_writes(t["path"])]
    c.check(not bad, f"{e['uid']}:{e['gid']} can write nothing in /app but app.writable",
            show(bad))


def cmd_check_procs(exp_path, procs_path):
    e = load(exp_path)
    with open(procs_path, encoding="utf-8") as f:
        procs = json.load(f)
    c = Checker("processes")
    for pr in procs:
        ok = all(x == e["uid"] for x in pr["uid"]) and all(x == e["gid"] for x in pr["gid"])
        c.check(ok, f"pid {pr['pid']} ({pr['cmd'][:40]}) runs as {e['uid']}:{e['gid']}",
                f"Uid {pr['uid']} Gid {pr['gid']}")
    one = [pr for pr in procs if pr["pid"] == 1]
    c.check(bool(one) and "gunicorn" in one[0]["cmd"], "PID 1 is gunicorn (exec-form CMD)",
            f"got {one[0]['cmd'] if one else None!r}")
    if e["workers"] is not None:
        n = sum(1 for pr in procs if "gunicorn" in pr["cmd"])
        c.check(n == e["workers"] + 1, f"{e['workers']} workers + 1 master", f"saw {n} gunicorn processes")
    c.done()


# Inside-the-container process lister (passed to `podman exec ... python -c`).
PROCS_SNIPPET = r"""
import json, os
out = []
for d in os.listdir('/proc'):
    if not d.isdigit():
        continue
    try:
        st = open('/proc/%s/status' % d).read().splitlines()
        cmd = open('/proc/%s/cmdline' % d, 'rb').read().replace(b'\0', b' ').decode(errors='replace').strip()
    except OSError:
        continue
    f = dict(l.split(':', 1) for l in st if ':' in l)
    if int(d) == os.getpid():
        continue
    out.append({'pid': int(d), 'cmd': cmd,
                'uid': [int(x) for x in f['Uid'].split()], 'gid': [int(x) for x in f['Gid'].split()]})
print(json.dumps(out))
"""


def main(argv):
    if len(argv) < 2:
        die(__doc__)
    cmd, rest = argv[1], argv[2:]
    if cmd == "load" and len(rest) == 1:
        cmd_load(rest[0])
    elif cmd == "check-config" and len(rest) == 2:
        cmd_check_config(*rest)
    elif cmd == "probe":
        cmd_probe(rest)
    elif cmd == "check-probe" and len(rest) == 3:
        cmd_check_probe(*rest)
    elif cmd == "check-procs" and len(rest) == 2:
        cmd_check_procs(*rest)
    elif cmd == "procs-snippet":
        print(PROCS_SNIPPET)
    elif cmd == "pins" and len(rest) == 1:
        e = load(rest[0])
        print(" ".join(sorted(set(e["pins"]) | set(e["absent"]))))
    else:
        die(f"bad usage: {' '.join(argv[1:])}\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv)
