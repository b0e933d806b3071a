//! Helpers shared by the integration tests.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn examples() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("app.yaml").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 3, "examples/ lost its examples");
    dirs
}

/// A tool the tests use as an oracle: from the environment variable, else from the venv
/// `scripts/test` sets up. Missing means the suite cannot prove what it claims, so it fails.
pub fn oracle(var: &str, venv_bin: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var) {
        return PathBuf::from(path);
    }
    let fallback = repo().join("target/pyenv/bin").join(venv_bin);
    assert!(
        fallback.exists(),
        "{var} is not set and {} does not exist: run the tests with `scripts/test`, which installs the real tools they compare against",
        fallback.display()
    );
    fallback
}

pub fn python() -> PathBuf {
    oracle("FABUILD_PYTHON", "python")
}

pub fn fabuild(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fabuild"));
    cmd.current_dir(dir).env("NO_COLOR", "1");
    cmd
}

/// Runs `fabuild gen app.yaml` in `dir`, which must succeed.
pub fn gen_ok(dir: &Path) {
    let out = fabuild(dir).args(["gen", "app.yaml"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a Python script with the oracle interpreter, feeding `stdin`; returns its stdout
/// parsed as JSON.
pub fn python_json(script: &str, stdin: &[u8]) -> serde_json::Value {
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the python oracle failed");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// What the real gunicorn did with a `GUNICORN_CMD_ARGS` line.
#[derive(Debug, PartialEq, Eq)]
pub enum Gunicorn {
    Exited(Option<i32>),
    Served,
}

/// The WSGI app `real_gunicorn` serves, as `probe_app:app`.
pub const PROBE_APP: &str =
    "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n";

/// Runs the real gunicorn 27.0.1 on a small WSGI app with `cmd_args` plus a `--bind` on a
/// Unix socket of its own, until it exits or answers a request with 200 (a bound socket alone
/// is not serving: the arbiter binds before its workers boot).
pub fn real_gunicorn(cmd_args: &str) -> Gunicorn {
    real_gunicorn_with(cmd_args, &[])
}

/// `real_gunicorn` with more files (path, text) under its working directory.
pub fn real_gunicorn_with(cmd_args: &str, files: &[(&str, &str)]) -> Gunicorn {
    run_real_gunicorn(cmd_args, files).0
}

/// `real_gunicorn`, with what gunicorn and its workers wrote to stdout until it exited or
/// answered.
pub fn real_gunicorn_stdout(cmd_args: &str) -> (Gunicorn, String) {
    run_real_gunicorn(cmd_args, &[])
}

fn run_real_gunicorn(cmd_args: &str, files: &[(&str, &str)]) -> (Gunicorn, String) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(dir.path().join("probe_app.py"), PROBE_APP).unwrap();
    // A Unix socket in the run's own directory: a TCP port picked free here could be taken
    // by another test's server (or another run's) before gunicorn binds it, and its answer
    // taken for this gunicorn's.
    let socket = dir.path().join("gunicorn.sock");
    let mut child = Command::new(oracle("FABUILD_GUNICORN", "gunicorn"))
        .arg("probe_app:app")
        .current_dir(dir.path())
        .env(
            "GUNICORN_CMD_ARGS",
            format!("--bind=unix:{} {cmd_args}", socket.display()),
        )
        .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
        .stderr(Stdio::null())
        // Its own process group, so that stopping it stops its workers too.
        .process_group(0)
        .spawn()
        .unwrap();
    let stdout =
        || String::from_utf8_lossy(&std::fs::read(dir.path().join("stdout")).unwrap()).into_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return (Gunicorn::Exited(status.code()), stdout());
        }
        if answers_200(&socket) {
            kill_group(&mut child);
            return (Gunicorn::Served, stdout());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    kill_group(&mut child);
    panic!("gunicorn {cmd_args} neither exited nor served within 30 s");
}

/// Kills a child started as the leader of its own process group, and everything in the group:
/// killing gunicorn's arbiter alone would leave its workers running until they notice.
fn kill_group(child: &mut std::process::Child) {
    let group = rustix::process::Pid::from_child(child);
    match rustix::process::kill_process_group(group, rustix::process::Signal::KILL) {
        // ESRCH: every process in the group has exited already.
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        Err(e) => panic!("cannot kill gunicorn's process group {group:?}: {e}"),
    }
    child.wait().unwrap();
}

/// Whether a GET / on the Unix socket gets a 200 response within two seconds.
fn answers_200(socket: &std::path::Path) -> bool {
    use std::io::Read;
    let Ok(mut stream) = std::os::unix::net::UnixStream::connect(socket) else {
        return false;
    };
    let timeout = Some(std::time::Duration::from_secs(2));
    stream.set_read_timeout(timeout).unwrap();
    if stream.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    response.starts_with(b"HTTP/1.0 200") || response.starts_with(b"HTTP/1.1 200")
}
