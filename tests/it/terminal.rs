//! What fabuild prints, as the terminal and the shell see it: text quoted from input cannot
//! drive the terminal, a reader that closes the pipe early does not crash fabuild, and a
//! standard output that cannot be written is an error, not a silent cut.

use std::fs;
use std::process::{Output, Stdio};

use crate::util::{self, repo};

fn run(args: &[&str], stdout: Stdio) -> Output {
    util::fabuild(&repo())
        .args(args)
        .env_remove("GUNICORN_CMD_ARGS")
        .stdout(stdout)
        .output()
        .unwrap()
}

/// Fails unless `bytes` holds no character that acts on a terminal: ESC (which starts every
/// escape sequence), CR (which returns to overwrite the line), C1's CSI, NUL.
fn assert_inert(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let acting: Vec<_> = text
        .char_indices()
        .filter(|(_, c)| c.is_control() && !matches!(c, '\n' | '\t'))
        .collect();
    assert!(acting.is_empty(), "{what} sends {acting:?}:\n{text}");
}

#[test]
fn a_dockerfiles_escape_sequences_are_shown_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = dir.path().join("Dockerfile");
    // ESC [2J clears the screen; CR goes back to overwrite the line; U+009B is C1's CSI.
    fs::write(
        &dockerfile,
        "FROM python:3.12-slim\n\
         ENV GUNICORN_CMD_ARGS=\"--workers=3 --name=\x1b[2Jsvc\r--bind=:80 --frob=\u{9b}31m\"\n",
    )
    .unwrap();
    let out = run(
        &["explain", "--dockerfile", dockerfile.to_str().unwrap()],
        Stdio::piped(),
    );
    assert_eq!(out.status.code(), Some(1), "--frob is not a gunicorn flag");
    assert_inert("explain's stdout", &out.stdout);
    assert_inert("explain's stderr", &out.stderr);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("--name=\u{fffd}[2Jsvc\u{fffd}--bind=:80"),
        "the value is still shown, its control characters as U+FFFD:\n{stdout}"
    );
    assert!(stdout.contains("--frob"), "{stdout}");

    // JSON keeps the value exact, every control character escaped.
    let out = run(
        &[
            "explain",
            "--dockerfile",
            dockerfile.to_str().unwrap(),
            "--format",
            "json",
        ],
        Stdio::piped(),
    );
    assert_inert("explain --format json", &out.stdout);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = report.to_string();
    assert!(
        text.contains("--name=\\u001b[2Jsvc\\r--bind=:80") && text.contains("--frob=\u{9b}31m"),
        "the value as read: {text}"
    );
}

#[test]
fn project_text_in_init_errors_is_shown_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("app.py"),
        "from flask import Flask\napp = Flask(__name__)\n",
    )
    .unwrap();
    fs::write(dir.path().join(".python-version"), "2.7\x1b[2J\n").unwrap();
    let out = util::fabuild(dir.path()).arg("init").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "init cannot decide for the user"
    );
    assert_inert("init's stderr", &out.stderr);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(".python-version:1 asks for Python 2.7\u{fffd}[2J"),
        "{stderr}"
    );
    assert!(!dir.path().join("app.yaml").exists());
}

/// Commands whose output a user pipes into `head` or `jq`; one of them fails its verdict.
const PIPED: &[&[&str]] = &[
    &["explain", "--workers=3 --no-such-flag"],
    &[
        "explain",
        "--workers=3 --bind=0.0.0.0:8000",
        "--format",
        "json",
    ],
    &["plan", "examples/fastapi-tls/app.yaml"],
    &["check", "examples/fastapi-tls/app.yaml"],
    &["schema"],
    &["schema", "--platform"],
];

#[test]
fn a_reader_closing_the_pipe_ends_the_output_not_the_process() {
    for args in PIPED {
        let open = run(args, Stdio::piped());
        assert!(!open.stdout.is_empty(), "{args:?} prints something");
        // The read end is closed before fabuild starts, so its first write fails with EPIPE,
        // as under `fabuild ... | head -n 1` once head has its line.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let closed = run(args, Stdio::from(writer));
        assert_eq!(
            closed.status.code(),
            open.status.code(),
            "{args:?} keeps its verdict's exit code:\n{}",
            String::from_utf8_lossy(&closed.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&closed.stderr),
            String::from_utf8_lossy(&open.stderr),
            "{args:?}: a closed pipe adds nothing to stderr (no panic, no error)"
        );
    }
    let failing = run(PIPED[0], Stdio::null());
    assert_eq!(failing.status.code(), Some(1), "one verdict is a failure");
}

#[test]
fn a_standard_output_that_cannot_be_written_is_an_error() {
    for args in PIPED {
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = run(args, Stdio::from(full));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: a cut-off output is not a success"
        );
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            stderr
                .matches("error: cannot write to standard output: No space left on device")
                .count(),
            1,
            "{args:?}: said once:\n{stderr}"
        );
    }
}
