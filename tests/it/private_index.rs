//! `build.index_url`: the install step reaches a private index with credentials from a
//! netrc build secret, never from the URL (FAB094). The real authenticated index (pypiserver
//! with htpasswd) is proven in tests/e2e/private-index.sh.

use crate::util::fabuild;

const APP: &str = "version: 1
name: inventory
app:
  module: wsgi:app
  interface: wsgi
python:
  base_image: python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea
  requirements: requirements.txt
";

fn project(build: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.yaml"), format!("{APP}{build}")).unwrap();
    std::fs::write(dir.path().join("requirements.txt"), "flask\n").unwrap();
    std::fs::write(dir.path().join("wsgi.py"), "app = None\n").unwrap();
    dir
}

#[test]
fn the_install_step_mounts_the_netrc_secret_and_sets_the_index_in_the_run_line_only() {
    let dir = project("build:\n  index_url: https://pypi.corp.example/simple/\n");
    let out = fabuild(dir.path())
        .args(["gen", "app.yaml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dockerfile = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    let run = dockerfile
        .split("\nRUN ")
        .find(|step| step.contains("pip install"))
        .unwrap();
    // The secret is mounted for this step only, before the line that reads it.
    let mount = run.find("--mount=type=secret,id=index_netrc \\");
    let read = run.find("then export NETRC=");
    assert!(mount.is_some() && mount < read, "{run}");
    assert!(
        run.contains("then export NETRC=/run/secrets/index_netrc; fi"),
        "{run}"
    );
    assert!(
        run.contains("export PIP_INDEX_URL=https://pypi.corp.example/simple/ UV_DEFAULT_INDEX=https://pypi.corp.example/simple/ PIP_NO_INPUT=1"),
        "{run}"
    );
    assert!(!dockerfile.contains("ENV PIP_INDEX_URL"), "{dockerfile}");
}

#[test]
fn credentials_in_the_url_or_a_secret_without_an_index_are_refused() {
    for (build, message) in [
        (
            "build:\n  index_url: https://ci:s3cret@pypi.corp.example/simple/\n",
            "build.index_url carries credentials",
        ),
        (
            "build:\n  index_secret: corp_netrc\n",
            "index_secret without build.index_url",
        ),
    ] {
        let dir = project(build);
        let out = fabuild(dir.path())
            .args(["check", "app.yaml"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains("FAB094") && text.contains(message), "{text}");
    }

    let dir = tempfile::tempdir().unwrap();
    let out = fabuild(dir.path())
        .args([
            "pins",
            "check",
            "--index",
            "https://ci:s3cret@pypi.corp.example/pypi",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("carries credentials (`user:password@`): put them in a netrc file"),
        "{text}"
    );
    assert!(
        !text.contains("s3cret"),
        "the error repeats the password: {text}"
    );
}
