//! fabuild reads every corpus string exactly as the real gunicorn 27.0.1 does.
//!
//! The Python side is `tests/oracle/gunicorn_oracle.py` run by the interpreter in
//! `FABUILD_PYTHON` (or `target/pyenv/bin/python`, which `scripts/test` sets up with
//! gunicorn installed). Without one the test fails: a skipped oracle proves nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fabuild::gunicorn::cmd_args::{CmdArgs, ReadError};
use fabuild::gunicorn::settings::DEFAULT_VERSION;
use serde_json::{Value, json};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with gunicorn installed.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("FABUILD_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = root().join("target/pyenv/bin/python");
    assert!(
        venv.exists(),
        "no Python with gunicorn 27.0.1: run `scripts/test` (it creates target/pyenv), \
         or set FABUILD_PYTHON to a Python that has gunicorn==27.0.1"
    );
    venv
}

fn corpus() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("tests/oracle/corpus.txt")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("corpus line {l}: {e}")))
        .collect()
}

/// What real gunicorn says about each input, in order.
fn gunicorn(inputs: &[String]) -> Vec<Value> {
    let mut child = Command::new(python())
        .arg(root().join("tests/oracle/gunicorn_oracle.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the oracle");
    let mut stdin = child.stdin.take().unwrap();
    let lines: String = inputs
        .iter()
        .map(|i| serde_json::to_string(i).unwrap() + "\n")
        .collect();
    let writer = std::thread::spawn(move || stdin.write_all(lines.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "the oracle failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// fabuild's answer in the oracle's shape.
fn fabuild(input: &str) -> Value {
    match CmdArgs::read(input, DEFAULT_VERSION) {
        Ok(read) => json!({
            "ok": true,
            "argv": read.argv(),
            "values": read.parsed.values,
            "args": read.parsed.positionals,
        }),
        Err(err @ ReadError::Split(_)) => {
            json!({"ok": false, "class": "shlex", "message": err.to_string()})
        }
        Err(ReadError::Parse { words, error }) => json!({
            "ok": false,
            "class": error.class(),
            "argv": words.iter().map(|w| w.text.clone()).collect::<Vec<_>>(),
        }),
    }
}

/// The parts both sides must agree on (the oracle's message text is argparse's, with
/// the program name in it; the class carries the verdict).
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(map) = v.as_object_mut()
        && map.get("class") != Some(&json!("shlex"))
    {
        map.remove("message");
    }
    v
}

#[test]
fn agrees_with_gunicorn_on_every_corpus_string() {
    let inputs = corpus();
    assert!(
        inputs.len() >= 200,
        "the corpus has {} strings",
        inputs.len()
    );
    let expected = gunicorn(&inputs);
    assert_eq!(expected.len(), inputs.len());
    let mut disagreements = Vec::new();
    for (input, want) in inputs.iter().zip(&expected) {
        let got = fabuild(input);
        if comparable(&got) != comparable(want) {
            disagreements.push(format!(
                "input {input:?}\n  gunicorn: {want}\n  fabuild:  {got}"
            ));
        }
    }
    let rejected = expected.iter().filter(|v| v["ok"] == json!(false)).count();
    eprintln!(
        "oracle: {} strings ({} accepted, {rejected} rejected), {} disagreements",
        inputs.len(),
        inputs.len() - rejected,
        disagreements.len()
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn every_corrected_line_is_accepted_by_gunicorn_word_for_word() {
    let ctx = fabuild::gunicorn::rules::Context::default();
    let mut lines = Vec::new();
    let mut argvs = Vec::new();
    for input in corpus() {
        let explanation = fabuild::explain::explain(&input, "corpus", &ctx);
        if let (Some(line), Some(argv)) = (explanation.corrected_line(), explanation.corrected) {
            lines.push(line);
            argvs.push(argv);
        }
    }
    assert!(lines.len() > 200, "only {} corrected lines", lines.len());
    let answers = gunicorn(&lines);
    for ((line, argv), answer) in lines.iter().zip(&argvs).zip(&answers) {
        assert_eq!(
            answer["ok"],
            json!(true),
            "gunicorn refuses the corrected line {line:?}: {answer}"
        );
        assert_eq!(
            answer["argv"],
            json!(argv),
            "shlex.split does not give back the argv of {line:?}"
        );
    }
    eprintln!(
        "oracle: {} corrected lines, all accepted by gunicorn",
        lines.len()
    );
}
