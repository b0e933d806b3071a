//! `server.extra_args` in app.yaml: checked with gunicorn's parser and the explain rules,
//! then passed to gunicorn in `GUNICORN_CMD_ARGS`.

use std::path::Path;

use fabuild::gunicorn::argparse::Parser;
use fabuild::gunicorn::settings::DEFAULT_VERSION;
use fabuild::gunicorn::shlex;
use fabuild::spec::{self, SpecError};

use crate::util::{Gunicorn, real_gunicorn};

fn spec_with(extra: &str) -> String {
    format!(
        "version: 1\nname: orders\napp:\n  module: orders.main:app\n  interface: asgi\nserver:\n  extra_args: {extra}\n"
    )
}

/// The rule ids and the 1-based line and column of each finding.
fn errors(extra: &str) -> Vec<(String, u64, u64)> {
    match spec::check_text(&spec_with(extra), "app.yaml", Path::new(".")) {
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
    let checked = spec::check_text(
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
    spec::check_text(&spec, "app.yaml", Path::new(".")).unwrap();
}
