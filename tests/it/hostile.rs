//! Hostile input: every bad spec in the committed corpus, plus inputs too large or too
//! binary to commit, gets a clear error within bounded time and memory, never a panic,
//! and `gen` writes nothing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::util;

/// Address space allowed to one fabuild run: a spec reader has no business near this.
const MEMORY_LIMIT: &str = "--as=1073741824";
/// CPU time allowed to one fabuild run (the kernel stops it past this): a bound on the
/// work it does, which a loaded machine does not stretch as it stretches wall time.
const CPU_LIMIT: &str = "--cpu=10";
/// Wall time after which a run is killed: a guard against one that waits forever (on a
/// FIFO, a lock) without using CPU.
const HANG_LIMIT: Duration = Duration::from_secs(120);

/// Runs `fabuild ARGS` in `dir` under the memory and CPU limits, timing it; killed after
/// `HANG_LIMIT`, so a run that would wait forever fails the test instead of hanging it.
fn bounded(dir: &Path, args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let output = Command::new("timeout")
        .args(["-s", "KILL"])
        .arg(HANG_LIMIT.as_secs().to_string())
        .arg("prlimit")
        .arg(MEMORY_LIMIT)
        .arg(CPU_LIMIT)
        .arg(env!("CARGO_BIN_EXE_fabuild"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (output, start.elapsed())
}

/// The run ended by itself: not stopped past its CPU limit, nor killed as hung.
fn assert_bounded(out: &Output, took: Duration, what: &str) {
    assert!(
        out.status.code().is_some(),
        "{what}: killed ({}) after {took:?} of wall time: past {CPU_LIMIT} of CPU, or hung",
        out.status
    );
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all: Vec<_> = walk(dir)
        .into_iter()
        .map(|p| {
            let bytes = if p.is_file() {
                fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            (p, bytes)
        })
        .collect();
    all.sort();
    all
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

/// `gen` on `spec_bytes` in a fresh project: refused with `code`, quickly, with a message
/// naming the file, and nothing written.
fn refused(spec_bytes: &[u8], extra: &[&str], code: i32) -> String {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("app.yaml"), spec_bytes).unwrap();
    let before = files(dir.path());
    let mut args = vec!["gen", "app.yaml"];
    args.extend_from_slice(extra);
    let (out, took) = bounded(dir.path(), &args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_bounded(&out, took, "");
    assert_ne!(out.status.code(), Some(101), "panicked:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(
        !stderr.is_empty() && stderr.contains("error"),
        "no error message"
    );
    assert_eq!(
        before,
        files(dir.path()),
        "a refused run changed the project"
    );
    stderr
}

fn good_spec() -> String {
    fs::read_to_string(util::repo().join("tests/cmd/check.in/good.yaml")).unwrap()
}

/// Every committed bad spec, run through `gen` (the transcripts cover `check`'s exact
/// output): refused, in bounded time and memory, nothing written.
#[test]
fn the_committed_corpus_is_refused_by_gen_without_writing() {
    let mut seen = 0;
    for corpus in ["tests/cmd/check.in", "tests/cmd/hostile.in"] {
        for entry in fs::read_dir(util::repo().join(corpus)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.extension().is_none_or(|e| e != "yaml")
                || name == "good.yaml"
                || name == "no-digest.yaml"
            {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            fs::copy(&path, dir.path().join("app.yaml")).unwrap();
            // The corpus's neighbours (a link out of the project, a directory).
            std::os::unix::fs::symlink("/etc/hostname", dir.path().join("outside-link.txt"))
                .unwrap();
            fs::create_dir(dir.path().join("somedir")).unwrap();
            let before = files(dir.path());
            let (out, took) = bounded(dir.path(), &["gen", "app.yaml"]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_bounded(&out, took, &name);
            assert!(
                matches!(out.status.code(), Some(1 | 2)),
                "{name}: exit {:?}\n{stderr}",
                out.status.code()
            );
            assert!(stderr.contains("error"), "{name}: no error message");
            assert_eq!(
                before,
                files(dir.path()),
                "{name}: gen wrote into the project"
            );
            seen += 1;
        }
    }
    assert!(seen >= 70, "the bad-input corpus shrank to {seen}");
}

#[test]
fn a_100_mb_spec_is_refused_before_it_is_read() {
    let mut big = good_spec().into_bytes();
    big.extend(std::iter::repeat_n(b'#', 100 * 1024 * 1024));
    let stderr = refused(&big, &[], 2);
    assert!(
        stderr.contains("app.yaml is larger than 1048576 bytes"),
        "{stderr}"
    );
}

#[test]
fn binary_input_is_refused_with_its_position() {
    let stderr = refused(b"version: 1\nname: \xff\xfe\x00\x01", &[], 2);
    assert!(
        stderr.contains("app.yaml:2:7: app.yaml must be UTF-8 text"),
        "{stderr}"
    );
    let stderr = refused(b"version: 1\x00\nname: x\n", &[], 2);
    assert!(stderr.contains("error[FAB001]"), "{stderr}");
}

#[test]
fn deep_nesting_and_alias_bombs_stay_bounded() {
    let deep = format!(
        "{}labels: {}{}\n",
        good_spec(),
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    refused(deep.as_bytes(), &[], 1);
    let mut bomb = String::from("labels:\n  a: &a \"lol\"\n");
    let mut prev = "a".to_owned();
    for level in 0..12 {
        let name = format!("l{level}");
        bomb.push_str(&format!(
            "  {name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 10].join(", ")
        ));
        prev = name;
    }
    let spec = format!("{}{bomb}", good_spec());
    let stderr = refused(spec.as_bytes(), &[], 1);
    assert!(stderr.contains("error[FAB003]"), "{stderr}");
}

#[test]
fn an_output_directory_outside_the_project_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let link_target = outside.path().to_str().unwrap().to_owned();
    for out in [
        "../elsewhere",
        "/tmp/fabuild-absolute-out",
        "link-out",
        "link-out/sub",
    ] {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("app.yaml"), good_spec()).unwrap();
        std::os::unix::fs::symlink(&link_target, dir.path().join("link-out")).unwrap();
        let (output, _) = bounded(dir.path(), &["gen", "app.yaml", "--out", out]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "--out {out}: {stderr}");
        assert!(
            stderr.contains("is outside the project"),
            "--out {out}: {stderr}"
        );
        assert!(
            fs::read_dir(outside.path()).unwrap().next().is_none(),
            "--out {out} wrote outside the project"
        );
    }
    assert!(!Path::new("/tmp/fabuild-absolute-out").exists());
}

#[test]
fn bad_template_directories_are_errors_not_silent_fallbacks() {
    let dir = tempfile::tempdir().unwrap();
    let spec = good_spec();
    // A mistyped directory.
    let stderr = refused(spec.as_bytes(), &["--templates", "no-such-dir"], 2);
    assert!(
        stderr.contains("no-such-dir") && stderr.contains("no such directory"),
        "{stderr}"
    );
    // Where a template should be: a FIFO (opening it would wait forever), a link to an
    // endless device, a (sparse) terabyte file.
    for (dir_name, want) in [
        ("tpl-fifo", "tpl-fifo/Dockerfile.j2: is not a regular file"),
        ("tpl-zero", "tpl-zero/Dockerfile.j2: is not a regular file"),
        ("tpl-huge", "tpl-huge/Dockerfile.j2: is larger than 1 MiB"),
    ] {
        let tpl = dir.path().join(dir_name);
        fs::create_dir_all(&tpl).unwrap();
        let template = tpl.join("Dockerfile.j2");
        match dir_name {
            "tpl-fifo" => assert!(
                Command::new("mkfifo")
                    .arg(&template)
                    .status()
                    .unwrap()
                    .success()
            ),
            "tpl-zero" => std::os::unix::fs::symlink("/dev/zero", &template).unwrap(),
            _ => fs::File::create(&template)
                .unwrap()
                .set_len(1 << 40)
                .unwrap(),
        }
        let tpl_arg = tpl.to_str().unwrap().to_owned();
        let stderr = refused(spec.as_bytes(), &["--templates", &tpl_arg], 2);
        assert!(stderr.contains(want), "{want}: {stderr}");
    }
    // A dangling link where a template should be; a template that errors; one that loops.
    for (name, body, want) in [
        ("Dockerfile.j2", None, "Dockerfile.j2"),
        (
            "dockerignore.j2",
            Some("{{ plan.missing.deeper }}"),
            "template dockerignore.j2:1",
        ),
        (
            "dockerignore.j2",
            Some("{% for i in range(1000000000) %}x{% endfor %}"),
            "dockerignore.j2",
        ),
        (
            "dockerignore.j2",
            Some("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"),
            "dockerignore.j2",
        ),
    ] {
        let tpl = dir
            .path()
            .join(format!("tpl-{}", want.len() + body.map_or(0, str::len)));
        fs::create_dir_all(&tpl).unwrap();
        match body {
            Some(text) => fs::write(tpl.join(name), text).unwrap(),
            None => {
                std::os::unix::fs::symlink("/nonexistent/Dockerfile.j2", tpl.join(name)).unwrap();
            }
        }
        let tpl_arg = tpl.to_str().unwrap().to_owned();
        let stderr = refused(spec.as_bytes(), &["--templates", &tpl_arg], 2);
        assert!(stderr.contains(want), "{name}: {stderr}");
    }
}

/// What a project file fabuild finds by name can be instead of a file: git keeps links, so a
/// cloned repository can hold any of these.
#[derive(Clone, Copy, Debug)]
enum Stand {
    /// A link to a file outside the project (here, a credentials file).
    LinkOut,
    /// A link to an endless device.
    LinkToZero,
    /// A FIFO: opening it waits for a writer that never comes.
    Fifo,
}

const CREDENTIALS: &str = "aws_secret_access_key = NOT-TO-BE-QUOTED\n";

impl Stand {
    /// Puts this in place of `dir/name`; returns what the error must say.
    fn place(self, dir: &Path, name: &str, credentials: &Path) -> &'static str {
        let path = dir.join(name);
        match self {
            Self::LinkOut => {
                std::os::unix::fs::symlink(credentials, &path).unwrap();
                "outside the project"
            }
            Self::LinkToZero => {
                std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
                "is a link to /dev/zero, outside the project"
            }
            Self::Fifo => {
                assert!(
                    Command::new("mkfifo")
                        .arg(&path)
                        .status()
                        .unwrap()
                        .success()
                );
                "is not a regular file"
            }
        }
    }
}

/// init's and gen's project files that are not files of the project are refused by name,
/// in bounded time and memory, unread (nothing of them quoted) and with nothing written.
#[test]
fn project_files_that_lead_elsewhere_are_refused_unread() {
    let outside = tempfile::tempdir().unwrap();
    let credentials = outside.path().join("credentials");
    fs::write(&credentials, CREDENTIALS).unwrap();
    // `shown` is the file as the user names it from where they ran fabuild; `help` what the
    // line under the error must say.
    let assert_refused = |dir: &Path, args: &[&str], shown: &str, want: &str, help: &str| {
        let before = files(dir);
        let (out, took) = bounded(dir, args);
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_bounded(&out, took, &format!("{args:?} with {shown}"));
        assert_eq!(out.status.code(), Some(2), "{args:?} with {shown}:\n{said}");
        let mut lines = said.lines();
        let line = lines.next().unwrap_or_default();
        assert!(
            line.starts_with(&format!("error: cannot read {shown}: ")) && line.ends_with(want),
            "{args:?} with {shown}:\n{said}"
        );
        assert!(
            lines.next().unwrap_or_default().starts_with(help),
            "{args:?} with {shown}: no `{help}` under the error:\n{said}"
        );
        assert!(!said.contains("NOT-TO-BE-QUOTED"), "{said}");
        assert_eq!(
            before,
            files(dir),
            "{args:?} with {shown} changed the project"
        );
    };
    for name in [
        "gunicorn.conf.py",
        ".python-version",
        "requirements.txt",
        "pyproject.toml",
        "uv.lock",
    ] {
        for stand in [Stand::LinkOut, Stand::LinkToZero, Stand::Fifo] {
            let tmp = tempfile::tempdir().unwrap();
            let project = tmp.path().join("svc");
            fs::create_dir(&project).unwrap();
            fs::write(
                project.join("app.py"),
                "from flask import Flask\napp = Flask(__name__)\n",
            )
            .unwrap();
            let want = stand.place(&project, name, &credentials);
            let help = match stand {
                Stand::Fifo => "help: put a regular file in its place",
                _ => "help: init reads only the project's own files",
            };
            assert_refused(&project, &["init"], name, want, help);
            let from_above = format!("svc/{name}");
            assert_refused(tmp.path(), &["init", "svc"], &from_above, want, help);
        }
    }
    // gen reads the Dockerfile already there, to diff it and to see who wrote it.
    for stand in [Stand::LinkOut, Stand::LinkToZero, Stand::Fifo] {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("app.yaml"), good_spec()).unwrap();
        let want = stand.place(dir.path(), "Dockerfile", &credentials);
        assert_refused(dir.path(), &["gen", "app.yaml"], "Dockerfile", want, "");
    }
}

/// Files given by path are read up to 16 MiB: `explain --dockerfile /dev/zero`, and a spec's
/// `python.project` that is a (sparse) terabyte.
#[test]
fn endless_files_given_by_path_are_refused_at_16_mib() {
    let dir = tempfile::tempdir().unwrap();
    let (out, took) = bounded(dir.path(), &["explain", "--dockerfile", "/dev/zero"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_bounded(&out, took, "");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "error: cannot read /dev/zero: is larger than 16 MiB\n"
    );

    fs::File::create(dir.path().join("pyproject.toml"))
        .unwrap()
        .set_len(1 << 40)
        .unwrap();
    let spec = good_spec().replace(
        "  version: \"3.12\"\n",
        "  version: \"3.12\"\n  project: pyproject.toml\n  exclude_newer: 2026-11-01\n",
    );
    assert!(spec.contains("project: pyproject.toml"), "{spec}");
    fs::write(dir.path().join("app.yaml"), &spec).unwrap();
    let (out, took) = bounded(dir.path(), &["check", "app.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_bounded(&out, took, "");
    assert!(
        stderr.contains("`pyproject.toml` cannot be read: is larger than 16 MiB"),
        "{stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a finding on the spec: {stderr}"
    );
}

/// A link that stays inside the project is followed: the output directory's Dockerfile may
/// link to one elsewhere in the project, and gen reads it to see who wrote it.
#[test]
fn a_link_inside_the_project_is_read_through() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("app.yaml"), good_spec()).unwrap();
    fs::write(dir.path().join("Dockerfile.hand"), "FROM scratch\n").unwrap();
    fs::create_dir(dir.path().join("out")).unwrap();
    std::os::unix::fs::symlink("../Dockerfile.hand", dir.path().join("out/Dockerfile")).unwrap();
    let (out, _) = bounded(dir.path(), &["gen", "app.yaml", "--out", "out"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: out/Dockerfile was not generated by fabuild; not overwriting it")
            && stderr.contains("-FROM scratch"),
        "{stderr}"
    );
}

/// A `GUNICORN_CMD_ARGS` of thousands of errors: explain reports every error up to 16 and
/// says it stopped, within bounded time (5,300 `--preload=true` ran past a minute when each
/// error cost a fresh parse of the whole value, and unknown flags were dropped one lookup
/// at a time).
#[test]
fn explain_stays_bounded_on_thousands_of_errors() {
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = dir.path().join("Dockerfile");
    for (word, stops) in [
        ("--preload=true", true),
        ("--help", true),
        ("-v", true),
        ("--x", false),
    ] {
        // As many as one environment string takes (FAB129 refuses longer values).
        let fit = (fabuild::gunicorn::rules::MAX_ENV_STRING - "GUNICORN_CMD_ARGS=".len())
            / (word.len() + 1);
        let value = vec![word; fit].join(" ");
        fs::write(
            &dockerfile,
            format!("FROM python:3.12-slim\nENV GUNICORN_CMD_ARGS=\"{value}\"\n"),
        )
        .unwrap();
        let (out, took) = bounded(dir.path(), &["explain", "--dockerfile", "Dockerfile"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_bounded(&out, took, word);
        assert_eq!(out.status.code(), Some(1), "{word}");
        assert_eq!(
            stdout.contains("explain stopped after 16 errors"),
            stops,
            "{word}: {}",
            stdout.lines().rev().take(8).collect::<Vec<_>>().join("\n")
        );
    }
}

/// A spec of as many keys as fit in the 1 MiB limit is read, checked and rendered in
/// bounded time: duplicate keys were looked for by searching the keys before each one, so
/// 85,000 `env` keys took 25 s in a release build.
#[test]
fn a_spec_of_many_keys_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = String::from(
        "version: 1\nname: orders-api\napp:\n  module: main:app\n  interface: asgi\n\
         python:\n  version: \"3.12\"\nserver:\n  port: 8000\nenv:\n",
    );
    let mut keys = 0;
    while spec.len() < 1_000_000 {
        spec.push_str(&format!("  K{keys}: v\n"));
        keys += 1;
    }
    assert!(keys > 80_000, "{keys}");
    fs::write(dir.path().join("app.yaml"), &spec).unwrap();
    let (out, took) = bounded(dir.path(), &["gen", "app.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_bounded(&out, took, "");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let dockerfile = fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains(&format!("K{}=", keys - 1)),
        "the last key is planned"
    );
}

/// A Dockerfile can hold an ENV far longer than any process takes (FAB129): explain says so
/// without splitting it, in bounded memory (an 8 MiB value used 1.2 GB).
#[test]
fn explain_refuses_an_env_value_no_process_could_take_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM python:3.12-slim\nENV GUNICORN_CMD_ARGS=\"{}\"\n",
            "-w 1 ".repeat(8 << 20 >> 3)
        ),
    )
    .unwrap();
    let (out, took) = bounded(dir.path(), &["explain", "--dockerfile", "Dockerfile"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_bounded(&out, took, "");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("error[FAB129]: GUNICORN_CMD_ARGS"),
        "{}",
        &stdout[..stdout.len().min(2000)]
    );
}

/// init reads `.py` files of up to 1 MiB; one that size of app factories (about 20,000) is
/// judged in bounded time. Each candidate used to look through every other: 7 to 12 s in a
/// debug build here, 0.25 s now.
#[test]
fn init_stays_bounded_on_a_file_of_thousands_of_apps() {
    let dir = tempfile::tempdir().unwrap();
    let mut source = String::from("from flask import Flask\n");
    let mut factories = 0;
    while source.len() < 1_000_000 {
        source.push_str(&format!(
            "def create_app{factories}():\n    return Flask(__name__)\n"
        ));
        factories += 1;
    }
    fs::write(dir.path().join("factories.py"), source).unwrap();
    let (out, took) = bounded(dir.path(), &["init"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_bounded(&out, took, "");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        &stderr[..stderr.len().min(500)]
    );
    assert!(
        stderr.starts_with(&format!("error: found {factories} candidate apps\n")),
        "{}",
        &stderr[..stderr.len().min(500)]
    );
}

/// A `gunicorn.conf.py` of a million statements (2 MB of `x` lines): init lists the first 64
/// it does not carry and counts the rest. It used to keep and print them all: five million
/// took 1.9 GB and 6 s in a release build, a warning of five million lines. (Five million
/// took 19 s in a debug build on a loaded machine, past the time limit; one million shows
/// the same.)
#[test]
fn init_lists_a_bounded_part_of_an_endless_gunicorn_conf() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("app.py"),
        "from flask import Flask\napp = Flask(__name__)\n",
    )
    .unwrap();
    let statements = 1_000_000;
    fs::write(
        dir.path().join("gunicorn.conf.py"),
        "x\n".repeat(statements),
    )
    .unwrap();
    let (out, took) = bounded(dir.path(), &["init"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let head = &stderr[..stderr.len().min(500)];
    assert_bounded(&out, took, "");
    assert_eq!(out.status.code(), Some(0), "{head}");
    let listed = stderr.lines().filter(|l| l.starts_with("  line ")).count();
    assert_eq!(listed, 64, "{head}");
    assert!(
        stderr.contains(&format!(
            "\n  and {} more statements after line 64, not listed\n",
            statements - 64
        )),
        "{}",
        &stderr[stderr.len().saturating_sub(500)..]
    );
}

/// Statements that never end: a bracket opened near the top of a file and closed only at
/// its end, over hundreds of thousands of continuation lines, and a triple-quoted string
/// that is never closed. init reads each to its end in one pass and keeps a bounded part of
/// it (the first 4096 bytes of a logical line), so the statements before and after are
/// still read.
#[test]
fn init_stays_bounded_on_statements_that_never_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = String::from("from flask import Flask\nx = (\n");
    while app.len() < 1_000_000 {
        app.push_str("(a,\n),\n");
    }
    app.push_str(")\napp = Flask(__name__)\ny = '''\n");
    fs::write(dir.path().join("app.py"), app).unwrap();
    let mut conf = String::from("timeout = 45\nbind = [\n");
    while conf.len() < 12_000_000 {
        conf.push_str("[\"0.0.0.0:80\",\n],\n");
    }
    conf.push_str("]\nkeepalive = 5\nworkers = \"\"\"\n");
    conf.push_str(&"4\n".repeat(1_000_000));
    fs::write(dir.path().join("gunicorn.conf.py"), conf).unwrap();
    let (out, took) = bounded(dir.path(), &["init"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_bounded(&out, took, "");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("app: app:app"), "{stdout}");
    for carried in [
        "server: timeout: 45 (gunicorn.conf.py:1: timeout = 45)",
        "server: keepalive: 5 (gunicorn.conf.py:",
    ] {
        assert!(stdout.contains(carried), "{carried}\nnot in:\n{stdout}");
    }
    assert!(
        stderr.contains("  line 2 (bind): longer than init reads (4096 bytes)"),
        "{stderr}"
    );
}

/// A list of bad items gives a finding for each: text draws the first 50 in file order and
/// counts the rest by rule (a 1 MiB spec of them drew 90,900, 26 MB of text); JSON lists
/// every one.
#[test]
fn text_draws_the_first_fifty_findings_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!(
        "version: 1\nname: orders-api\napp:\n  module: main:app\n  interface: asgi\n\
         server:\n  extra_args:\n{}",
        "    - -b=x\n    - --pid=/x\n".repeat(60)
    );
    fs::write(dir.path().join("app.yaml"), spec).unwrap();

    let text = util::fabuild(dir.path())
        .args(["check", "app.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert_eq!(text.status.code(), Some(1), "{stderr}");
    let drawn: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error[")).collect();
    assert_eq!(drawn.len(), 50, "{stderr}");
    assert!(
        stderr.contains(" --> app.yaml:8:7\n"),
        "the first item is drawn"
    );
    assert!(
        stderr.contains(" --> app.yaml:57:7\n") && !stderr.contains(" --> app.yaml:58:7\n"),
        "the fiftieth in file order is the last drawn: {stderr}"
    );
    assert!(
        stderr.ends_with(
            "note: 70 more findings not shown (FAB126 35, FAB127 35); \
             `fabuild check --format json` lists every one\n"
        ),
        "{}",
        &stderr[stderr.len().saturating_sub(400)..]
    );

    let json = util::fabuild(dir.path())
        .args(["check", "--format", "json", "app.yaml"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["findings"].as_array().unwrap().len(), 120);
}

/// One number as long as an environment string holds, in each base gunicorn reads, is
/// judged in bounded time: hex converted to decimal one digit at a time took 16 s of CPU
/// for `--cert-reqs` in a debug build, and a decimal that long is refused as Python
/// refuses it (over 4,300 digits).
#[test]
fn explain_stays_bounded_on_one_huge_number() {
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = dir.path().join("Dockerfile");
    // (flag, digit, explain's exit status): a huge positive --cert-reqs is accepted.
    for (flag, digit, code) in [
        ("--cert-reqs=0x", "f", 0),
        ("--umask=0x", "f", 0),
        ("--umask=-0x", "f", 1),
        ("--http2-max-frame-size=0b", "1", 1),
        ("--cert-reqs=", "7", 1),
        ("--workers=", "9", 1),
    ] {
        let fit =
            fabuild::gunicorn::rules::MAX_ENV_STRING - "GUNICORN_CMD_ARGS=".len() - flag.len() - 2;
        let value = format!("{flag}{}", digit.repeat(fit));
        fs::write(
            &dockerfile,
            format!("FROM python:3.12-slim\nENV GUNICORN_CMD_ARGS=\"{value}\"\n"),
        )
        .unwrap();
        let (out, took) = bounded(dir.path(), &["explain", "--dockerfile", "Dockerfile"]);
        assert_bounded(&out, took, flag);
        assert_eq!(out.status.code(), Some(code), "{flag}");
    }
}

/// Settings code of 1 MiB each: a chain of a thousand settings classes ending in thousands
/// of subclasses (each would list the whole chain's fields), and tens of thousands of
/// `env("X")` and `os.environ["X"]` reads. init lists the first 256 variables in bounded
/// time and memory.
#[test]
fn init_stays_bounded_on_endless_settings_code() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("main.py"),
        "from flask import Flask\n\napp = Flask(__name__)\n",
    )
    .unwrap();
    let mut classes = String::from(
        "from pydantic_settings import BaseSettings\n\nclass C0(BaseSettings):\n    f0: str\n",
    );
    let mut n = 1;
    while n < 1000 {
        classes.push_str(&format!("class C{n}(C{}):\n    f{n}: str\n", n - 1));
        n += 1;
    }
    while classes.len() < 1_000_000 {
        classes.push_str(&format!("class L{n}(C999):\n    g{n}: str\n"));
        n += 1;
    }
    fs::write(dir.path().join("classes.py"), classes).unwrap();
    let mut reads = String::from("import os\nimport environ\n\nenv = environ.Env()\n");
    let mut n = 0;
    while reads.len() < 1_000_000 {
        reads.push_str(&format!(
            "A{n} = env(\"E{n}\")\nB{n} = os.environ[\"O{n}\"]\n"
        ));
        n += 1;
    }
    fs::write(dir.path().join("reads.py"), reads).unwrap();
    let (out, took) = bounded(dir.path(), &["init"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_bounded(&out, took, "");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        &stderr[..stderr.len().min(500)]
    );
    let text = fs::read_to_string(dir.path().join("app.yaml")).unwrap();
    let listed = text.lines().filter(|l| l.starts_with("#   ")).count();
    assert_eq!(listed, 256, "{}", &text[..text.len().min(2000)]);
}
