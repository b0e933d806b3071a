//! `server.extra_args` in app.yaml: checked with gunicorn's parser and the explain rules,
//! then passed to gunicorn in `GUNICORN_CMD_ARGS`.

use std::path::Path;

use fabuild::gunicorn::argparse::Parser;
use fabuild::gunicorn::settings::DEFAULT_VERSION;
use fabuild::gunicorn::shlex;
use fabuild::spec::SpecError;

use crate::util::{Gunicorn, real_gunicorn, real_gunicorn_with};

fn spec_with(extra: &str) -> String {
    format!(
        "version: 1\nname: orders\napp:\n  module: orders.main:app\n  interface: asgi\nserver:\n  extra_args: {extra}\n"
    )
}

/// The rule ids and the 1-based line and column of each finding.
fn errors(extra: &str) -> Vec<(String, u64, u64)> {
    match fabuild::check::check_text(&spec_with(extra), "app.yaml", Path::new(".")) {
        Ok(_) => Vec::new(),
        Err(SpecError::Invalid { findings, .. }) => findings
            .iter()
            .filter(|f| f.is_error())
            .map(|f| {
                let span = f.span.expect("a finding about extra_args points at it");
                (f.rule.id.to_owned(), span.line, span.column)
            })
            .collect(),
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn accepted_flags_reach_gunicorn_cmd_args() {
    let checked = fabuild::check::check_text(
        &spec_with(
            "[\"--limit-request-line=8190\", \"--proxy-protocol\", \"--log-level\", \"warning\"]",
        ),
        "app.yaml",
        Path::new("."),
    )
    .unwrap();
    let plan = fabuild::plan::plan(&checked.spec, &fabuild::plan::Overrides::default());
    let argv = shlex::split(&plan.gunicorn_cmd_args).unwrap();
    let parsed = Parser::new(DEFAULT_VERSION).parse(&argv).unwrap();
    assert_eq!(parsed.values["limit_request_line"].display(), "8190");
    assert_eq!(parsed.values["proxy_protocol"].display(), "auto");
    assert_eq!(parsed.values["loglevel"].display(), "warning");
    assert!(parsed.positionals.is_empty());
}

#[test]
fn refuses_what_gunicorn_or_the_rules_refuse_and_points_at_the_item() {
    // Line 7 holds the list; the column is the offending item's.
    assert_eq!(errors("[\"--bogus=1\"]"), [("FAB101".to_owned(), 7, 16)]);
    assert_eq!(errors("[\"--preload=true\"]")[0].0, "FAB103");
    assert_eq!(errors("[\"--limit-request-li=8190\"]")[0].0, "FAB107");
    assert_eq!(errors("[\"--work=2\"]")[0].0, "FAB102");
    assert_eq!(errors("[\"--ssl-version=5\"]")[0].0, "FAB110");
    assert_eq!(errors("[\"--reload\"]")[0].0, "FAB118");
    assert_eq!(errors("[\"--spew\"]"), [("FAB130".to_owned(), 7, 16)]);
    assert_eq!(
        errors("[\"--limit-request-line\", \"8190\", \"x:app\"]")[0].0,
        "FAB108"
    );
}

#[test]
fn refuses_flags_the_spec_decides() {
    for flag in [
        "--bind=0.0.0.0:80",
        "-w4",
        "--keyfile=/k.pem",
        "--worker-class=sync",
        "--daemon",
        "--no-control-socket",
    ] {
        let found = errors(&format!("[\"{flag}\"]"));
        assert_eq!(
            found.first().map(|f| f.0.as_str()),
            Some("FAB126"),
            "{flag}: {found:?}"
        );
    }
}

#[test]
fn refuses_flags_that_make_gunicorn_exit_without_serving() {
    for flag in ["--check-config", "--print-config"] {
        assert_eq!(
            errors(&format!("[\"{flag}\"]")),
            [("FAB106".to_owned(), 7, 16)],
            "{flag}"
        );
    }
}

#[test]
fn pid_file_and_error_log_must_be_where_the_uid_can_create_them() {
    // Real gunicorn exits with status 1 when it cannot create either file (here: the
    // directory is missing; as a non-root uid on a read-only root it is "Permission denied").
    let scratch = tempfile::tempdir().unwrap();
    for flag in ["--pid", "--error-logfile"] {
        assert_eq!(
            real_gunicorn(&format!("--workers=1 {flag}=/nonexistent-fabuild-dir/g")),
            Gunicorn::Exited(Some(1)),
            "{flag}"
        );
        let inside = scratch.path().join(flag.trim_start_matches('-'));
        assert_eq!(
            real_gunicorn(&format!("--workers=1 {flag}={}", inside.display())),
            Gunicorn::Served,
            "{flag}"
        );
    }

    assert_eq!(
        errors("[\"--pid=/var/run/gunicorn.pid\"]"),
        [("FAB127".to_owned(), 7, 16)]
    );
    // The value's own token is pointed at when it is separate.
    assert_eq!(
        errors("[\"--log-file\", \"/var/log/gunicorn/error.log\"]"),
        [("FAB127".to_owned(), 7, 30)]
    );
    assert_eq!(errors("[\"--error-logfile=errors.log\"]")[0].0, "FAB127");
    assert_eq!(errors("[\"--pid=/tmp/../etc/g.pid\"]")[0].0, "FAB127");
    for fine in [
        "[\"--pid=/tmp/gunicorn.pid\", \"--error-logfile=-\"]",
        "[\"-p/dev/shm/g.pid\", \"--log-file=/tmp/errors.log\"]",
    ] {
        assert_eq!(errors(fine), [], "{fine}");
    }
    // app.writable directories count, relative ones against the app directory.
    let spec =
        spec_with("[\"--error-logfile=instance/errors.log\", \"--pid=/var/lib/orders/g.pid\"]")
            .replace(
                "  interface: asgi\n",
                "  interface: asgi\n  writable: [instance, /var/lib/orders]\n",
            );
    fabuild::check::check_text(&spec, "app.yaml", Path::new(".")).unwrap();
}

/// The findings (rule id, 1-based line and column, error or not) for `extra` checked with
/// `files` (path, text) in the project.
fn findings_with(extra: &str, files: &[&str]) -> Vec<(String, u64, u64, bool)> {
    let project = tempfile::tempdir().unwrap();
    for name in files.iter().chain(&["requirements.txt"]) {
        let path = project.path().join(name);
        if let Some(dir) = name.strip_suffix('/') {
            std::fs::create_dir_all(project.path().join(dir)).unwrap();
        } else {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
    }
    let findings = match fabuild::check::check_text(&spec_with(extra), "app.yaml", project.path()) {
        Ok(checked) => checked.warnings,
        Err(SpecError::Invalid { findings, .. }) => findings,
        Err(other) => panic!("{other}"),
    };
    findings
        .iter()
        .map(|f| {
            let span = f.span.expect("a finding about extra_args points at it");
            (f.rule.id.to_owned(), span.line, span.column, f.is_error())
        })
        .collect()
}

const LOGGING_INI: &str = "[loggers]\nkeys=root\n[handlers]\nkeys=h\n[formatters]\nkeys=\n[logger_root]\nlevel=INFO\nhandlers=h\n[handler_h]\nclass=StreamHandler\nargs=(sys.stderr,)\n";

#[test]
fn files_gunicorn_opens_at_start_must_be_in_the_project() {
    // Real gunicorn exits with status 1 without the config file, the directory to change to
    // or the logging config, and serves with them; a missing JSON logging config is ignored
    // without a word (it serves, logging with its defaults).
    let present: [(&str, &[(&str, &str)]); 4] = [
        ("--config=prod.conf.py", &[("prod.conf.py", "")]),
        (
            "--chdir=src",
            &[("src/probe_app.py", crate::util::PROBE_APP)],
        ),
        ("--log-config=logging.ini", &[("logging.ini", LOGGING_INI)]),
        (
            "--log-config-json=log.json",
            &[("log.json", "{\"version\": 1}")],
        ),
    ];
    for (flag, files) in present {
        assert_eq!(
            real_gunicorn(&format!("--workers=1 {flag}")),
            {
                if flag.starts_with("--log-config-json") {
                    Gunicorn::Served
                } else {
                    Gunicorn::Exited(Some(1))
                }
            },
            "{flag} missing"
        );
        assert_eq!(
            real_gunicorn_with(&format!("--workers=1 {flag}"), files),
            Gunicorn::Served,
            "{flag} present"
        );
    }

    // fabuild refuses each one the project lacks (the image copies the project to /app, the
    // working directory), pointing at the item.
    for flag in [
        "--config=prod.conf.py",
        "--chdir=src",
        "--log-config=logging.ini",
        "--log-config-json=log.json",
        "--config=file:/app/prod.conf.py",
        "--log-config=../app/logging.ini",
    ] {
        assert_eq!(
            findings_with(&format!("[\"{flag}\"]"), &[])
                .into_iter()
                .filter(|f| f.3)
                .collect::<Vec<_>>(),
            [("FAB128".to_owned(), 7, 16, true)],
            "{flag}"
        );
    }
    // With the files in the project, only the config file is warned about (FAB029: its
    // settings are not checked).
    let files = ["prod.conf.py", "src/", "src/logging.ini", "log.json"];
    assert_eq!(
        findings_with(
            "[\"--config=prod.conf.py\", \"--chdir=src\", \"--log-config=logging.ini\", \"--log-config-json=/app/log.json\"]",
            &files,
        ),
        [("FAB029".to_owned(), 7, 16, false)]
    );
    // The logging config is read after the change of directory; the config file before.
    let errors: Vec<_> = findings_with("[\"--chdir=src\", \"--log-config=log.json\"]", &files)
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(errors, ["FAB128"]);
    assert_eq!(
        findings_with("[\"--chdir=src\", \"--config=src/prod.conf.py\"]", &files)[0].0,
        "FAB128"
    );
    // Paths outside the app directory may be mounts, and a module is not a file: not judged.
    for flag in [
        "--log-config=/etc/gunicorn/logging.ini",
        "--chdir=/srv",
        "--config=python:settings.gunicorn",
    ] {
        assert!(
            findings_with(&format!("[\"{flag}\"]"), &[])
                .iter()
                .all(|f| !f.3),
            "{flag}"
        );
    }
    // An app.writable directory is a mount: what is in it is decided at run time.
    let spec = spec_with("[\"--log-config=state/logging.ini\"]").replace(
        "  interface: asgi\n",
        "  interface: asgi\n  writable: [state]\n",
    );
    fabuild::check::check_text(&spec, "app.yaml", Path::new(".")).unwrap();
}

#[test]
fn paste_makes_every_worker_fail_to_boot() {
    // gunicorn reads the app module it is started with as the PasteDeploy URI; here
    // PasteDeploy is not even installed. Either way the worker fails and gunicorn exits 3.
    assert_eq!(
        real_gunicorn_with(
            "--workers=1 --paste=app.ini",
            &[("app.ini", "[app:main]\nuse = call:probe_app:app\n")]
        ),
        Gunicorn::Exited(Some(3))
    );
    assert_eq!(
        errors("[\"--paste=app.ini\"]"),
        [("FAB126".to_owned(), 7, 16)]
    );
}

/// FAB129 in `check`: the longest `GUNICORN_CMD_ARGS` a spec may plan, and the longest `env`
/// entry, are the longest a process can be started with (the kernel is the oracle).
#[test]
fn every_planned_variable_fits_in_one_environment_string() {
    use fabuild::gunicorn::rules::MAX_ENV_STRING;
    let starts = |name: &str, value: &str| {
        std::process::Command::new("true")
            .env_clear()
            .env(name, value)
            .status()
            .is_ok_and(|s| s.success())
    };
    let check = |text: &str| match fabuild::check::check_text(text, "app.yaml", Path::new(".")) {
        Ok(checked) => Ok(fabuild::plan::plan(
            &checked.spec,
            &fabuild::plan::Overrides::default(),
        )),
        Err(SpecError::Invalid { findings, .. }) => Err(findings
            .iter()
            .filter(|f| f.is_error())
            .map(|f| f.rule.id)
            .collect::<Vec<_>>()),
        Err(other) => panic!("{other}"),
    };

    let named = |n: usize| spec_with(&format!("[\"--name={}\"]", "a".repeat(n)));
    let planned = |n: usize| check(&named(n)).unwrap().gunicorn_cmd_args;
    let room = MAX_ENV_STRING - "GUNICORN_CMD_ARGS=".len() - planned(0).len();
    let longest = planned(room);
    assert_eq!("GUNICORN_CMD_ARGS=".len() + longest.len(), MAX_ENV_STRING);
    assert!(starts("GUNICORN_CMD_ARGS", &longest));
    assert!(!starts("GUNICORN_CMD_ARGS", &format!("{longest}a")));
    assert_eq!(check(&named(room + 1)).unwrap_err(), ["FAB129"]);

    let with_env = |n: usize| format!("{}env:\n  BIG: {}\n", spec_with("[]"), "x".repeat(n));
    let room = MAX_ENV_STRING - "BIG=".len();
    let plan = check(&with_env(room)).unwrap();
    let big = &plan.env.iter().find(|(k, _)| k == "BIG").unwrap().1;
    assert!(starts("BIG", big));
    assert_eq!(check(&with_env(room + 1)).unwrap_err(), ["FAB129"]);
}

/// FAB131: a value argparse takes and gunicorn's validator refuses (the real gunicorn exits 1
/// on it, as `tests/it/explain.rs` shows) is refused in the spec, at the item.
#[test]
fn refuses_values_gunicorns_validators_refuse() {
    for item in [
        "--backlog=-1",
        "--umask=-1",
        "--limit-request-line=-1",
        "--reload-engine=fast",
        "--proxy-allow-from=10.0.0.1/8",
    ] {
        assert_eq!(
            errors(&format!("[\"{item}\"]")),
            [("FAB131".to_owned(), 7, 16)],
            "{item}"
        );
    }
    for item in [
        "--backlog=0",
        "--umask=0o22",
        "--proxy-allow-from=10.0.0.0/8",
    ] {
        assert_eq!(errors(&format!("[\"{item}\"]")), [], "{item}");
    }
}
