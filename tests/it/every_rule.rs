//! Every rule fabuild can report is exercised by a test that makes it fire. The rules no
//! other test reached fire here, each on the smallest input that breaks it; a new rule
//! without a test fails `every_rule_is_exercised_by_a_test`.

use std::path::Path;

use fabuild::diagnostic::Severity;
use fabuild::gunicorn::rules::Context;
use fabuild::spec::SpecError;

use crate::util;

/// A spec that passes, with `extra` added under the key path its lines give.
fn spec(extra: &str) -> String {
    format!("version: 1\nname: orders\napp:\n  module: orders.main:app\n  interface: asgi\n{extra}")
}

/// The rule ids `check` reports for `text`, errors and warnings alike.
fn check(text: &str) -> Vec<&'static str> {
    match fabuild::check::check_text(text, "app.yaml", Path::new(".")) {
        Ok(checked) => checked.warnings.iter().map(|f| f.rule.id).collect(),
        Err(SpecError::Invalid { findings, .. }) => findings.iter().map(|f| f.rule.id).collect(),
        Err(other) => panic!("{other}"),
    }
}

/// The rule ids `explain` reports for a `GUNICORN_CMD_ARGS` value, with the severity.
fn explain(value: &str) -> Vec<(&'static str, Severity)> {
    let explanation = fabuild::explain::explain(value, "argument", &Context::default());
    explanation
        .advice
        .iter()
        .map(|a| (a.rule.id, a.severity))
        .collect()
}

#[test]
fn spec_rules_fire_on_the_input_that_breaks_them() {
    let cases: &[(&str, &str)] = &[
        ("FAB023", "server:\n  threads: 4\n"),
        ("FAB024", "server:\n  keepalive: 5\n"),
        ("FAB025", "server:\n  max_requests_jitter: 50\n"),
        ("FAB027", "server:\n  forwarded_allow_ips: [\"*\"]\n"),
        ("FAB028", "server:\n  timeout: 0\n"),
        ("FAB063", "build:\n  ca_secret: \"pip ca\"\n"),
        ("FAB071", "healthcheck:\n  path: /healthz\n  interval: 0\n"),
        ("FAB080", "deploy:\n  image: \"Not An Image\"\n"),
        ("FAB081", "deploy:\n  replicas: 0\n"),
    ];
    for (id, extra) in cases {
        let text = spec(extra);
        let found = check(&text);
        assert!(found.contains(id), "{id} for\n{text}\nfound {found:?}");
    }
    // The base spec itself draws none of them: each input above is what made its rule fire.
    let clean = check(&spec(""));
    for (id, _) in cases {
        assert!(
            !clean.contains(id),
            "{id} fires on the base spec: {clean:?}"
        );
    }
}

#[test]
fn explain_rules_fire_on_the_value_that_breaks_them() {
    let cases: &[(&str, Severity, &str)] = &[
        (
            "FAB113",
            Severity::Error,
            "--bind=0.0.0.0:8443 --keyfile=/opt/key/key.pem",
        ),
        (
            "FAB119",
            Severity::Warning,
            "--bind=0.0.0.0:8000 --forwarded-allow-ips=*",
        ),
        (
            "FAB120",
            Severity::Error,
            "--bind=0.0.0.0:8000 --forwarded-allow-ips=10.0.0.1/8",
        ),
        ("FAB122", Severity::Warning, "--bind=0.0.0.0:8000"),
        (
            "FAB131",
            Severity::Error,
            "--bind=0.0.0.0:8000 --backlog=-1",
        ),
    ];
    for (id, severity, value) in cases {
        let found = explain(value);
        assert!(
            found.contains(&(*id, *severity)),
            "{id} ({severity:?}) for `{value}`: found {found:?}"
        );
    }
    let clean = explain("--bind=0.0.0.0:8000 --worker-tmp-dir=/dev/shm");
    for (id, _, _) in cases {
        assert!(
            !clean.iter().any(|(found, _)| found == id),
            "{id} fires on a clean value: {clean:?}"
        );
    }
}

/// The text of every test: the integration tests, the CLI transcripts and their inputs,
/// the real-engine scripts, and the unit tests inside src/ (from `#[cfg(test)]` on).
fn test_sources() -> String {
    let repo = util::repo();
    let mut text = String::new();
    let mut stack = vec![repo.join("tests"), repo.join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(content) = std::fs::read_to_string(&path) else {
                continue;
            };
            if path.starts_with(repo.join("src")) {
                if let Some(at) = content.find("#[cfg(test)]") {
                    text.push_str(&content[at..]);
                }
            } else {
                text.push_str(&content);
            }
            text.push('\n');
        }
    }
    text
}

#[test]
fn every_rule_is_exercised_by_a_test() {
    let sources = test_sources();
    let missing: Vec<&str> = fabuild::rules::ALL
        .iter()
        .map(|rule| rule.id)
        .filter(|id| !sources.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "no test names these rules; add a case that makes each fire (see CONTRIBUTING.md): {missing:?}"
    );
}
