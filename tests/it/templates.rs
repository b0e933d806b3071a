//! A team's own templates: used instead of the built-in ones, same context, and a broken
//! one is reported by name and line with nothing written.

use std::fs;

use crate::util;

const SPEC: &str = "version: 1\nname: billing\napp:\n  module: main:app\n  interface: asgi\n";

#[test]
fn a_team_template_replaces_the_builtin_one() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("app.yaml"), SPEC).unwrap();
    fs::create_dir(dir.path().join("tpl")).unwrap();
    let builtin = fs::read_to_string(util::repo().join("templates/Dockerfile.j2")).unwrap();
    fs::write(
        dir.path().join("tpl/Dockerfile.j2"),
        format!("{builtin}# team: payments ({{{{ plan.workers.count }}}} workers)\n"),
    )
    .unwrap();
    let out = util::fabuild(dir.path())
        .args(["gen", "--templates", "tpl"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dockerfile = fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(
        dockerfile.ends_with("\n# team: payments (2 workers)\n"),
        "{dockerfile}"
    );
    assert!(
        dockerfile.contains("#   fabuild gen app.yaml --templates tpl\n"),
        "the header must say how to regenerate:\n{dockerfile}"
    );
    // Templates not in the directory keep the built-in version.
    assert!(
        fs::read_to_string(dir.path().join("requirements-server.txt"))
            .unwrap()
            .contains("uvicorn-worker==0.4.0")
    );
}

#[test]
fn a_broken_template_names_its_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("app.yaml"), SPEC).unwrap();
    fs::create_dir(dir.path().join("tpl")).unwrap();
    fs::write(
        dir.path().join("tpl/dockerignore.j2"),
        "**/*.pem\n{{ plan.no_such_value }}\n",
    )
    .unwrap();
    let out = util::fabuild(dir.path())
        .args(["gen", "--templates", "tpl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("template dockerignore.j2:2"), "{stderr}");
    assert!(
        !dir.path().join("Dockerfile").exists(),
        "files written despite a template error"
    );
}
