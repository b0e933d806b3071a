//! A requirements line that installs from the machine's own files (`-e ./lib`, a wheel
//! path, a `file:` URL, a local `--find-links`) works on a laptop and fails in the image
//! build, which copies only the requirements files. `check` and `gen` refuse it with the
//! file and line (FAB065) before any build starts.

use std::process::Command;

use crate::util::{fabuild, python};

const SPEC: &str = "version: 1\nname: svc\napp:\n  module: main:app\n  interface: wsgi\npython:\n  version: \"3.12\"\n  requirements: requirements.txt\n";

fn project(requirements: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("app.yaml", SPEC);
    write(
        "main.py",
        "def app(environ, start_response):\n    return []\n",
    );
    write(
        "lib/pyproject.toml",
        "[project]\nname = \"lib\"\nversion = \"1.0\"\n",
    );
    write("lib/lib/__init__.py", "");
    write("requirements.txt", requirements);
    dir
}

#[test]
fn pip_in_the_build_cannot_find_what_a_local_line_names() {
    // The oracle: real pip, reading the requirements file where the image build copies
    // it (a directory of its own), fails on the line fabuild refuses.
    let dir = project("-e ./lib\n");
    let build = tempfile::tempdir().unwrap();
    std::fs::copy(
        dir.path().join("requirements.txt"),
        build.path().join("requirements.txt"),
    )
    .unwrap();
    let pip = Command::new(python())
        .args(["-m", "pip", "install", "--dry-run", "--no-index", "--quiet"])
        .args(["--disable-pip-version-check", "-r", "requirements.txt"])
        .current_dir(build.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&pip.stderr);
    assert!(
        !pip.status.success(),
        "pip installed `-e ./lib` without lib: {stderr}"
    );
    assert!(stderr.contains("lib"), "{stderr}");
}

#[test]
fn check_and_gen_refuse_each_local_line_with_its_place() {
    let dir = project(
        "flask==3.0.0\n-e ./lib\n./dist/app-1.0-py3-none-any.whl\nlib @ file:///src/lib\n-f ./wheels\n-e git+https://example.com/repo.git#egg=x\n",
    );
    let check = fabuild(dir.path())
        .args(["check", "app.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{stderr}");
    for (line, source) in [
        (2, "./lib"),
        (3, "./dist/app-1.0-py3-none-any.whl"),
        (4, "file:///src/lib"),
        (5, "./wheels"),
    ] {
        assert!(
            stderr.contains(&format!(
                "error[FAB065]: requirements.txt:{line} installs `{source}` from this machine's files"
            )),
            "line {line}: {stderr}"
        );
    }
    // A VCS URL is fetched by pip, not read from disk.
    assert_eq!(stderr.matches("FAB065").count(), 4, "{stderr}");

    let generate = fabuild(dir.path())
        .args(["gen", "app.yaml"])
        .output()
        .unwrap();
    assert_eq!(generate.status.code(), Some(1));
    assert!(
        !dir.path().join("Dockerfile").exists(),
        "gen wrote a Dockerfile"
    );
}
