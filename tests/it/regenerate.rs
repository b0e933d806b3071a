//! Regenerating safely: unchanged reruns write nothing, hand edits and foreign files are
//! never overwritten without --force, --check is a CI gate, and a run is all-or-nothing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util;

const SPEC: &str = "version: 1\nname: inventory\napp:\n  module: wsgi:app\n  interface: wsgi\nserver:\n  port: 8000\n  workers: 2\n";
const FILES: [&str; 3] = ["Dockerfile", "requirements-server.txt", ".dockerignore"];

fn project(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("app.yaml"), spec).unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    util::fabuild(dir).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

fn mtimes(dir: &Path) -> Vec<std::time::SystemTime> {
    FILES
        .iter()
        .map(|f| fs::metadata(dir.join(f)).unwrap().modified().unwrap())
        .collect()
}

#[test]
fn a_second_run_writes_nothing_and_says_so() {
    let dir = project(SPEC);
    let first = run(dir.path(), &["gen"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    for name in FILES {
        assert!(
            stdout(&first).contains(&format!("created {name}")),
            "{}",
            stdout(&first)
        );
    }
    let before = mtimes(dir.path());
    let second = run(dir.path(), &["gen"]);
    assert_eq!(second.status.code(), Some(0));
    for name in FILES {
        assert!(
            stdout(&second).contains(&format!("unchanged {name}")),
            "{}",
            stdout(&second)
        );
    }
    let after = mtimes(dir.path());
    assert_eq!(before, after, "an unchanged file was rewritten");
}

#[test]
fn a_spec_change_updates_only_the_files_it_changes() {
    let dir = project(SPEC);
    assert!(run(dir.path(), &["gen"]).status.success());
    fs::write(
        dir.path().join("app.yaml"),
        SPEC.replace("workers: 2", "workers: 4"),
    )
    .unwrap();
    let out = run(dir.path(), &["gen"]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("updated Dockerfile"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("unchanged requirements-server.txt"));
    assert!(
        fs::read_to_string(dir.path().join("Dockerfile"))
            .unwrap()
            .contains("--workers=4")
    );
}

#[test]
fn check_is_a_ci_gate() {
    let dir = project(SPEC);
    let missing = run(dir.path(), &["gen", "--check"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stdout(&missing).contains("+++ b/Dockerfile"),
        "{}",
        stdout(&missing)
    );
    assert!(
        stderr(&missing).contains("Dockerfile is missing"),
        "{}",
        stderr(&missing)
    );
    assert!(
        !dir.path().join("Dockerfile").exists(),
        "--check wrote a file"
    );

    assert!(run(dir.path(), &["gen"]).status.success());
    let clean = run(dir.path(), &["gen", "--check"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    assert!(stdout(&clean).is_empty());

    fs::write(
        dir.path().join("app.yaml"),
        SPEC.replace("workers: 2", "workers: 5"),
    )
    .unwrap();
    let before = snapshot(dir.path());
    let drift = run(dir.path(), &["gen", "--check"]);
    assert_eq!(drift.status.code(), Some(1));
    assert!(
        stdout(&drift).contains("---------") || stdout(&drift).contains("-    GUNICORN_CMD_ARGS"),
        "{}",
        stdout(&drift)
    );
    assert!(stdout(&drift).contains("--workers=5"), "{}", stdout(&drift));
    assert!(
        stderr(&drift).contains("Dockerfile is out of date"),
        "{}",
        stderr(&drift)
    );
    assert_eq!(
        before,
        snapshot(dir.path()),
        "--check changed the directory"
    );
}

#[test]
fn diff_shows_and_writes_nothing() {
    let dir = project(SPEC);
    assert!(run(dir.path(), &["gen"]).status.success());
    fs::write(
        dir.path().join("app.yaml"),
        SPEC.replace("workers: 2", "workers: 3"),
    )
    .unwrap();
    let before = snapshot(dir.path());
    let out = run(dir.path(), &["gen", "--diff"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("+    GUNICORN_CMD_ARGS=\"--bind=0.0.0.0:8000 --workers=3"),
        "{}",
        stdout(&out)
    );
    assert_eq!(before, snapshot(dir.path()));
}

#[test]
fn a_hand_edit_is_refused_with_a_diff_and_nothing_is_written() {
    let dir = project(SPEC);
    assert!(run(dir.path(), &["gen"]).status.success());
    let dockerfile = dir.path().join("Dockerfile");
    let edited = fs::read_to_string(&dockerfile)
        .unwrap()
        .replace("EXPOSE 8000", "EXPOSE 8000\nRUN echo my own step");
    fs::write(&dockerfile, &edited).unwrap();
    // The spec changes too: the other files must not be updated on their own.
    fs::write(
        dir.path().join("app.yaml"),
        SPEC.replace("interface: wsgi", "interface: asgi")
            .replace("wsgi:app", "main:app"),
    )
    .unwrap();
    let before = snapshot(dir.path());
    let out = run(dir.path(), &["gen"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "Dockerfile was edited by hand since fabuild generated it; not overwriting it"
        ),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("-RUN echo my own step"),
        "the diff shows the edit that would be lost:\n{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(before, snapshot(dir.path()), "a refused run changed files");

    let forced = run(dir.path(), &["gen", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    assert!(
        !fs::read_to_string(&dockerfile)
            .unwrap()
            .contains("my own step")
    );
    assert!(
        fs::read_to_string(dir.path().join("requirements-server.txt"))
            .unwrap()
            .contains("uvicorn-worker==")
    );
}

#[test]
fn a_team_dockerfile_is_never_overwritten_silently() {
    let dir = project(SPEC);
    fs::write(
        dir.path().join("Dockerfile"),
        "FROM python:3.12\nCMD [\"python\", \"app.py\"]\n",
    )
    .unwrap();
    let out = run(dir.path(), &["gen"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Dockerfile was not generated by fabuild; not overwriting it"),
        "{}",
        stderr(&out)
    );
    assert!(
        !dir.path().join("requirements-server.txt").exists(),
        "other files written in a refused run"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        "FROM python:3.12\nCMD [\"python\", \"app.py\"]\n"
    );
}

#[test]
fn crlf_checkouts_count_as_unchanged() {
    let dir = project(SPEC);
    assert!(run(dir.path(), &["gen"]).status.success());
    for name in FILES {
        let path = dir.path().join(name);
        let crlf = fs::read_to_string(&path).unwrap().replace('\n', "\r\n");
        fs::write(&path, crlf).unwrap();
    }
    let check = run(dir.path(), &["gen", "--check"]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}{}",
        stdout(&check),
        stderr(&check)
    );
    let out = run(dir.path(), &["gen"]);
    assert!(
        stdout(&out).contains("unchanged Dockerfile"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn out_dir_is_created_and_paths_stay_inside_the_context() {
    let dir = project(SPEC);
    let out = run(dir.path(), &["gen", "--out", "build/container"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dockerfile = fs::read_to_string(dir.path().join("build/container/Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("COPY build/container/requirements-server.txt /tmp/fabuild/"),
        "{dockerfile}"
    );
    assert!(
        dockerfile.contains("#   fabuild gen app.yaml --out build/container"),
        "{dockerfile}"
    );
    assert!(
        run(dir.path(), &["gen", "--check", "--out", "build/container"])
            .status
            .success()
    );

    let outside = run(dir.path(), &["gen", "--out", "../elsewhere"]);
    assert_eq!(outside.status.code(), Some(2));
    assert!(
        stderr(&outside).contains("is outside the project"),
        "{}",
        stderr(&outside)
    );
}

/// Builders read the ignore file at the root of the build context or beside the Dockerfile
/// `-f` names (`<Dockerfile>.dockerignore`), never a `.dockerignore` in a subdirectory: with
/// `--out`, the one that keeps key material out of the image must sit beside the Dockerfile.
#[test]
fn out_dir_gets_the_ignore_file_builders_read_beside_the_dockerfile() {
    let dir = project(SPEC);
    let out = run(dir.path(), &["gen", "--out", "build/container"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let beside = dir.path().join("build/container/Dockerfile.dockerignore");
    let ignore = fs::read_to_string(&beside).unwrap_or_default();
    assert!(
        ignore.contains("\n**/*.pem\n"),
        "{}: {ignore:?}",
        beside.display()
    );
    assert!(
        stdout(&out).contains("build/container/Dockerfile.dockerignore"),
        "{}",
        stdout(&out)
    );
    assert!(!dir.path().join("build/container/.dockerignore").exists());
    // In the project itself the context's own .dockerignore is still the one written.
    let out = run(dir.path(), &["gen"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(dir.path().join(".dockerignore").is_file());
    assert!(!dir.path().join("Dockerfile.dockerignore").exists());
}

#[test]
fn an_unwritable_output_fails_cleanly() {
    let dir = project(SPEC);
    fs::write(dir.path().join("not-a-dir"), "x").unwrap();
    let out = run(dir.path(), &["gen", "--out", "not-a-dir"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
}

/// A read-only project (a read-only bind mount as root, as in CI; mode 0555 otherwise):
/// `gen` fails cleanly with nothing written, and `--check` still works, since it only reads.
#[test]
fn a_read_only_directory_fails_cleanly_and_check_still_works() {
    let dir = project(SPEC);
    let path = dir.path().to_str().unwrap().to_owned();
    let bin = env!("CARGO_BIN_EXE_fabuild");
    let as_root = fs::metadata(dir.path())
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap();
    let run_ro = |args: &str| -> Output {
        if as_root {
            let script = format!(
                "mount --bind {path} {path} && mount -o remount,bind,ro {path} && cd {path} && exec {bin} {args}"
            );
            std::process::Command::new("unshare")
                .args(["-m", "sh", "-c", &script])
                .env("NO_COLOR", "1")
                .output()
                .unwrap()
        } else {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).unwrap();
            let out = util::fabuild(dir.path())
                .args(args.split(' '))
                .output()
                .unwrap();
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
            out
        }
    };
    let out = run_ro("gen app.yaml");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("error: cannot write Dockerfile: "),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("nothing was changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only app.yaml is there"
    );
    let check = run_ro("gen --check app.yaml");
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    assert!(stdout(&check).contains("+++ b/Dockerfile"));
}

#[test]
fn many_specs_one_failure_does_not_stop_the_rest() {
    let root = tempfile::tempdir().unwrap();
    for (name, spec) in [
        ("a", SPEC.to_owned()),
        ("b", SPEC.replace("port: 8000", "port: 80")),
        ("c", SPEC.to_owned()),
    ] {
        fs::create_dir(root.path().join(name)).unwrap();
        fs::write(root.path().join(name).join("app.yaml"), spec).unwrap();
    }
    let out = run(
        root.path(),
        &["gen", "a/app.yaml", "b/app.yaml", "c/app.yaml"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(root.path().join("a/Dockerfile").exists() && root.path().join("c/Dockerfile").exists());
    assert!(!root.path().join("b/Dockerfile").exists());
    assert!(stderr(&out).contains("error[FAB021]"), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("3 spec(s): 2 ok, 1 failed: b/app.yaml"),
        "{}",
        stdout(&out)
    );
}

/// Killed at any moment, a run leaves each file either as it was or as it should be.
#[test]
fn a_killed_run_never_leaves_a_partial_file() {
    let dir = project(SPEC);
    assert!(run(dir.path(), &["gen"]).status.success());
    let old: Vec<String> = FILES
        .iter()
        .map(|f| fs::read_to_string(dir.path().join(f)).unwrap())
        .collect();
    fs::write(
        dir.path().join("app.yaml"),
        SPEC.replace("workers: 2", "workers: 7")
            .replace("wsgi:app", "web:app"),
    )
    .unwrap();
    let new: Vec<String> = {
        let copy = project(&fs::read_to_string(dir.path().join("app.yaml")).unwrap());
        assert!(run(copy.path(), &["gen"]).status.success());
        FILES
            .iter()
            .map(|f| fs::read_to_string(copy.path().join(f)).unwrap())
            .collect()
    };
    for attempt in 0..40u64 {
        let mut child = util::fabuild(dir.path())
            .args(["gen", "--force"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(attempt * 150));
        let _ = child.kill();
        let _ = child.wait();
        for (i, name) in FILES.iter().enumerate() {
            let now = fs::read_to_string(dir.path().join(name)).unwrap();
            assert!(
                now == old[i] || now == new[i],
                "attempt {attempt}: {name} is neither old nor new"
            );
        }
    }
    // Whatever a kill left behind (a stale temporary file is planted so this always runs),
    // the next run finishes the job and cleans up, even when nothing else changes.
    fs::write(dir.path().join(".fabuild-planted.tmp"), "half a Docker").unwrap();
    assert!(run(dir.path(), &["gen", "--force"]).status.success());
    fs::write(dir.path().join(".fabuild-planted.tmp"), "half a Docker").unwrap();
    assert!(run(dir.path(), &["gen", "--force"]).status.success());
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".fabuild-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}
