//! The real-engine suites' own code that decides what counts as a failure: a build the
//! harness retries must be one whose failure says nothing about the Dockerfile.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::util::repo;

/// Runs `e2e_buildah_build` from tests/e2e/lib.sh with a `buildah` that prints each of
/// `attempts` (message, exit status) in turn. Returns the function's exit status, how many
/// times buildah ran and the log it left.
fn build_with(dir: &Path, attempts: &[(&str, i32)]) -> (i32, usize, String) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let mut script = String::from(
        "#!/bin/sh\nn=$(cat \"$CALLS\" 2>/dev/null || echo 0)\necho $((n + 1)) >\"$CALLS\"\ncase $n in\n",
    );
    for (i, (message, status)) in attempts.iter().enumerate() {
        script.push_str(&format!(
            "{i}) echo 'STEP 1/2: FROM base'; echo '{message}' >&2; exit {status} ;;\n"
        ));
    }
    script.push_str("esac\necho 'no more attempts expected' >&2; exit 99\n");
    let fake = bin.join("buildah");
    std::fs::write(&fake, script).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let calls = dir.join("calls");
    let log = dir.join("build.log");
    let status = Command::new("bash")
        .arg("-c")
        .arg(". \"$LIB\" && e2e_buildah_build \"$LOG\" localhost/t:1 \"$CTX\" --layers=false")
        .env("LIB", repo().join("tests/e2e/lib.sh"))
        .env("LOG", &log)
        .env("CTX", dir)
        .env("CALLS", &calls)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .status()
        .unwrap();
    let ran = std::fs::read_to_string(&calls).map_or(0, |s| s.trim().parse().unwrap());
    (
        status.code().unwrap(),
        ran,
        std::fs::read_to_string(&log).unwrap(),
    )
}

const REEXEC: &str = "Close_Fd sealing memfd copy: Device or resource busy";

#[test]
fn a_build_whose_engine_cannot_reexec_itself_is_built_again_and_both_attempts_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let (status, ran, log) = build_with(dir.path(), &[(REEXEC, 1), ("COMMIT localhost/t:1", 0)]);
    assert_eq!((status, ran), (0, 2), "{log}");
    let first = log
        .find(REEXEC)
        .expect("the first attempt's failure stays in the log");
    let second = log
        .find("COMMIT localhost/t:1")
        .expect("the second attempt is in the log");
    assert!(first < second, "the second attempt comes last:\n{log}");
}

#[test]
fn the_engine_failing_twice_fails_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let (status, ran, log) = build_with(dir.path(), &[(REEXEC, 1), (REEXEC, 1)]);
    assert_eq!((status, ran), (1, 2), "{log}");
}

#[test]
fn a_failing_step_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let failure = "error building at STEP \"RUN pip install\": exit status 1";
    let (status, ran, log) = build_with(dir.path(), &[(failure, 1), ("COMMIT localhost/t:1", 0)]);
    assert_eq!((status, ran), (1, 1), "{log}");
    assert!(log.contains(failure), "{log}");
}
