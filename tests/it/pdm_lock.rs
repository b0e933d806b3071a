//! A pdm project locked by real pdm: `init` writes `python.lock: pdm.lock`, `gen` turns
//! the lock's default group into the hash-pinned requirements file the image installs
//! (real pip installs it with `--require-hashes`, the server stack left to fabuild), and a
//! lock pinning another gunicorn is refused with a pdm command that, run as printed,
//! relocks so that `check` passes.
//!
//! Needs the package index (pdm resolves from it), like the other tests that download.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::server_pins::{fab056_command, ok, pip_hashed, write};
use crate::util::{fabuild, python, repo};

/// The Python of a virtualenv holding pdm at the versions scripts/test-pdm-requirements.txt
/// pins, installed once into target/ with their hashes; pdm runs as `python -m pdm`.
fn pdm_python() -> PathBuf {
    let dir = repo().join("target/test-pdm");
    let bin = dir.join("bin/python");
    if !bin.is_file() {
        let scratch = tempfile::tempdir_in(repo().join("target")).unwrap();
        let venv = scratch.path().join("venv");
        assert!(
            Command::new(python())
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .unwrap()
                .success()
        );
        let status = Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--require-hashes", "--no-deps", "--only-binary=:all:", "-r"])
            .arg(repo().join("scripts/test-pdm-requirements.txt"))
            .status()
            .unwrap();
        assert!(status.success(), "pip install of the pinned pdm failed");
        // Moved into place whole (another test may have won the race; its copy stands).
        // The venv's scripts would name the old path: pdm runs through its python instead.
        let _ = std::fs::rename(&venv, &dir);
        assert!(
            bin.is_file(),
            "{} is missing after the install",
            bin.display()
        );
    }
    bin
}

/// pdm in `dir`, kept from the user's configuration and from updating itself.
fn pdm_in(dir: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(pdm_python());
    cmd.args(["-m", "pdm"])
        .current_dir(dir)
        .env("PDM_CHECK_UPDATE", "false")
        .env("PDM_NON_INTERACTIVE", "1")
        .env("PDM_CONFIG_FILE", home.join("config.toml"))
        .env("PDM_CACHE_DIR", home.join("cache"))
        .env("PDM_PYTHON", python())
        .env_remove("VIRTUAL_ENV");
    cmd
}

/// A Flask project managed by pdm (not a distribution), locked, in a scratch directory:
/// the directory, the project, and pdm's home.
fn locked_project() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let scratch = tempfile::tempdir().unwrap();
    let (dir, home) = (scratch.path().join("shop"), scratch.path().join("home"));
    std::fs::create_dir_all(&dir).unwrap();
    project(&dir, &home);
    (scratch, dir, home)
}

fn project(dir: &Path, home: &Path) {
    write(
        dir,
        &[
            (
                "pyproject.toml",
                "[project]\nname = \"shop\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = [\"flask==3.1.0\", \"gunicorn>=20\"]\n\n[tool.pdm]\ndistribution = false\n",
            ),
            (
                "wsgi.py",
                "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.get(\"/\")\ndef index():\n    return \"ok\"\n",
            ),
        ],
    );
    ok(pdm_in(dir, home).arg("lock"));
}

#[test]
fn init_installs_exactly_what_pdm_lock_pins_by_hash() {
    let (scratch, dir, _home) = locked_project();

    ok(fabuild(&dir).arg("init"));
    let app_yaml = std::fs::read_to_string(dir.join("app.yaml")).unwrap();
    assert!(app_yaml.contains("  lock: pdm.lock\n"), "{app_yaml}");
    ok(fabuild(&dir).args(["gen", "app.yaml"]));
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("COPY requirements-app.txt /tmp/fabuild/requirements.txt"),
        "{dockerfile}"
    );
    let requirements = std::fs::read_to_string(dir.join("requirements-app.txt")).unwrap();
    println!("{requirements}");
    assert!(
        requirements.contains("\nflask==3.1.0 --hash=sha256:"),
        "{requirements}"
    );
    // gunicorn is locked at fabuild's version: fabuild installs it, not the app's list.
    assert!(!requirements.contains("gunicorn"), "{requirements}");

    // What the image's pip does with it, hashes required.
    let site = scratch.path().join("site");
    let status = pip_hashed(
        "install",
        "--target",
        &site,
        &dir.join("requirements-app.txt"),
    );
    assert!(status.success());
    assert!(site.join("flask").is_dir());
    assert!(site.join("werkzeug").is_dir());
}

#[test]
fn a_pdm_lock_pinning_another_gunicorn_is_refused_with_a_pdm_command_that_relocks() {
    let (_scratch, dir, home) = locked_project();
    ok(fabuild(&dir).arg("init"));
    ok(pdm_in(&dir, &home).args(["add", "--no-sync", "gunicorn==22.0.0"]));

    let command = fab056_command(&dir);
    assert_eq!(command, "pdm add --no-sync gunicorn==27.0.1");
    ok(pdm_in(&dir, &home).args(command.split_whitespace().skip(1)));
    ok(fabuild(&dir).args(["check", "app.yaml"]));
}

#[test]
fn a_pdm_lock_too_large_to_read_is_refused_unread() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    write(
        dir,
        &[
            (
                "app.yaml",
                "version: 1\nname: shop\napp:\n  module: wsgi:app\n  interface: wsgi\npython:\n  lock: pdm.lock\n",
            ),
            ("wsgi.py", "app = None\n"),
        ],
    );
    // Valid TOML all the way (one long comment): only the size can refuse it.
    let mut text = String::from("# ");
    text.push_str(&"x".repeat(17 * 1024 * 1024));
    std::fs::write(dir.join("pdm.lock"), text).unwrap();
    let (output, stderr) = crate::server_pins::run(fabuild(dir).args(["check", "app.yaml"]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`pdm.lock` is larger than 16777216 bytes"),
        "{stderr}"
    );
}
