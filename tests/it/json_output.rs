//! `--format json` as a pipeline reads it: stdout is JSON and nothing else, one document per
//! spec whatever happened to it (written, drifted, refused, unreadable), stderr is empty, and
//! the exit code is the one the text output has.

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::util;

const GOOD: &str = "version: 1\nname: inventory\napp:\n  module: wsgi:app\n  interface: wsgi\nserver:\n  port: 8000\n  workers: 2\n";
/// Port 443 for a non-root server: FAB021.
const BAD: &str = "version: 1\nname: inventory\napp:\n  module: wsgi:app\n  interface: wsgi\nserver:\n  port: 443\n  workers: 2\n";

fn project(specs: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (sub, spec) in specs {
        fs::create_dir_all(dir.path().join(sub)).unwrap();
        fs::write(dir.path().join(sub).join("app.yaml"), spec).unwrap();
    }
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    util::fabuild(dir).args(args).output().unwrap()
}

/// Every document on stdout, read the way `jq` reads a stream; fails the test if stdout
/// holds anything else, or if anything went to stderr.
fn documents(out: &Output) -> Vec<Value> {
    let text = String::from_utf8_lossy(&out.stdout);
    let docs: Result<Vec<Value>, _> = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter()
        .collect();
    let docs = docs.unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{text}"));
    assert!(
        out.stderr.is_empty(),
        "--format json wrote to stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    docs
}

fn file<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no {name} in {doc:#}"))
}

/// A generated project whose Dockerfile then gained a line by hand: the project, the
/// Dockerfile's path and its edited text.
fn hand_edited() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = project(&[(".", GOOD)]);
    assert_eq!(run(dir.path(), &["gen"]).status.code(), Some(0));
    let dockerfile = dir.path().join("Dockerfile");
    let edited = format!(
        "{}RUN echo hand-edit\n",
        fs::read_to_string(&dockerfile).unwrap()
    );
    fs::write(&dockerfile, &edited).unwrap();
    (dir, dockerfile, edited)
}

#[test]
fn gen_prints_one_document_per_spec_and_no_tally() {
    let dir = project(&[("a", GOOD), ("b", BAD)]);
    let out = run(
        dir.path(),
        &["gen", "--format", "json", "a/app.yaml", "b/app.yaml"],
    );
    let docs = documents(&out);
    assert_eq!(docs.len(), 2, "{docs:#?}");
    assert_eq!(out.status.code(), Some(1), "a spec with findings exits 1");

    assert_eq!(docs[0]["spec"], "a/app.yaml");
    assert_eq!(docs[0]["ok"], true);
    assert_eq!(file(&docs[0], "Dockerfile")["status"], "created");
    assert!(dir.path().join("a/Dockerfile").is_file());

    assert_eq!(docs[1]["spec"], "b/app.yaml");
    assert_eq!(docs[1]["ok"], false);
    assert_eq!(docs[1]["findings"][0]["rule"], "FAB021", "{:#}", docs[1]);
    assert!(!dir.path().join("b/Dockerfile").exists());
}

#[test]
fn gen_check_reports_drift_as_data_and_writes_nothing() {
    let (dir, dockerfile, edited) = hand_edited();
    fs::remove_file(dir.path().join(".dockerignore")).unwrap();

    let out = run(dir.path(), &["gen", "--check", "--format", "json"]);
    let docs = documents(&out);
    assert_eq!(out.status.code(), Some(1), "drift exits 1");
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    assert_eq!(doc["ok"], false);
    let docker = file(doc, "Dockerfile");
    assert_eq!(docker["status"], "updated");
    assert_eq!(docker["guard"], "hand-edited");
    assert!(
        docker["diff"]
            .as_str()
            .unwrap()
            .contains("-RUN echo hand-edit\n"),
        "{docker:#}"
    );
    assert_eq!(file(doc, ".dockerignore")["status"], "created");
    assert_eq!(file(doc, "requirements-server.txt")["status"], "unchanged");
    assert!(file(doc, "requirements-server.txt").get("diff").is_none());
    assert_eq!(fs::read_to_string(&dockerfile).unwrap(), edited);
    assert!(!dir.path().join(".dockerignore").exists());

    // --diff shows the same and is not a failure.
    let out = run(dir.path(), &["gen", "--diff", "--format", "json"]);
    let docs = documents(&out);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(docs[0]["ok"], true);
    assert!(file(&docs[0], "Dockerfile")["diff"].is_string());
}

#[test]
fn gen_refusing_a_hand_edit_says_why_in_the_document() {
    let (dir, dockerfile, edited) = hand_edited();

    let out = run(dir.path(), &["gen", "--format", "json"]);
    let docs = documents(&out);
    assert_eq!(out.status.code(), Some(1));
    let doc = &docs[0];
    assert_eq!(doc["ok"], false);
    assert!(
        doc["error"].as_str().unwrap().contains("not overwritten"),
        "{doc:#}"
    );
    assert!(doc["help"].as_str().unwrap().contains("--force"), "{doc:#}");
    assert_eq!(file(doc, "Dockerfile")["guard"], "hand-edited");
    assert_eq!(fs::read_to_string(&dockerfile).unwrap(), edited);
}

#[test]
fn errors_that_are_not_findings_are_documents_too() {
    // gen: an output file that cannot be read (a directory where the Dockerfile goes).
    let dir = project(&[(".", GOOD)]);
    fs::create_dir(dir.path().join("Dockerfile")).unwrap();
    let out = run(dir.path(), &["gen", "--format", "json"]);
    let docs = documents(&out);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(docs[0]["spec"], "app.yaml");
    assert_eq!(docs[0]["ok"], false);
    assert!(
        docs[0]["error"].as_str().unwrap().contains("Dockerfile"),
        "{:#}",
        docs[0]
    );

    // check and gen: a spec that is not there.
    for command in ["check", "gen"] {
        let out = run(dir.path(), &[command, "--format", "json", "missing.yaml"]);
        let docs = documents(&out);
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert_eq!(docs[0]["file"], "missing.yaml", "{command}: {:#}", docs[0]);
        assert_eq!(docs[0]["ok"], false);
        assert!(docs[0]["error"].is_string(), "{command}: {:#}", docs[0]);
        assert!(
            docs[0]["help"].as_str().unwrap().contains("`fabuild init`"),
            "{command}: {:#}",
            docs[0]
        );
    }

    // explain: a Dockerfile that is not there, or sets no GUNICORN_CMD_ARGS.
    fs::write(dir.path().join("Containerfile"), "FROM python:3.13-slim\n").unwrap();
    for (dockerfile, says) in [
        ("gone", "cannot read gone"),
        ("Containerfile", "Containerfile"),
    ] {
        let out = run(
            dir.path(),
            &["explain", "--format", "json", "--dockerfile", dockerfile],
        );
        let docs = documents(&out);
        assert_eq!(out.status.code(), Some(2), "{dockerfile}");
        assert_eq!(docs[0]["ok"], false);
        assert!(
            docs[0]["error"].as_str().unwrap().contains(says),
            "{:#}",
            docs[0]
        );
    }

    // verify: the spec is judged first, and named like gen names it.
    let bad = project(&[(".", BAD)]);
    let out = run(
        bad.path(),
        &["verify", "--format", "json", "--image", "nope.tar"],
    );
    let docs = documents(&out);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(docs[0]["spec"], "app.yaml");
    assert_eq!(docs[0]["findings"][0]["rule"], "FAB021");
}
