//! A `gunicorn.conf.py` in the project: real gunicorn loads it from its working directory
//! even when `GUNICORN_CMD_ARGS` is set, so `fabuild check` warns about it (FAB029).

use fabuild::spec::check_text;

use crate::util::{Gunicorn, real_gunicorn_with};

const SPEC: &str = "version: 1\nname: orders\napp:\n  module: orders.main:app\n  interface: wsgi\npython:\n  requirements: requirements.txt\n";

#[test]
fn a_project_gunicorn_conf_is_loaded_by_real_gunicorn_and_warned_about() {
    // The control: the same variable serves; the file in the working directory turns the
    // start into a configuration check (exit 0), or a pid file it cannot create (exit 1).
    assert_eq!(
        real_gunicorn_with("--workers=1", &[("other.conf.py", "check_config = True\n")]),
        Gunicorn::Served
    );
    assert_eq!(
        real_gunicorn_with(
            "--workers=1",
            &[("gunicorn.conf.py", "check_config = True\n")]
        ),
        Gunicorn::Exited(Some(0))
    );
    assert_eq!(
        real_gunicorn_with(
            "--workers=1",
            &[(
                "gunicorn.conf.py",
                "pidfile = '/nonexistent-fabuild-dir/g.pid'\n"
            )]
        ),
        Gunicorn::Exited(Some(1))
    );

    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("requirements.txt"), "flask==3.0.0\n").unwrap();
    let rules = |project| {
        let checked = check_text(SPEC, "app.yaml", project).unwrap();
        checked
            .warnings
            .iter()
            .map(|f| f.rule.id)
            .collect::<Vec<_>>()
    };
    assert!(!rules(project.path()).contains(&"FAB029"));
    std::fs::write(project.path().join("gunicorn.conf.py"), "daemon = True\n").unwrap();
    assert!(rules(project.path()).contains(&"FAB029"));

    // `--config` replaces the lookup: gunicorn never reads gunicorn.conf.py, so the one
    // warning is about the file `--config` names.
    assert_eq!(
        real_gunicorn_with(
            "--workers=1 --config=prod.conf.py",
            &[
                ("gunicorn.conf.py", "check_config = True\n"),
                ("prod.conf.py", "")
            ]
        ),
        Gunicorn::Served
    );
    std::fs::write(project.path().join("prod.conf.py"), "").unwrap();
    let with_config = format!("{SPEC}server:\n  extra_args: [--config=prod.conf.py]\n");
    let checked = check_text(&with_config, "app.yaml", project.path()).unwrap();
    let warned: Vec<_> = checked
        .warnings
        .iter()
        .filter(|f| f.rule.id == "FAB029")
        .map(|f| (f.message.as_str(), f.span.unwrap().line))
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].0.contains("prod.conf.py"), "{warned:?}");
    assert_eq!(warned[0].1, 9);
}
