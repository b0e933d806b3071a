//! fabuild reads every corpus string exactly as the real gunicorn 27.0.1 does: the words,
//! argparse's verdict and namespace, and then what gunicorn's validators (`Config.set`,
//! `Config.validate`) accept, keep or refuse, with the message gunicorn prints.
//!
//! The Python side is `tests/oracle/gunicorn_oracle.py` run by the interpreter in
//! `FABUILD_PYTHON` (or `target/pyenv/bin/python`, which `scripts/test` sets up with
//! gunicorn installed). Without one the test fails: a skipped oracle proves nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fabuild::gunicorn::cmd_args::{CmdArgs, ReadError};
use fabuild::gunicorn::settings::{DEFAULT_VERSION, Validator};
use fabuild::gunicorn::validators::{self, Outcome};
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

/// The parts of argparse's verdict both sides must agree on (the oracle's message text is
/// argparse's, with the program name in it; the class carries the verdict). What the
/// validators did is compared by `validators_disagree`.
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(map) = v.as_object_mut() {
        if map.contains_key("values") {
            map.retain(|k, _| ["argv", "values", "args"].contains(&k.as_str()));
        } else if map.get("class") != Some(&json!("shlex")) {
            map.remove("message");
        }
    }
    v
}

/// Where fabuild's validators and gunicorn's part ways on an input argparse accepts, if
/// they do. gunicorn sets the settings in order and stops at the first refusal; a setting
/// fabuild says depends on the machine may go either way here (the oracle's machine is
/// not the image), so walking in gunicorn's order: an accepted setting must hold the value
/// gunicorn keeps, a refused one must be where gunicorn stopped, with its message.
fn validators_disagree(input: &str, oracle: &Value) -> Option<String> {
    let read = CmdArgs::read(input, DEFAULT_VERSION).ok()?;
    let stopped_at = oracle["setting"].as_str();
    for (setting, outcome) in validators::validate(&read.parsed) {
        let here = stopped_at == Some(setting.name)
            // `Config.validate` (after every set) refuses h2 without the h2 package.
            || (stopped_at == Some("validate") && setting.name == "http_protocols");
        match outcome {
            Outcome::Depends(_) if here => return None,
            Outcome::Depends(_) => {}
            Outcome::Refused(message) if here && oracle["message"] == json!(message) => {
                return None;
            }
            Outcome::Refused(message) => {
                return Some(format!("fabuild refuses {}: {message}", setting.name));
            }
            Outcome::Accepted(_) if here => {
                return Some(format!("fabuild accepts {}", setting.name));
            }
            Outcome::Accepted(value) => {
                let kept = &oracle["validated"][setting.name];
                if stopped_at.is_none() && *kept != json!(value) {
                    return Some(format!("{} holds {}", setting.name, json!(value)));
                }
            }
        }
    }
    stopped_at.map(|s| format!("fabuild accepts everything; gunicorn stops at {s}"))
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
        } else if let Some(why) = validators_disagree(input, want) {
            disagreements.push(format!("input {input:?}\n  gunicorn: {want}\n  {why}"));
        }
    }
    let rejected = expected.iter().filter(|v| v["ok"] == json!(false)).count();
    let by_validators = expected
        .iter()
        .filter(|v| v["class"] == json!("validator"))
        .count();
    eprintln!(
        "oracle: {} strings ({} accepted, {rejected} rejected, {by_validators} of them by a validator), {} disagreements",
        inputs.len(),
        inputs.len() - rejected,
        disagreements.len()
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// The corpus puts every validator gunicorn runs on a flag through both verdicts: some
/// string where gunicorn keeps a value it checked, and one where it stops on it (flags,
/// which store True, and `--ssl-version`, which keeps anything, cannot be refused).
#[test]
fn the_corpus_exercises_every_validator_both_ways() {
    let inputs = corpus();
    let answers = gunicorn(&inputs);
    let mut accepted = std::collections::BTreeSet::new();
    let mut refused = std::collections::BTreeSet::new();
    for (input, answer) in inputs.iter().zip(&answers) {
        let Ok(read) = CmdArgs::read(input, DEFAULT_VERSION) else {
            continue;
        };
        for (setting, _) in validators::validate(&read.parsed) {
            let name = format!("{:?}", setting.validator);
            if answer["ok"] == json!(true) {
                accepted.insert(name);
            } else if answer["setting"] == json!(setting.name) {
                refused.insert(name);
            }
        }
    }
    let with_flags: std::collections::BTreeSet<String> = fabuild::gunicorn::settings::all()
        .iter()
        .filter(|s| s.available_in(DEFAULT_VERSION))
        .map(|s| format!("{:?}", s.validator))
        .collect();
    let never_refused = [Validator::Bool, Validator::SslVersion].map(|v| format!("{v:?}"));
    for validator in &with_flags {
        assert!(
            accepted.contains(validator),
            "no case where gunicorn accepts a {validator} value"
        );
        assert!(
            refused.contains(validator) || never_refused.contains(validator),
            "no case where gunicorn's {validator} validator refuses"
        );
    }
    eprintln!(
        "oracle: {} validators, each accepted and refused",
        with_flags.len()
    );
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
        // A directory, file or user this machine lacks may be in the image.
        let on_the_machine = answer["class"] == json!("validator")
            && CmdArgs::read(line, DEFAULT_VERSION).is_ok_and(|read| {
                validators::validate(&read.parsed).iter().any(|(s, o)| {
                    matches!(o, Outcome::Depends(_))
                        && (answer["setting"] == json!(s.name)
                            || answer["setting"] == json!("validate"))
                })
            });
        assert!(
            answer["ok"] == json!(true) || on_the_machine,
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
