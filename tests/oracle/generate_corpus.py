#!/usr/bin/env python3
"""Writes corpus.txt: the GUNICORN_CMD_ARGS strings fabuild's oracle test checks.

One JSON string per line (so tabs, newlines and odd characters stay visible). The first
part is written by hand, each case a trap people fall into or an argparse corner; the
second is generated from a fixed seed; the third gives every flag of each family of
gunicorn's validators (positive ints, bools, strings, string lists, address lists,
chmod/umask numbers, statsd addresses, enumerations, ...) values its validator accepts
and values it refuses, alone and a few together. Rerunning this script gives the same
file. Run it with any Python 3; it needs no gunicorn.
"""
import json
import pathlib
import random
import shlex

ISSUE = [
    "--bind=0.0.0.0:8443",
    "--bind=0.0.0.0:8443 --workers=3 --worker-class uvicorn.workers.UvicornWorker "
    "--keyfile=/opt/key/abc-key.pem --certfile=/opt/key/abc-cert.pem",
    "--bind=0.0.0.0:8443 --workers=3 --worker-class uvicorn.workers.UvicornWorker "
    "--keyfile=/opt/key/abc-key.pem --certfile=/opt/key/abc-cert.pem "
    "--ssl-version=2 --timeout 120 --max-requests 1000 --access-logfile -",
]

HAND = ISSUE + [
    "",
    "   ",
    "\t\n",
    # quoting and escapes
    "--access-logformat '%(h)s %(r)s'",
    '--access-logformat "%(h)s \\"%(r)s\\" %(s)s"',
    "--name 'it'\\''s'",
    '--name "a\\$b"',
    '--name "a\\\\b"',
    '--name "a\\nb"',
    "--name a\\ b",
    "--name a\\\nb",
    "--name 'unterminated",
    '--name "unterminated',
    "--name trailing\\",
    '--name ""',
    "--name ''",
    "--name ''''",
    "--name a'b'\"c\"d",
    "--name #notacomment",
    "--name a#b",
    "--name a\x0bb",
    "--name \u00a0x",
    "--name 'tab\there'",
    "-n 名字",
    "--name ünïcödé --bind=[::1]:8000",
    "--chdir /srv/app --pythonpath '/a b,/c'",
    # abbreviations
    "--timeo 5",
    "--timeout=5 --grace 10",
    "--work 4",
    "--worke=4",
    "--workers-class sync",
    "--worker-c sync",
    "--worker-cl sync",
    "--keep 5",
    "--keep-alive 75",
    "--max-r 100",
    "--max-requests-j 10",
    "--acc -",
    "--access-logf -",
    "--access-log -",
    "--log-l debug",
    "--log-level=debug --log-c x",
    "--pre",
    "--preload",
    "--b 0.0.0.0:80",
    "--bi 0.0.0.0:80",
    "--h",
    "--he",
    "--hel",
    "--help",
    "-h",
    "--v",
    "--ver",
    "--version",
    "-v",
    "--no-s",
    "--no-c",
    "--ssl 2",
    "--ssl-v 2",
    "--cert x",
    "--certf x",
    "--forw '*'",
    "--=3",
    "--=",
    "---workers 3",
    "--limit-request-field-size 100",
    "--limit-request-field_size 100",
    "--limit-request-fie 100",
    # flags with values
    "--preload=true",
    "--preload=",
    "--preload true",
    "--preload true --workers 2 app:app",
    "--daemon=1",
    "-D",
    "-D=",
    "-DR",
    "-DRw3",
    "-Dw 3",
    "-Dx",
    "-Dv",
    "-hD",
    "-R",
    "--reload --reload-extra-file a --reload-extra-file=b",
    "--no-sendfile",
    "--no-sendfile=yes",
    "--no-control-socket",
    "--check-config --print-config",
    "--suppress-ragged-eofs",
    # short options with attached values
    "-w3",
    "-w 3",
    "-w=3",
    "-w=",
    "-w",
    "-b0.0.0.0:80",
    "-b=0.0.0.0:80",
    "-b 0.0.0.0:80 -b [::]:80 --bind unix:/tmp/s",
    "-kuvicorn_worker.UvicornWorker",
    "-k uvicorn.workers.UvicornWorker",
    "-t120",
    "-t 1_000",
    "-eFOO=bar -e BAZ=qux --env=A=B",
    "-m 022",
    "-m 0o22",
    "-m 0x12",
    "-m 08",
    "-m 18",
    "-m ' 010'",
    "--umask=0",
    "--control-socket-mode 0600",
    "-x",
    "-x3",
    "-1",
    "-w-1",
    # values that look like options, negative numbers
    "--workers -1",
    "--max-requests -5",
    "--max-requests -5.5",
    "--max-requests -.5",
    "--timeout -0",
    "--name -x",
    "--name '-x y'",
    "--name -",
    "--access-logfile -",
    "--access-logfile --workers 2",
    "--workers --timeout 3",
    "--workers",
    "--bind",
    "--workers ' 3 '",
    "--workers +3",
    "--workers 3.0",
    "--workers three",
    "--workers ''",
    "--workers 0x10",
    "--workers 007",
    "--workers 1__0",
    "--workers \uff13",
    "--workers \u0663\u0660",
    "--workers 123456789012345678901234567890",
    "--workers=3 --workers=5",
    "--workers -\u0663",
    "--bind=--",
    "--workers=--",
    "--proxy-protocol=--",
    # optional value
    "--proxy-protocol",
    "--proxy-protocol v2",
    "--proxy-protocol=v1",
    "--proxy-protocol=",
    "--proxy-protocol app:app",
    "--proxy-protocol --workers 2",
    "--proxy-protocol -- app:app",
    # positionals and --
    "app:app",
    "app:app --workers 2",
    "--workers 2 app:app",
    "app:app --workers 2 other:app",
    "a b c --workers 2",
    "--",
    "-- --workers 3",
    "--workers 3 -- app:app",
    "--workers 3 -- app:app -- x",
    "x --workers 3 -- y",
    "--workers -- 3",
    "-",
    "- --workers 2",
    # unknown and removed flags
    "--bogus",
    "--bogus=1 --workers 2",
    "--workers 2 --bogus",
    "--debug",
    "--settings mysite.settings",
    "--log-config-dict {}",
    "--tolerate-dangerous-framing",
    "--sendfile",
    "--worker_class sync",
    "--Workers 2",
    "-W 2",
    "--workers=2 --bogus --help",
    "--help --work 2",
    "--workers x --help",
    "--help --workers",
    # realistic lines
    "--bind=0.0.0.0:8000 --workers=4 --worker-class=uvicorn_worker.UvicornWorker --access-logfile=- --forwarded-allow-ips=10.0.0.0/8",
    "--bind 127.0.0.1:8000 --workers 2 --daemon --reload",
    "--forwarded-allow-ips='*' --keep-alive=5",
    "--forwarded-allow-ips 192.168.1.1/24,10.0.0.0/8",
    "-k eventlet -w 4",
    "--worker-tmp-dir /dev/shm --no-control-socket --bind :8443",
    "--keyfile /k.pem",
    "--certfile /c.pem --ssl-version TLSv1_2",
    "--ssl-version=5 --ciphers 'ECDHE+AESGCM:!aNULL'",
    "--statsd-host=localhost:8125 --dogstatsd-tags 'a:b,c:d'",
    "--http-protocols h1,h2 --http2-max-concurrent-streams 0",
    "--dirty-app a:b --dirty-app=c:d --dirty-workers 2",
    "-c gunicorn.conf.py",
    "--config=/etc/gunicorn.py --bind 0.0.0.0:80",
    "--paste development.ini --paster x",
    "--log-file - --error-logfile=/dev/stderr",
]

FLAGS = [
    ("--workers", "int"), ("-w", "int"), ("--timeout", "int"), ("-t", "int"),
    ("--keep-alive", "int"), ("--max-requests", "int"), ("--threads", "int"),
    ("--bind", "str"), ("-b", "str"), ("--worker-class", "str"), ("-k", "str"),
    ("--access-logfile", "str"), ("--forwarded-allow-ips", "str"), ("--name", "str"),
    ("--umask", "auto"), ("--proxy-protocol", "opt"), ("--preload", "flag"),
    ("--daemon", "flag"), ("-D", "flag"), ("--reload", "flag"), ("--no-sendfile", "flag"),
    ("--env", "str"), ("-e", "str"), ("--ssl-version", "str"), ("--keyfile", "str"),
]
VALUES = {
    "int": ["3", "0", "-1", "10", " 4", "1_0", "x", "", "-", "2.5", "+7", "0x1"],
    "str": ["0.0.0.0:8000", "-", "a b", "*", "/tmp/x", "--", "-q", "v2", "é", "a=b", "''"],
    "auto": ["022", "0o7", "7", "09", "0x1f", "-1"],
    "opt": ["v1", "auto", "-", "--"],
}


def quote(word, rng):
    style = rng.randrange(6)
    if style == 0:
        return "'" + word.replace("'", "'\\''") + "'"
    if style == 1:
        return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if style == 2:
        return "".join("\\" + c if c in " '\"\\" else c for c in word) or "''"
    return word if word and not any(c in word for c in " '\"\\") else "'" + word.replace("'", "'\\''") + "'"


def option(flag, rng):
    if flag.startswith("--") and rng.random() < 0.25:
        return flag[: rng.randrange(3, len(flag) + 1)]
    return flag


def case(rng):
    words = []
    for _ in range(rng.randrange(1, 6)):
        r = rng.random()
        if r < 0.08:
            words.append(rng.choice(["app:app", "--", "-x", "--bogus", "-", "main:create_app()"]))
            continue
        flag, kind = rng.choice(FLAGS)
        spelled = option(flag, rng)
        if kind == "flag":
            words.append(spelled + ("=1" if rng.random() < 0.1 else ""))
            continue
        if kind == "opt" and rng.random() < 0.4:
            words.append(spelled)
            continue
        value = rng.choice(VALUES.get(kind, VALUES["str"]))
        form = rng.randrange(3)
        if form == 0 and spelled.startswith("--"):
            words.append(spelled + "=" + quote(value, rng))
        elif form == 1 and len(spelled) == 2 and value:
            words.append(spelled + quote(value, rng))
        else:
            words.append(spelled)
            words.append(quote(value, rng))
    if rng.random() < 0.05:
        words.append(rng.choice(["'", '"', "\\"]))
    return " ".join(words)


POS_INT_FLAGS = [
    "--backlog", "--workers", "--threads", "--worker-connections", "--max-requests",
    "--max-requests-jitter", "--timeout", "--graceful-timeout", "--keep-alive",
    "--limit-request-line", "--limit-request-fields", "--limit-request-field_size",
    "--http2-max-header-list-size", "--asgi-disconnect-grace-period",
    "--websocket-max-message-size", "--dirty-workers", "--dirty-timeout", "--dirty-threads",
    "--dirty-graceful-timeout",
]
POS_INTS = ["0", "1", "-1", "-5", "-0", "+3", "1_000", "99999999999999999999999999",
            "-99999999999999999999999999", " 7 ", "\uff13", "-\uff13", "0x10"]
STRING_FLAGS = [
    "--name", "--log-level", "--pid", "--worker-tmp-dir", "--access-logfile",
    "--access-logformat", "--error-logfile", "--log-config", "--log-config-json",
    "--log-syslog-to", "--log-syslog-prefix", "--log-syslog-facility", "--dogstatsd-tags",
    "--statsd-prefix", "--pythonpath", "--paste", "--protocol", "--keyfile", "--certfile",
    "--ca-certs", "--ciphers", "--root-path", "--control-socket", "--config",
]
ADDR_LISTS = ["*", "10.0.0.0/8", "10.0.0.1/8", "127.0.0.1,::1", "::1/128", "fe80::/10",
              "fe80::1/10", "::ffff:1.2.3.4/96", "01.2.3.4", "1.2.3.4/33",
              "10.0.0.0/255.0.0.0", "10.0.0.1/0.0.0.255", "a,b", " 10.0.0.1 , 10.0.0.2 ",
              "1.2.3.4, ", ",", "example.com", "1:2:3:4:5:6:7:8/64", "1:0:0:2:0:0:0:3/64",
              "1::2::3", "fe80::1%eth0/64", "10.0.0.0/ 8", "*,1.2.3.4/24", "--"]
# (flags, values): each flag gets each value, as `--flag=VALUE`.
VALIDATED = [
    (POS_INT_FLAGS, POS_INTS),
    (["--umask", "--control-socket-mode"],
     ["0", "022", "0o22", "0x1f", "18", "-1", "-0o7", "0b101", "-0x10", "08", "--"]),
    (["--cert-reqs"], ["0", "2", "-1", "010", "0x2", " 2 ", "1_0", "abc", "", "+1", "0o7",
                       "-0", "--"]),
    (["--http2-max-concurrent-streams"], ["0", "1", "100", "-1", "--"]),
    (["--http2-initial-window-size"], ["0", "65535", "2147483647", "2147483648", "-1",
                                       "99999999999999999999999"]),
    (["--http2-max-frame-size"], ["0", "16383", "16384", "16777215", "16777216", "-1",
                                  "-99999999999999999999", "--"]),
    (STRING_FLAGS, [" x ", "x", "", "\t y\n", "a b", "--"]),
    (["--worker-class", "--logger-class"], ["sync", " gthread ", "my.mod.Class", "", "--"]),
    (["--bind", "--env", "--paste-global", "--dirty-app"],
     ["0.0.0.0:8000", " a=b ", "", "--"]),
    (["--reload-extra-file"], ["*.py", "conf/*.yaml", "[ab].txt", "/nonexistent/file",
                               "/etc/hostname", "--"]),
    (["--forwarder-headers"], ["SCRIPT_NAME,PATH_INFO", " a , b ", "a,,b", ", ", "", "--"]),
    (["--forwarded-allow-ips", "--proxy-allow-from", "--uwsgi-allow-from"], ADDR_LISTS),
    (["--chdir"], ["/", "/tmp", "/nonexistent", " /tmp ", "--"]),
    (["--user", "--group"], ["0", "1000", "nobody", "-1", "nosuchname", " 1000", "",
                             "\uff11\uff12", "--"]),
    (["--statsd-host"], ["localhost:8125", "localhost", "LOCALHOST:1", "unix:5", "unix:/tmp/s",
                         "unix:///tmp/s", "unix:a/unix:b", "fd://3", "fd://x", "tcp://a:1",
                         "tcp://a:1tcp://b", "[::1]:8125", "[::1]", "x:y", "x:-5", ":", "",
                         " host:9 ", "a:b:c", "--"]),
    (["--reload-engine"], ["auto", "poll", "inotify", " poll", "POLL", "fast", "", "--"]),
    (["--ssl-version"], ["2", "TLSv1_2", " x ", "--"]),
    (["--proxy-protocol"], ["v1", "V2", " off ", "true", "1", "0", "none", "v3", ""]),
    (["--http-protocols"], ["h1", "h2", "h1,h2", "H1", "h1,h1", " h1 , ", "h3", "", "h1,h3",
                            ",", "--"]),
    (["--http2-cleartext"], ["off", "both", "UPGRADE", " prior-knowledge ", "on", "", "--"]),
    (["--header-map"], ["drop", "Refuse", " dangerous ", "keep", "", "--"]),
    (["--asgi-loop"], ["auto", "asyncio", "UVLOOP", "trio", "", "--"]),
    (["--asgi-lifespan"], ["auto", "on", "OFF", "maybe", "--"]),
    (["--http-parser"], ["auto", "fast", "python", "C", "--"]),
]
# Flags (validate_bool): argparse stores True, or refuses a value; callables have no flag.
VALIDATED_HAND = [
    "--preload", "--reload --spew --no-sendfile", "--preload=true", "--reuse-port=1",
    "--capture-output=True", "--initgroups --strip-header-spaces --casefold-http-method",
    "--on-starting=hooks.on_starting", "--post-request=hooks.post_request",
    "--ssl-context=hooks.context", "--timeout=-2 --workers=-1",
    "--reload-engine=x --backlog=-1", "--umask=-1 --chdir=/nonexistent",
    "--http-protocols=h2 --backlog=-1", "--workers=-1 --workers=2", "--workers=2 --workers=-1",
    "--bind=-- --bind=0.0.0.0:8000",
    # Python converts at most 4300 decimal digits between int and str; hex has no limit.
    "--workers=" + "1" * 4301, "--workers=" + "1" * 4300, "--cert-reqs=" + "1" * 4301,
    "--umask=0x" + "f" * 3600, "--umask=-0x" + "f" * 3600, "--umask=-0x" + "f" * 3000,
    "--http2-max-frame-size=0x" + "f" * 3600,
]


def validated_cases():
    cases = list(VALIDATED_HAND)
    singles = []
    for flags, values in VALIDATED:
        for flag in flags:
            for value in values:
                singles.append(flag + "=" + (value if value == "--" else shlex.quote(value)))
    cases += singles
    rng = random.Random(2701)
    for _ in range(120):
        cases.append(" ".join(rng.sample(singles, rng.randrange(2, 4))))
    return cases


def main():
    rng = random.Random(27_0_1)
    generated = []
    seen = set(HAND)
    while len(generated) < 220:
        text = case(rng)
        if text not in seen:
            seen.add(text)
            generated.append(text)
    lines = ["# GUNICORN_CMD_ARGS values, one JSON string per line; written by generate_corpus.py",
             "# hand-written"]
    lines += [json.dumps(t, ensure_ascii=False) for t in HAND]
    lines += ["# generated (seed 2701)"]
    lines += [json.dumps(t, ensure_ascii=False) for t in generated]
    lines += ["# validators: each family's accepted and refused values"]
    lines += [json.dumps(t, ensure_ascii=False) for t in validated_cases() if t not in seen]
    path = pathlib.Path(__file__).with_name("corpus.txt")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
