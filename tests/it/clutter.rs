//! Repository clutter (CI files, tests, docs, the project's own container files) stays out
//! of /app, through the `.dockerignore` gen writes and `fabuild build` reads, unless the
//! spec shows the app imports from it.

use crate::build::{Project, SPEC, layer_entry};

/// Clutter a repository commonly holds, each with one file in it.
const CLUTTER: &[&str] = &[
    ".github/workflows/ci.yml",
    ".gitlab-ci.yml",
    "tests/test_app.py",
    "docs/index.md",
    "compose.yaml",
    "docker-compose.yml",
    "Containerfile",
    ".vscode/settings.json",
];

fn with_clutter(spec: &str) -> Project {
    let project = Project::new();
    // The generated ignore file decides, not the one Project starts with.
    std::fs::remove_file(project.root.join(".dockerignore")).unwrap();
    std::fs::write(project.root.join("app.yaml"), spec).unwrap();
    for file in CLUTTER {
        let path = project.root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "clutter\n").unwrap();
    }
    project
}

#[test]
fn ci_files_tests_docs_and_container_files_stay_out_of_the_app() {
    let project = with_clutter(SPEC);
    project.build("img", "cache", &[]);
    let [_, _, app] = project.added_layers("img");
    for file in CLUTTER {
        assert!(
            layer_entry(&app, &format!("app/{file}")).is_none(),
            "{file} reached /app"
        );
    }
    assert!(
        layer_entry(&app, "app/wsgi.py").is_some(),
        "the app itself is copied"
    );

    // gen's file says why for each, and is the file build read.
    crate::util::gen_ok(&project.root);
    let ignore = std::fs::read_to_string(project.root.join(".dockerignore")).unwrap();
    for line in [
        "# CI configuration: it runs beside the image, not in it.\n.github\n",
        "# Test suites and documentation: the server never loads them.\ntests\ntest\ndocs\n",
    ] {
        assert!(ignore.contains(line), "{ignore}");
    }
}

#[test]
fn a_package_named_like_clutter_that_the_app_imports_is_kept() {
    let spec = SPEC.replace("module: wsgi:app", "module: tests.app:app")
        + "env:\n  DJANGO_SETTINGS_MODULE: docs.settings\n";
    let project = with_clutter(&spec);
    std::fs::write(project.root.join("tests/__init__.py"), "").unwrap();
    std::fs::write(
        project.root.join("tests/app.py"),
        "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n",
    )
    .unwrap();
    project.build("img", "cache", &[]);
    let [_, _, app] = project.added_layers("img");
    for kept in [
        "app/tests/app.py",
        "app/tests/test_app.py",
        "app/docs/index.md",
    ] {
        assert!(layer_entry(&app, kept).is_some(), "{kept} left out");
    }
    assert!(layer_entry(&app, "app/.github/workflows/ci.yml").is_none());

    crate::util::gen_ok(&project.root);
    let ignore = std::fs::read_to_string(project.root.join(".dockerignore")).unwrap();
    assert!(
        !ignore.lines().any(|l| l == "tests" || l == "docs"),
        "{ignore}"
    );
    assert!(
        ignore
            .contains("# Not left out: tests (app.module `tests.app:app` is imported from it).\n"),
        "{ignore}"
    );
}
