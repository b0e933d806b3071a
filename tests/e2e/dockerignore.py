#!/usr/bin/env python3
"""`.dockerignore` against a real engine: for each case, buildah builds a context with a
Dockerfile `FROM scratch` / `COPY . /ctx`, and `fabuild build` builds the same context;
the paths buildah copied must be the paths in fabuild's app layer.

Usage: python3 tests/e2e/dockerignore.py FABUILD_BIN
Needs root, buildah and pip (fabuild build downloads the pinned gunicorn wheel once).
Standard library only. Storage is private to a temp dir: nothing global changes.

Where buildah 1.28 differs from Docker (it still uses moby's deprecated `Matches`, which
tests only one parent directory, and skips an excluded directory unless a `!` pattern
names it literally), fabuild follows Docker; those cases are listed in KNOWN apart,
each with what buildah does, so a change in either side shows.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

SPEC = """version: 1
name: ignore-e2e
app:
  module: wsgi:app
  interface: wsgi
python:
  version: "3.11"
server:
  port: 8000
"""

# The context every case starts from: files (content = name), directories, one symlink.
FILES = [
    "app.yaml", "wsgi.py", "secret.txt", "README.md", "NOTES.md", "b.txt", "c.txt",
    "!.txt", "^x", "x", "a.b", "axb", "xfoo", "foobar", "spaced.txt", "#hash",
    "key.pem", "certs/key.pem", "certs/cert.crt", "x2/keep.txt", "x2/drop.txt",
    "docs/a.md", "docs/keep.md", "docs/sub/b.md", "docs/sub/keep.md",
    "a/b/foo/c.txt", "a/b/d.txt", "a/foo", "foo/bar.txt", "foo/sub/deep.txt",
    "pkg/__init__.py", "pkg/m.pyc", "pkg/__pycache__/m.cpython-311.pyc",
    ".env", "sub/.env.local", "sub/.envrc", "a" * 40, "a" * 40 + "b",
    "dir with space/f.txt", "ab", "a/x/b",
    # Repository clutter the file gen writes leaves out.
    ".github/workflows/ci.yml", "tests/test_app.py", "compose.yaml", "Containerfile",
    ".vscode/settings.json",
]
DIRS = ["emptydir", "docs/emptydir"]
# The top-level names of that clutter (and `docs`): never in /app with gen's own file.
CLUTTER_TOPS = {".github", "tests", "docs", "compose.yaml", "Containerfile", ".vscode"}
LINKS = {"link": "wsgi.py"}

# (name, .dockerignore text). Each is also a regression case for fabuild's matcher.
CASES = [
    ("dotdot-cleaned", "x/../secret.txt\n"),
    ("dotdot-outside", "../secret.txt\n/../README.md\n"),
    ("keys", "**/*.pem\n**/*.crt\n"),
    ("markdown-but-readme", "*.md\n!README.md\n"),
    ("nested-markdown", "**/*.md\n!**/keep.md\n"),
    ("dir-then-literal-exception", "docs\n!docs/keep.md\n"),
    ("dir-then-glob-exception", "docs\n!docs/sub/*.md\n"),
    ("glob-then-parent-exception", "docs/*\n!docs/sub\n"),
    ("suffix-quirk", "**foo\n"),
    ("suffix-dir", "**/foo\n"),
    ("prefix-quirk", "foo**\n"),
    ("prefix-dir-keeps-dir", "foo/**\n"),
    ("double-star-in-name", "a**b\n"),
    ("double-star-middle", "a/**/c.txt\n"),
    ("bang-class-is-a-member", "[!b].txt\n"),
    ("caret-class-negates", "[^b].txt\n"),
    ("caret-outside-anchors", "*^x\n"),
    ("caret-literal-when-exact", "^x\n"),
    ("regex-chars-literal", "a.b*\n"),
    ("question", "?.txt\n???\n"),
    ("star-stops-at-slash", "*/keep.txt\n*/b\n"),
    ("parent-dir-pattern", "a/b\n"),
    ("star-then-exceptions", "*\n!wsgi.py\n!app.yaml\n!docs\n"),
    ("bytecode", "**/__pycache__\n**/*.py[cod]\n"),
    ("env-files", "**/.env\n**/.env.*\n"),
    ("symlink-and-empty-dirs", "link\nemptydir\n"),
    ("comments-and-spaces", "# comment\n  spaced.txt  \n \t\n\\#hash\n"),
    ("leading-slash", "/docs\n/sub/.envrc\n"),
    ("space-in-name", "dir with space\n"),
    ("pathological", "*a*a*a*a*a*a*a*a*a*a*a*a*b\n"),
    ("escaped-star", "\\*\n"),
    ("range", "[a-c].txt\n"),
    ("exception-reincludes-children", "a/b\n!a\n"),
    ("gen-default",
     "**/*.pem\n**/*.key\n**/*.crt\n**/.env\n**/.env.*\n.git\n**/__pycache__\n**/*.py[cod]\n"),
    # None: the .dockerignore `fabuild gen` writes for SPEC, whole.
    ("gen-file", None),
]

# Cases where buildah 1.28 is not Docker: what buildah copies beyond (+) or short of (-)
# Docker's answer, which fabuild gives. buildah 1.28 reads the file with imagebuilder (no
# Clean before dropping a leading `/`) and matches with an older copy of moby's matcher
# that turns every pattern into a regular expression; today's moby compares plain text
# for patterns without wildcards, and tests a leading `**` plus text as a suffix.
KNOWN = {
    # Docker: `/../README.md` is cleaned to `/README.md`, then `README.md`.
    "dotdot-outside": {"+": ["README.md"]},
    # Docker: `**foo` is "ends with foo".
    "suffix-quirk": {"+": ["xfoo"]},
    # Docker: `^x`, without a wildcard, is the name `^x`; buildah's regex anchors.
    "caret-literal-when-exact": {"+": ["^x"], "-": ["x"]},
}

# Both must refuse these (Docker and buildah fail the build).
REFUSED = [("bare-bang", "*.md\n!\n")]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


FAB = None  # the fabuild binary, set by main


def make_context(root, ignore):
    os.makedirs(root)
    for name in FILES:
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(SPEC if name == "app.yaml" else name + "\n")
    for d in DIRS:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for name, target in LINKS.items():
        os.symlink(target, os.path.join(root, name))
    if ignore is None:
        subprocess.run([FAB, "gen", "app.yaml"], cwd=root, check=True, capture_output=True)
        return
    with open(os.path.join(root, ".dockerignore"), "w") as f:
        f.write(ignore)


def blob(layout, data, media):
    digest = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(layout, "blobs/sha256"), exist_ok=True)
    with open(os.path.join(layout, "blobs/sha256", digest), "wb") as f:
        f.write(data)
    return {"mediaType": media, "digest": "sha256:" + digest, "size": len(data)}


def make_base(layout):
    """A one-layer linux/amd64 base with account files and a stand-in python3.11."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for d in ["etc", "usr", "usr/bin"]:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, text in [("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
                           ("etc/group", "root:x:0:\n"),
                           ("usr/bin/python3.11", "not really python\n")]:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    layer = blob(layout, gzip.compress(raw.getvalue(), mtime=0),
                 "application/vnd.oci.image.layer.v1.tar+gzip")
    config = blob(layout, json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["python3"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = blob(layout, json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": [layer],
    }).encode(), "application/vnd.oci.image.manifest.v1+json")
    manifest["platform"] = {"architecture": "amd64", "os": "linux"}
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [manifest]}, f)


def fabuild_paths(fab, ctx, work, name):
    """The app layer of `fabuild build`: paths under /app, or the error."""
    out = os.path.join(work, "out-" + name)
    proc = subprocess.run(
        [fab, "build", "app.yaml", "--base", os.path.join(work, "base"), "--out", out,
         "--cache-dir", os.path.join(work, "cache")],
        cwd=ctx, capture_output=True, text=True, env={**os.environ, "SOURCE_DATE_EPOCH": "0"})
    if proc.returncode != 0:
        return None, proc.stderr.strip()
    index = json.load(open(os.path.join(out, "index.json")))
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.load(open(os.path.join(out, "blobs/sha256", digest)))
    app = manifest["layers"][-1]["digest"].split(":")[1]
    paths = set()
    with tarfile.open(os.path.join(out, "blobs/sha256", app)) as tar:
        for member in tar.getmembers():
            name = member.name.rstrip("/")
            if name.startswith("app/"):
                paths.add(name[len("app/"):])
    shutil.rmtree(out)
    return paths, None


def buildah_paths(ctx, work, name, env):
    """What `COPY . /ctx` copied, in a buildah build of `ctx`: paths under /ctx."""
    dockerfile = os.path.join(work, "Dockerfile")
    tag = "localhost/fabuild-ignore-e2e/" + name
    proc = subprocess.run(
        ["buildah", "build", "--quiet", "--isolation=chroot", "--pull=never",
         "-f", dockerfile, "-t", tag, ctx], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return None, proc.stderr.strip()
    ctr = run(["buildah", "from", "--pull=never", tag], env=env).stdout.strip()
    try:
        mnt = run(["buildah", "mount", ctr], env=env).stdout.strip()
        top = os.path.join(mnt, "ctx")
        paths = set()
        for dirpath, dirnames, filenames in os.walk(top):
            for entry in dirnames + filenames:
                paths.add(os.path.relpath(os.path.join(dirpath, entry), top))
        return paths, None
    finally:
        subprocess.run(["buildah", "rm", ctr], capture_output=True, env=env)
        subprocess.run(["buildah", "rmi", "-f", tag], capture_output=True, env=env)


def main():
    global FAB
    fab = FAB = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="fabuild-e2e-ignore.")
    storage = os.path.join(work, "storage.conf")
    with open(storage, "w") as f:
        f.write(f'[storage]\ndriver = "vfs"\ngraphroot = "{work}/graph"\nrunroot = "{work}/run"\n')
    env = {**os.environ, "CONTAINERS_STORAGE_CONF": storage}
    with open(os.path.join(work, "Dockerfile"), "w") as f:
        f.write("FROM scratch\nCOPY . /ctx\n")
    failures = []
    try:
        make_base(os.path.join(work, "base"))
        for name, ignore in CASES + REFUSED:
            ctx = os.path.join(work, "ctx", name)
            make_context(ctx, ignore)
            theirs, their_error = buildah_paths(ctx, work, name, env)
            ours, our_error = fabuild_paths(fab, ctx, work, name)
            if (name, ignore) in REFUSED:
                ok = theirs is None and ours is None
                print(f"{'ok  ' if ok else 'FAIL'} {name}: both refuse"
                      + ("" if ok else f" (buildah: {their_error or 'copied'}; fabuild: {our_error or 'built'})"))
                if not ok:
                    failures.append(name)
                continue
            if theirs is None or ours is None:
                print(f"FAIL {name}: buildah: {their_error}; fabuild: {our_error}")
                failures.append(name)
                continue
            clutter = {p for p in ours | theirs if p.split("/")[0] in CLUTTER_TOPS}
            if ignore is None and clutter:
                print(f"FAIL {name}: repository clutter copied: {sorted(clutter)}")
                failures.append(name)
                continue
            known = KNOWN.get(name, {})
            expected = (ours | set(known.get("+", []))) - set(known.get("-", []))
            if theirs == expected:
                note = f" (buildah differs from Docker as known: {known})" if known else ""
                print(f"ok   {name}: {len(ours)} paths{note}")
            else:
                print(f"FAIL {name}\n  only buildah: {sorted(theirs - expected)}"
                      f"\n  only fabuild: {sorted(expected - theirs)}")
                failures.append(name)
    finally:
        subprocess.run(["buildah", "rm", "--all"], capture_output=True, env=env)
        subprocess.run(["buildah", "rmi", "--all", "-f"], capture_output=True, env=env)
        subprocess.run(["umount", "-R", os.path.join(work, "graph")], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    total = len(CASES) + len(REFUSED)
    print(f"{total - len(failures)} of {total} .dockerignore cases agree with buildah")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
