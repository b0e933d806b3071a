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

/// A password written into a URL of the spec (FAB094's own case, or any other value such
/// as an env var) never reaches stdout or stderr: every command that echoes the spec's
/// lines or values shows `user:***@host`, with the caret still under the value.
#[test]
fn a_password_in_a_url_is_masked_wherever_fabuild_prints_it() {
    const PASSWORD: &str = "Hunter2-s3cret";
    let dir = project(&format!(
        "env:\n  DATABASE_URL: postgres://app:{PASSWORD}@db.internal:5432/app\nbuild:\n  index_url: https://ci:{PASSWORD}@pypi.corp.example/simple/\n"
    ));
    let run = |args: &[&str]| {
        let out = fabuild(dir.path()).args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
            "fabuild {args:?} printed the password:\n{stdout}\n{stderr}"
        );
        (out.status.code(), stdout, stderr)
    };

    let (code, _, stderr) = run(&["check", "app.yaml"]);
    assert_eq!(code, Some(1), "{stderr}");
    // The caret line shows the masked URL, and the carets cover it exactly.
    let shown = "index_url: https://ci:***@pypi.corp.example/simple/";
    let line = stderr
        .lines()
        .find(|l| l.contains(shown))
        .unwrap_or_else(|| {
            panic!("no masked source line in:\n{stderr}");
        });
    let carets = stderr.lines().skip_while(|l| *l != line).nth(1).unwrap();
    let url_at = line.find("https://").unwrap();
    assert_eq!(
        carets.find('^'),
        Some(url_at),
        "carets not under the value:\n{stderr}"
    );
    assert_eq!(
        carets.matches('^').count(),
        "https://ci:***@pypi.corp.example/simple/".len(),
        "{stderr}"
    );

    let (code, stdout, _) = run(&["check", "--format", "json", "app.yaml"]);
    assert_eq!(code, Some(1), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(stdout.contains("FAB094"), "{report}");

    let (code, _, stderr) = run(&["gen", "app.yaml"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("ci:***@pypi.corp.example"), "{stderr}");
    let (code, _, stderr) = run(&["plan", "app.yaml"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!dir.path().join("Dockerfile").exists());

    // Once the index is fixed, plan shows the env value, masked.
    std::fs::write(
        dir.path().join("app.yaml"),
        format!("{APP}env:\n  DATABASE_URL: postgres://app:{PASSWORD}@db.internal:5432/app\n"),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["plan", "app.yaml"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("postgres://app:***@db.internal:5432/app"),
        "{stdout}"
    );
}
