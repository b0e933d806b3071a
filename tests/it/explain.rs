//! `fabuild explain` as a user runs it: the verdicts on the strings from issue 3, the
//! Dockerfile and environment inputs, Chinese output and the JSON shape.

use std::process::{Command, Output};

use fabuild::gunicorn::argparse::Parser;
use fabuild::gunicorn::settings::DEFAULT_VERSION;
use fabuild::gunicorn::shlex;
use serde_json::Value;

use crate::util::{Gunicorn, real_gunicorn};

const ORIGINAL: &str = "--bind=0.0.0.0:8443 --workers=3 --worker-class uvicorn.workers.UvicornWorker \
                        --keyfile=/opt/key/abc-key.pem --certfile=/opt/key/abc-cert.pem";

fn improved() -> String {
    format!("{ORIGINAL} --ssl-version=2 --timeout 120 --max-requests 1000 --access-logfile -")
}

fn fabuild(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fabuild"));
    cmd.args(args)
        .env_remove("GUNICORN_CMD_ARGS")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn json(args: &[&str]) -> (Value, i32) {
    let mut all = vec!["explain", "--format", "json"];
    all.extend_from_slice(args);
    let out = fabuild(&all, &[]);
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    });
    (value, out.status.code().unwrap())
}

fn rules_of(report: &Value, severity: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == severity)
        .map(|f| f["rule"].as_str().unwrap().to_owned())
        .collect()
}

/// The corrected line must be one gunicorn accepts and that draws no error itself.
fn assert_corrected_is_clean(report: &Value) {
    let line = report["corrected"].as_str().expect("a corrected line");
    let argv = shlex::split(line).unwrap();
    Parser::new(DEFAULT_VERSION).parse(&argv).unwrap();
    let (again, code) = json(&[line]);
    assert_eq!(code, 0, "the corrected line still has errors: {again}");
    assert!(rules_of(&again, "error").is_empty());
}

#[test]
fn the_one_flag_line_is_accepted_with_container_warnings() {
    let (report, code) = json(&["--bind=0.0.0.0:8443"]);
    assert_eq!(code, 0);
    assert_eq!(report["accepted"], true);
    let warnings = rules_of(&report, "warning");
    for rule in ["FAB114", "FAB121", "FAB123", "FAB124"] {
        assert!(
            warnings.contains(&rule.to_owned()),
            "{rule} missing: {warnings:?}"
        );
    }
    // 8443 is not a privileged port: no claim that it needs root.
    assert!(!rules_of(&report, "error").contains(&"FAB116".to_owned()));
    let bind = &report["settings"][0];
    assert!(
        bind["container"]
            .as_str()
            .unwrap()
            .contains("needs no root")
    );
    assert_corrected_is_clean(&report);
}

#[test]
fn the_users_line_warns_about_the_deprecated_worker_class() {
    let (report, code) = json(&[ORIGINAL]);
    assert_eq!(code, 0, "{report}");
    assert!(rules_of(&report, "warning").contains(&"FAB111".to_owned()));
    assert!(rules_of(&report, "note").contains(&"FAB125".to_owned()));
    let corrected = report["corrected"].as_str().unwrap();
    assert!(corrected.contains("--worker-class=uvicorn_worker.UvicornWorker"));
    assert!(corrected.contains("--keyfile=/opt/key/abc-key.pem"));
    assert_corrected_is_clean(&report);
}

#[test]
fn the_improved_line_is_an_error_because_ssl_version_kills_uvicorn_workers() {
    let out = fabuild(&["explain", &improved()], &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("error[FAB110]: --ssl-version=2"), "{text}");
    assert!(text.contains("TypeError: 'str' object cannot be interpreted as an integer"));
    assert!(text.contains("never meant \"TLS 1.2 or newer\""));
    assert!(text.contains("--timeout 120  ->  timeout = 120"));
    let (report, _) = json(&[&improved()]);
    let corrected = report["corrected"].as_str().unwrap();
    assert!(!corrected.contains("ssl-version"), "{corrected}");
    assert!(corrected.contains("--access-logfile=-"));
    assert_corrected_is_clean(&report);
}

#[test]
fn ssl_version_without_uvicorn_is_only_deprecated() {
    let (report, code) = json(&["--bind=0.0.0.0:8443 --workers=2 --ssl-version=5"]);
    assert_eq!(code, 0);
    assert!(rules_of(&report, "warning").contains(&"FAB110".to_owned()));
}

#[test]
fn refusals_name_what_gunicorn_would_say() {
    for (input, rule) in [
        ("--work 4", "FAB102"),
        ("--preload=true", "FAB103"),
        ("--workers", "FAB104"),
        ("--workers three", "FAB105"),
        ("--version", "FAB106"),
        ("--bogus", "FAB101"),
        ("--debug", "FAB109"),
        ("--name 'open", "FAB100"),
    ] {
        let (report, code) = json(&[input]);
        assert_eq!(code, 1, "{input}");
        assert_eq!(report["accepted"], false, "{input}");
        assert!(
            rules_of(&report, "error").contains(&rule.to_owned()),
            "{input}: {report}"
        );
    }
    // Every error in one run, and a line without them.
    let (report, _) = json(&["--preload=true --bogus --workers 2"]);
    assert_eq!(rules_of(&report, "error"), ["FAB103", "FAB101"]);
    assert!(
        report["corrected"]
            .as_str()
            .unwrap()
            .starts_with("--preload --workers=2")
    );
    // An ambiguous prefix needs a person: no corrected line.
    let (report, _) = json(&["--work 4"]);
    assert!(report["corrected"].is_null());
}

#[test]
fn context_flags_change_the_verdict() {
    let (report, _) = json(&["--bind=0.0.0.0:443 --workers=2"]);
    assert!(rules_of(&report, "error").contains(&"FAB116".to_owned()));
    assert!(
        report["corrected"]
            .as_str()
            .unwrap()
            .contains("--bind=0.0.0.0:8443")
    );
    let (report, _) = json(&["--uid", "0", "--bind=0.0.0.0:443 --workers=2"]);
    assert!(!rules_of(&report, "error").contains(&"FAB116".to_owned()));

    let (report, code) = json(&["--gunicorn-version", "25.0.0", "--no-control-socket"]);
    assert_eq!(code, 1);
    assert!(rules_of(&report, "error").contains(&"FAB109".to_owned()));
    let (report, _) = json(&["--gunicorn-version", "25.0.0", "-k eventlet"]);
    assert!(rules_of(&report, "warning").contains(&"FAB112".to_owned()));
    let (report, _) = json(&["-k eventlet"]);
    assert!(rules_of(&report, "error").contains(&"FAB112".to_owned()));

    let (report, _) = json(&["--tls-mounted", ORIGINAL]);
    assert!(rules_of(&report, "warning").contains(&"FAB125".to_owned()));
}

#[test]
fn reads_the_dockerfile_as_buildkit_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    std::fs::write(
        &path,
        "# syntax=docker/dockerfile:1\nFROM python:3.12-slim AS build\nENV GUNICORN_CMD_ARGS=ignored\n\
         FROM python:3.12-slim\nENV PORT=8443\nenv APP=x \\\n    # a comment inside the continuation\n\n    \
         GUNICORN_CMD_ARGS=\"--bind=0.0.0.0:$PORT --workers=2 --name \\\"my app\\\" \\\n    --access-logfile -\"\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let (report, _) = json(&["--dockerfile", file]);
    assert_eq!(
        report["input"],
        "--bind=0.0.0.0:8443 --workers=2 --name \"my app\"     --access-logfile -"
    );
    assert_eq!(report["source"], format!("{file}:6"));
    assert_eq!(report["argv"][3], "my app");

    std::fs::write(
        &path,
        "FROM x\nENV GUNICORN_CMD_ARGS --workers 2 --preload=yes\n",
    )
    .unwrap();
    let (report, code) = json(&["--dockerfile", file]);
    assert_eq!(code, 1);
    assert_eq!(report["input"], "--workers 2 --preload=yes");

    std::fs::write(&path, "FROM x\nENV OTHER=1\n").unwrap();
    let out = fabuild(&["explain", "--dockerfile", file], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no `ENV GUNICORN_CMD_ARGS`"));
}

#[test]
fn env_and_usage_errors() {
    let out = fabuild(
        &["explain", "--env"],
        &[("GUNICORN_CMD_ARGS", "--daemon --workers 2")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("error[FAB117]: --daemon"));
    assert_eq!(fabuild(&["explain", "--env"], &[]).status.code(), Some(2));
    assert_eq!(fabuild(&["explain"], &[]).status.code(), Some(2));
    assert_eq!(
        fabuild(&["explain", "--gunicorn-version", "x", "-w 2"], &[])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        fabuild(&["explain", "--dockerfile", "/nonexistent/Dockerfile"], &[])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn speaks_chinese_and_keeps_ids_flags_and_values() {
    let out = fabuild(&["explain", "--lang", "zh", &improved()], &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("错误[FAB110]: --ssl-version=2"), "{text}");
    assert!(text.contains("每个 worker 都会因"));
    assert!(text.contains("修正后的 GUNICORN_CMD_ARGS"));
    assert!(text.contains("结论：1 个错误"));
    // No English sentence leaks into the findings.
    for line in text
        .lines()
        .filter(|l| l.trim_start().starts_with("原因") || l.trim_start().starts_with("修复"))
    {
        assert!(
            line.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{line}"
        );
    }
    let (report, _) = json(&["--lang", "zh", "--bind 127.0.0.1:8000"]);
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "FAB115")
        .unwrap();
    assert!(finding["why"].as_str().unwrap().contains("回环地址"));
}

#[test]
fn json_has_a_stable_shape() {
    let (report, _) = json(&[&improved()]);
    for key in [
        "input",
        "source",
        "gunicorn_version",
        "uid",
        "argv",
        "accepted",
        "settings",
        "findings",
        "corrected",
        "ok",
    ] {
        assert!(report.get(key).is_some(), "{key}");
    }
    assert_eq!(report["gunicorn_version"], "27.0.1");
    assert_eq!(report["uid"], 10001);
    assert_eq!(report["ok"], false);
    let setting = &report["settings"][1];
    assert_eq!(setting["name"], "workers");
    assert_eq!(setting["value"], serde_json::json!({"int": "3"}));
    let finding = &report["findings"][0];
    for key in ["rule", "title", "severity", "token", "why", "fix"] {
        assert!(finding.get(key).is_some(), "{key}");
    }
}

#[test]
fn every_explain_rule_is_documented_under_its_title() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md")).unwrap();
    for rule in fabuild::rules::ALL
        .iter()
        .filter(|r| r.id.starts_with("FAB1"))
    {
        let heading = format!("### {} {}", rule.id, rule.title);
        assert!(doc.contains(&heading), "docs/rules.md needs `{heading}`");
    }
}

#[test]
fn check_and_print_config_stop_the_container_as_real_gunicorn_shows() {
    // The control: without the flag the same app serves.
    assert_eq!(real_gunicorn("--workers=1"), Gunicorn::Served);
    for flag in ["--check-config", "--print-config"] {
        assert_eq!(
            real_gunicorn(&format!("--workers=1 {flag}")),
            Gunicorn::Exited(Some(0)),
            "{flag}"
        );

        let line = format!("--bind=0.0.0.0:8000 --workers=1 {flag}");
        let (report, code) = json(&[&line]);
        assert_eq!(code, 1, "{report}");
        assert!(
            rules_of(&report, "error").contains(&"FAB106".to_owned()),
            "{flag}: {report}"
        );
        let corrected = report["corrected"].as_str().unwrap();
        assert!(!corrected.contains(flag), "{corrected}");
        assert_corrected_is_clean(&report);
    }
}

/// FAB130: the real gunicorn with `--spew` serves, but its worker prints a line for each line
/// of Python it runs (`module:line: source`): tens of thousands before the first response, as
/// it boots (the control prints none).
#[test]
fn spew_floods_stdout_as_real_gunicorn_shows() {
    let traced = |stdout: &str| {
        stdout
            .lines()
            .filter(|l| {
                l.split(':')
                    .nth(1)
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
            .count()
    };
    let (served, quiet) = crate::util::real_gunicorn_stdout("--workers=1");
    assert_eq!(served, Gunicorn::Served);
    assert_eq!(traced(&quiet), 0, "{quiet}");
    let (served, spewed) = crate::util::real_gunicorn_stdout("--workers=1 --spew");
    assert_eq!(served, Gunicorn::Served);
    assert!(traced(&spewed) > 10_000, "{}", traced(&spewed));

    let (report, code) = json(&["--bind=0.0.0.0:8000 --workers=1 --access-logfile=- --spew"]);
    assert_eq!(code, 0, "a warning: {report}");
    assert!(
        rules_of(&report, "warning").contains(&"FAB130".to_owned()),
        "{report}"
    );
    let corrected = report["corrected"].as_str().unwrap();
    assert!(!corrected.contains("spew"), "{corrected}");
    assert_corrected_is_clean(&report);
}

#[test]
fn pid_file_and_error_log_outside_tmp_are_warned_about_for_a_non_root_uid() {
    let line = "--workers=2 --pid /var/run/gunicorn.pid --error-logfile=/var/log/gunicorn.log";
    let (report, code) = json(&[line]);
    assert_eq!(code, 0, "{report}");
    let warned = rules_of(&report, "warning");
    assert_eq!(
        warned.iter().filter(|r| *r == "FAB127").count(),
        2,
        "{report}"
    );
    let corrected = report["corrected"].as_str().unwrap();
    assert!(
        !corrected.contains("--pid") && !corrected.contains("--error-logfile"),
        "{corrected}"
    );
    assert_corrected_is_clean(&report);

    let (report, _) = json(&["--uid", "0", line]);
    assert!(!rules_of(&report, "warning").contains(&"FAB127".to_owned()));
    let (report, _) = json(&["--pid=/tmp/gunicorn.pid --error-logfile=- --log-file=/dev/shm/e"]);
    assert!(
        !rules_of(&report, "warning").contains(&"FAB127".to_owned()),
        "{report}"
    );
}

/// FAB129's limit is the kernel's: the longest `GUNICORN_CMD_ARGS` a process can be started
/// with is the longest value explain lets through.
#[test]
fn the_longest_value_a_process_takes_is_the_longest_explain_accepts() {
    let limit = fabuild::gunicorn::rules::MAX_ENV_STRING - "GUNICORN_CMD_ARGS=".len();
    let head = "--workers=2 --name=";
    let longest = format!("{head}{}", "a".repeat(limit - head.len()));
    let too_long = format!("{longest}a");
    // The oracle: Linux starts a process with the longest value, and not with one byte more.
    let start = |value: &str| {
        Command::new("true")
            .env_clear()
            .env("GUNICORN_CMD_ARGS", value)
            .status()
    };
    assert!(start(&longest).unwrap().success());
    let refused = start(&too_long).unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(7), "E2BIG: {refused}");

    let (report, _) = json(&[&longest]);
    assert!(
        !rules_of(&report, "error").contains(&"FAB129".to_owned()),
        "{report}"
    );
    let (report, code) = json(&[&too_long]);
    assert_eq!(code, 1);
    assert_eq!(rules_of(&report, "error"), ["FAB129"]);
    let why = report["findings"][0]["why"].as_str().unwrap();
    assert!(
        why.starts_with("GUNICORN_CMD_ARGS=... is 131072 bytes; Linux passes at most 131071"),
        "{why}"
    );
}

/// FAB131: argparse takes a sign, gunicorn's validators do not. The real gunicorn exits 1 on
/// each of these (the control, the same line without the value, serves); explain calls each
/// an error with gunicorn's own message, and its corrected line leaves the value out.
#[test]
fn values_gunicorns_validators_refuse_are_errors_as_real_gunicorn_shows() {
    assert_eq!(real_gunicorn("--workers=1"), Gunicorn::Served);
    for (flag, message) in [
        ("--max-requests=-1", "Value must be positive: -1"),
        ("--workers=-1", "Value must be positive: -1"),
        ("--timeout=-5", "Value must be positive: -5"),
        ("--backlog=-1", "Value must be positive: -1"),
        ("--umask=-0o7", "Value must be positive: -7"),
        ("--reload-engine=fast", "Invalid reload_engine: 'fast'"),
        (
            "--proxy-protocol=v3",
            "proxy_protocol must be: off, v1, v2, or auto",
        ),
        (
            "--http2-max-frame-size=1",
            "http2_max_frame_size must be between 16384 and 16777215, got 1",
        ),
    ] {
        assert_eq!(
            real_gunicorn(&format!("--workers=1 {flag}")),
            Gunicorn::Exited(Some(1)),
            "{flag}"
        );
        let line = format!("--bind=0.0.0.0:8000 --workers=2 {flag}");
        let (report, code) = json(&[&line]);
        assert_eq!(code, 1, "{flag}: {report}");
        assert_eq!(report["accepted"], false, "{flag}");
        let finding = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "FAB131")
            .unwrap_or_else(|| panic!("{flag}: no FAB131 in {report}"));
        assert_eq!(finding["severity"], "error");
        let why = finding["why"].as_str().unwrap();
        assert!(why.contains(&format!("`Error: {message}`")), "{why}");
        let corrected = report["corrected"].as_str().unwrap();
        let name = flag.split_once('=').unwrap().0;
        assert!(!corrected.contains(name), "{corrected}");
        assert_corrected_is_clean(&report);
    }
}
