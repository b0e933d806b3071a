//! What the `spec` and `spec_fields` targets share: the project directory specs are checked
//! against, and the invariants every accepted spec's rendered Dockerfile must keep.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use fabuild::explain::dockerfile::find_env;
use fabuild::gunicorn::shlex;
use fabuild::output::header;
use fabuild::plan::Plan;
use fabuild::render::{self, Paths};

/// A project directory made once, with the files specs can name so that they validate:
/// requirements files, a uv lock with its pyproject.toml (`python.lock`), and PEP 621 and
/// Poetry pyproject.toml files (`python.project`); and some that are refused: a lock that
/// pins gunicorn 20.1.0, a lock without its pyproject.toml, a link out of the project.
pub fn project() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("fabuild-fuzz-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let files: [(&str, &str); 7] = [
            ("requirements.txt", "flask==3.0.0\n"),
            ("service/requirements.txt", "starlette\n"),
            (
                "uv.lock",
                include_str!("../../../examples/fastapi-uv/uv.lock"),
            ),
            (
                "pyproject.toml",
                include_str!("../../../examples/fastapi-uv/pyproject.toml"),
            ),
            (
                "pep621/pyproject.toml",
                include_str!("../../../tests/cmd/check.in/project-ok/pyproject.toml"),
            ),
            (
                "poetry/pyproject.toml",
                include_str!("../../../tests/fixtures/init/poetry/pyproject.toml"),
            ),
            (
                "poetry-git/pyproject.toml",
                include_str!("../../../tests/cmd/check.in/project-poetry/pyproject.toml"),
            ),
        ];
        // A lock that pins gunicorn differently from fabuild, one with no pyproject.toml
        // beside it, and a requirements file that links out of the project.
        let conflict = format!(
            "{}\n[[package]]\nname = \"gunicorn\"\nversion = \"20.1.0\"\nsource = {{ registry = \"https://pypi.org/simple\" }}\n",
            files[2].1
        );
        let more = [
            ("conflict/uv.lock", conflict.as_str()),
            ("conflict/pyproject.toml", files[3].1),
            ("lonely/uv.lock", files[2].1),
        ];
        for (path, text) in files.into_iter().chain(more) {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("project dir");
            std::fs::write(path, text).expect("project file");
        }
        std::os::unix::fs::symlink("/etc/hostname", dir.join("linked.txt")).expect("a link");
        dir
    })
}

/// Paths as `generate::prepare` builds them when the output directory is the project.
fn paths(plan: &Plan) -> Paths {
    Paths::new("", plan.app_dependencies.requirements().map(str::to_owned))
}

const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Per line: does it start an instruction, is it a comment, does it continue onto the next.
fn shape(dockerfile: &str) -> Vec<(bool, bool, bool)> {
    dockerfile
        .split('\n')
        .map(|line| {
            let word = line.trim_start().split([' ', '\t']).next().unwrap_or("");
            (
                KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word)),
                line.trim_start().starts_with('#'),
                line.trim_end().ends_with('\\'),
            )
        })
        .collect()
}

fn dockerfile(plan: &Plan) -> String {
    let rendered = render::render(plan, &paths(plan), None).expect("built-in templates render");
    for file in &rendered {
        let _ = header::stamp(&file.body, "app.yaml", "fabuild gen app.yaml");
    }
    rendered
        .into_iter()
        .find(|r| r.name == "Dockerfile")
        .expect("a Dockerfile")
        .body
}

/// Renders the plan and asserts what no spec value may change: the Dockerfile's structure,
/// every ENV read back, and GUNICORN_CMD_ARGS split back into the argv.
pub fn check_rendered(plan: &Plan) {
    let rendered = dockerfile(plan);

    // No value can add a line, an instruction, a comment or a continuation: the Dockerfile
    // has the shape of the same plan with every ENV and LABEL value replaced by "x".
    let mut plain = plan.clone();
    for (_, value) in plain.env.iter_mut().chain(plain.labels.iter_mut()) {
        *value = "x".to_owned();
    }
    assert_eq!(
        shape(&rendered),
        shape(&dockerfile(&plain)),
        "a spec value changed the Dockerfile's structure:\n{rendered}"
    );

    // Every ENV reads back as planned, and GUNICORN_CMD_ARGS splits back into the argv.
    for (key, _) in &plan.env {
        let planned = &plan.env.iter().rev().find(|(k, _)| k == key).unwrap().1;
        let found = find_env(&rendered, key).unwrap_or_else(|e| panic!("ENV {key}: {e}"));
        assert_eq!(&found.value, planned, "ENV {key} reads back differently");
    }
    assert_eq!(
        shlex::split(&plan.gunicorn_cmd_args).as_ref(),
        Ok(&plan.argv),
        "GUNICORN_CMD_ARGS does not split back into the argv"
    );
}
