//! `gen` and `check` say when the base image, the spec's or `--base-image`, is not known to
//! have `python.version` (FAB064), in text and in JSON, and say nothing when it is.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::util::fabuild;

/// A spec for Python 3.12 (`python.version` on line 7), with `base` as `python.base_image`
/// when given.
fn project(base: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let base_line = base.map_or_else(String::new, |b| format!("  base_image: {b}\n"));
    std::fs::write(
        dir.path().join("app.yaml"),
        format!(
            "version: 1\nname: orders\napp:\n  module: main:app\n  interface: asgi\npython:\n  version: \"3.12\"\n{base_line}"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("main.py"), "app = None\n").unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    fabuild(dir).args(args).output().unwrap()
}

/// The FAB064 findings of a JSON document: (line, message).
fn fab064(output: &Output) -> Vec<(Option<u64>, String)> {
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "FAB064")
        .map(|f| {
            assert_eq!(f["severity"], "warning");
            (
                f["line"].as_u64(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn gen_warns_when_base_image_is_another_python_and_still_writes() {
    let dir = project(None);
    let output = run(dir.path(), &["gen", "--base-image", "python:3.11-slim"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning[FAB064]: --base-image: base image `python:3.11-slim` is Python 3.11, but the spec says Python 3.12"),
        "{stderr}"
    );
    assert!(stderr.contains("app.yaml:7:12"), "{stderr}");
    let dockerfile = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("FROM python:3.11-slim"), "{dockerfile}");
}

#[test]
fn gen_json_says_what_is_known_of_a_base_naming_no_version() {
    let dir = project(None);
    let output = run(
        dir.path(),
        &[
            "gen",
            "--format",
            "json",
            "--base-image",
            "localhost/team/python-base:bookworm",
        ],
    );
    assert!(output.status.success());
    assert_eq!(
        fab064(&output),
        [(
            Some(7),
            "--base-image: base image `localhost/team/python-base:bookworm` names no Python version (its tag suggests Debian 12 (bookworm), whose python3 is 3.11); the spec says Python 3.12".to_owned()
        )]
    );
}

#[test]
fn check_json_points_at_the_specs_own_base() {
    let dir = project(Some("python:slim"));
    let output = run(dir.path(), &["check", "--format", "json"]);
    assert!(output.status.success());
    let found = fab064(&output);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, Some(8));
    assert!(found[0].1.contains("names no Python X.Y"), "{found:?}");

    let output = run(
        dir.path(),
        &["check", "--format", "json", "--base-image", "debian:trixie"],
    );
    assert!(output.status.success());
    let found = fab064(&output);
    // The spec's base and the one given instead, each judged.
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found.contains(&(Some(7), "--base-image: base image `debian:trixie` is Debian 13 (trixie), whose python3 is 3.13, but the spec says Python 3.12".to_owned())),
        "{found:?}"
    );
}

#[test]
fn a_base_known_to_have_the_version_draws_nothing() {
    for (base, args) in [
        (None, vec!["check", "--format", "json"]),
        (Some("python:3.12-slim"), vec!["check", "--format", "json"]),
        (
            None,
            vec![
                "check",
                "--format",
                "json",
                "--base-image",
                "mirror.example.com/library/python:3.12.4-slim",
            ],
        ),
        (
            None,
            vec!["gen", "--format", "json", "--base-image", "ubuntu:24.04"],
        ),
    ] {
        let dir = project(base);
        let output = run(dir.path(), &args);
        assert!(output.status.success(), "{base:?} {args:?}");
        assert_eq!(fab064(&output), [], "{base:?} {args:?}");
    }
}
