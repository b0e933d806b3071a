#!/opt/venv/bin/python
# Generated from the cookiecutter template in benches/gen/template. Do not edit.
"""Checks what the container was given at run time, then becomes gunicorn.

The image's PATH finds this file as `gunicorn` first. It fails fast, with one line saying
what is wrong and how to fix it, on what would otherwise fail late or obscurely:

- WEB_CONCURRENCY that is not an integer: gunicorn reads it with int() while importing
  its settings and dies with a traceback before any config is read.
- A TLS key or certificate that is missing, unreadable by this uid, encrypted, or not a
  pair: gunicorn's master only checks that the files exist, and under UvicornWorker each
  worker that cannot read the key dies and is respawned forever while the container
  looks alive and serves nothing.
- A directory the app writes (app.writable) that this uid cannot write: a read-only root
  filesystem without a volume there, or a volume owned by someone else. The app would
  fail on its first write, often inside a request.

Then it execs the real gunicorn with the same arguments, so gunicorn stays PID 1.
"""

import os
import shlex
import ssl
import sys

GUNICORN = "/opt/venv/bin/gunicorn"
GID = {{ cookiecutter.gid }}
{%- if cookiecutter.tls == "yes" %}
TLS_DIR = "{{ cookiecutter.tls_dir }}"
PLANNED = {
    "--certfile": "{{ cookiecutter.tls_dir }}/{{ cookiecutter.certfile }}",
    "--keyfile": "{{ cookiecutter.tls_dir }}/{{ cookiecutter.keyfile }}",
    "--ca-certs": None,
}
{%- else %}
TLS_DIR = None
PLANNED = {"--certfile": None, "--keyfile": None, "--ca-certs": None}
{%- endif %}
WRITABLE = []


def fail(message):
    print(f"fabuild preflight: {message}", file=sys.stderr, flush=True)
    sys.exit(78)  # EX_CONFIG: the container's configuration is wrong, not the code


def tls_files():
    """The files gunicorn will read: the planned ones, unless GUNICORN_CMD_ARGS was
    overridden at run time with other paths."""
    files = dict(PLANNED)
    try:
        argv = shlex.split(os.environ.get("GUNICORN_CMD_ARGS", ""))
    except ValueError as err:
        fail(f"GUNICORN_CMD_ARGS cannot be split the way gunicorn splits it: {err}")
    for i, arg in enumerate(argv):
        for flag in files:
            if arg.startswith(flag + "="):
                files[flag] = arg[len(flag) + 1:]
            elif arg == flag and i + 1 < len(argv):
                files[flag] = argv[i + 1]
    return files


def how_to_mount():
    where = TLS_DIR or "the directory in GUNICORN_CMD_ARGS"
    return (
        f"mount the secret at {where} readable by gid {GID}: in Kubernetes set "
        f"securityContext.fsGroup: {GID} and the secret volume's defaultMode: 0440; "
        f"with docker/podman, chown the files to root:{GID} and chmod 0440"
    )


def check_readable(what, path):
    uid = os.getuid()
    if not os.path.exists(path):
        fail(f"TLS {what} {path} does not exist (uid {uid}); {how_to_mount()}")
    if not os.access(path, os.R_OK):
        st = os.stat(path)
        fail(
            f"TLS {what} {path} is not readable by uid {uid} (gid {os.getgid()}): owner "
            f"{st.st_uid}:{st.st_gid}, mode {st.st_mode & 0o777:04o}; {how_to_mount()}"
        )


def check_pair(certfile, keyfile):
    def encrypted():
        fail(f"TLS key {keyfile} is encrypted; gunicorn has no setting for its password: mount an unencrypted key")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile, keyfile, password=encrypted)
    except ssl.SSLError as err:
        fail(
            f"TLS certificate {certfile} and key {keyfile} cannot be used together "
            f"({err.reason or err}); mount the key that belongs to this certificate"
        )


def check_writable(path):
    uid = os.getuid()
    if not os.path.isdir(path):
        fail(f"{path} (app.writable) does not exist; mount a writable volume there or rebuild the image")
    if not os.access(path, os.W_OK | os.X_OK):
        st = os.stat(path)
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            why = "is on a read-only filesystem"
        else:
            why = (
                f"is not writable by uid {uid} (gid {os.getgid()}): owner "
                f"{st.st_uid}:{st.st_gid}, mode {st.st_mode & 0o777:04o}"
            )
        fail(
            f"{path} (app.writable) {why}; mount a volume there owned by uid {uid} "
            f"(Kubernetes: an emptyDir; docker: --tmpfs {path}:uid={uid},gid={GID},mode=0750; "
            f"podman: --tmpfs {path}:mode=0750,U)"
        )


def main():
    workers = os.environ.get("WEB_CONCURRENCY")
    if workers is not None:
        try:
            int(workers)
        except ValueError:
            fail(
                f"WEB_CONCURRENCY={workers!r} is not an integer and gunicorn would crash "
                "reading it; unset it (the image sets --workers in GUNICORN_CMD_ARGS) or give a whole number"
            )
    files = tls_files()
    certfile, keyfile = files["--certfile"], files["--keyfile"]
    for what, path in (("certificate", certfile), ("key", keyfile), ("CA bundle", files["--ca-certs"])):
        if path:
            check_readable(what, path)
    if certfile and keyfile:
        check_pair(certfile, keyfile)
    for path in WRITABLE:
        check_writable(path)
    os.execv(GUNICORN, [GUNICORN, *sys.argv[1:]])


if __name__ == "__main__":
    main()
