//! The server stack stays fabuild's whatever the app pins: a requirements file, a
//! pyproject.toml or a lock naming gunicorn (or, for ASGI, uvicorn, click, ...) at another
//! version either gives a requirements set that real pip and uv resolve together with
//! fabuild's pins, or is refused by `check` with the line and the command that relocks it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{fabuild, python, repo};

/// Wheels for the resolutions, hash-checked: fabuild's gunicorn, the older gunicorn the
/// app asks for, and packaging (which that gunicorn needs, and the app lists).
const WHEELS: &[(&str, &str)] = &[
    (
        "gunicorn==22.0.0",
        "350679f91b24062c86e386e198a15438d53a7a8207235a78ba1b53df4c4378d9",
    ),
    (
        "packaging==25.0",
        "29572ef2b1f17581046b3a2227d5c611fb25ec70ca1ba8554b24b0e69331a484",
    ),
];

/// A directory holding every wheel the resolutions may pick, downloaded once into target/.
pub(crate) fn find_links() -> PathBuf {
    let dir = repo().join("target/test-wheels/server-pins");
    if !dir.join(".complete").is_file() {
        std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
        let scratch = tempfile::tempdir_in(dir.parent().unwrap()).unwrap();
        let req = scratch.path().join("requirements.txt");
        let lines: String = WHEELS.iter().fold(String::new(), |text, (pin, hash)| {
            text + &format!("{pin} --hash=sha256:{hash}\n")
        });
        std::fs::write(&req, lines).unwrap();
        let wheels = scratch.path().join("wheels");
        let status = pip_hashed("download", "--dest", &wheels, &req);
        assert!(status.success(), "pip download of the test wheels failed");
        let pinned = crate::build::wheels();
        for entry in std::fs::read_dir(pinned).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, wheels.join(path.file_name().unwrap())).unwrap();
        }
        std::fs::write(wheels.join(".complete"), "").unwrap();
        // Another test may have finished first: then its directory stands.
        let _ = std::fs::rename(&wheels, &dir);
    }
    dir
}

/// `pip download` or `pip install` of the hashed requirements in `req`, without their
/// dependencies, into `dest` (given with `dest_flag`).
pub(crate) fn pip_hashed(
    verb: &str,
    dest_flag: &str,
    dest: &Path,
    req: &Path,
) -> std::process::ExitStatus {
    Command::new(python())
        .args(["-m", "pip", verb, "--quiet", "--disable-pip-version-check"])
        .args([
            "--no-deps",
            "--only-binary=:all:",
            "--require-hashes",
            dest_flag,
        ])
        .arg(dest)
        .arg("-r")
        .arg(req)
        .status()
        .unwrap()
}

/// uv at the version fabuild pins, installed once into target/ with its pinned hashes.
pub(crate) fn uv() -> PathBuf {
    let dir = repo().join("target/test-uv");
    let bin = dir.join("bin/uv");
    if !bin.is_file() {
        let pin = fabuild::pins::uv();
        let scratch = tempfile::tempdir_in(repo().join("target")).unwrap();
        let req = scratch.path().join("requirements.txt");
        let hashes: String = pin
            .hashes
            .iter()
            .fold(String::new(), |text, h| text + " --hash=sha256:" + h);
        std::fs::write(&req, format!("uv=={}{hashes}\n", pin.version)).unwrap();
        let target = scratch.path().join("uv");
        let status = pip_hashed("install", "--target", &target, &req);
        assert!(status.success(), "pip install of the pinned uv failed");
        let _ = std::fs::rename(&target, &dir);
    }
    bin
}

pub(crate) fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// Runs `cmd`, which must succeed; its stdout.
pub(crate) fn ok(cmd: &mut Command) -> String {
    let (output, stderr) = run(cmd);
    assert!(output.status.success(), "{stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `fabuild check` in `dir`, which must fail with FAB056: the command its help gives.
pub(crate) fn fab056_command(dir: &Path) -> String {
    let (output, stderr) = run(fabuild(dir)
        .args(["check", "app.yaml"])
        .env("NO_COLOR", "1"));
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    let text = format!("{}{stderr}", String::from_utf8_lossy(&output.stdout));
    assert!(text.contains("FAB056"), "{text}");
    text.split("relock with fabuild's version, `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no command in:\n{text}"))
        .to_owned()
}

pub(crate) fn run(cmd: &mut Command) -> (Output, String) {
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    println!(
        "{} exit {:?}\n{}{stderr}",
        cmd.get_program().display(),
        output.status.code(),
        String::from_utf8_lossy(&output.stdout)
    );
    (output, stderr)
}

/// Runs `gen` on the WSGI spec in `dir`: the file the Dockerfile copies to `target`, and
/// the server stack's constraints it is resolved against.
fn generate(dir: &Path, target: &str) -> (PathBuf, PathBuf) {
    let (generated, _) = run(fabuild(dir).args(["gen", "app.yaml"]));
    assert_eq!(generated.status.code(), Some(0));
    (
        installed_by_dockerfile(dir, target),
        server_constraints(dir, fabuild::spec::Interface::Wsgi),
    )
}

/// The file the generated Dockerfile installs as the app's requirements (or resolves as
/// its project), relative to the project: what a real build hands pip or uv.
fn installed_by_dockerfile(dir: &Path, target: &str) -> PathBuf {
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    let source = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("COPY ")?.strip_suffix(&format!(" {target}")))
        .unwrap_or_else(|| panic!("the Dockerfile copies nothing to {target}:\n{dockerfile}"));
    dir.join(source)
}

/// The constraints the image build resolves the app's dependencies against: the server
/// stack's pins, one `name==version` a line, as the generated Dockerfile writes them.
fn server_constraints(dir: &Path, interface: fabuild::spec::Interface) -> PathBuf {
    let text: String = fabuild::pins::for_interface(interface)
        .iter()
        .fold(String::new(), |text, p| {
            text + p.name + "==" + p.version + "\n"
        });
    let path = dir.join("constraints.txt");
    std::fs::write(&path, text).unwrap();
    path
}

const WSGI_SPEC: &str = "version: 1
name: svc
app:
  module: main:app
  interface: wsgi
python:
  version: \"3.11\"
  requirements: requirements.txt
";

#[test]
fn a_requirements_file_pinning_gunicorn_22_resolves_with_real_pip() {
    let links = find_links();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    write(
        dir,
        &[
            ("app.yaml", WSGI_SPEC),
            ("main.py", "def app(e, s):\n    return []\n"),
            // The pin sits in an included file: what pip reads, fabuild reads.
            (
                "requirements.txt",
                "packaging==25.0\n-r requirements/server.txt\n",
            ),
            (
                "requirements/server.txt",
                "# the server\ngunicorn==22.0.0  # pinned by hand\n",
            ),
        ],
    );
    let (installed, constraints) = generate(dir, "/tmp/fabuild/requirements.txt");
    let (pip, stderr) = run(Command::new(python())
        .args([
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
        ])
        .args(["--disable-pip-version-check", "--no-index", "--report", "-"])
        .arg("--find-links")
        .arg(&links)
        .arg("--constraint")
        .arg(&constraints)
        .arg("-r")
        .arg(&installed));
    assert!(
        pip.status.success(),
        "pip refused the requirements the image installs: {stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&pip.stdout).unwrap();
    let versions: Vec<String> = report["install"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}=={}",
                i["metadata"]["name"].as_str().unwrap(),
                i["metadata"]["version"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(versions, ["packaging==25.0", "gunicorn==27.0.1"]);
    let (check, stderr) = run(fabuild(dir).args(["check", "app.yaml"]));
    assert_eq!(check.status.code(), Some(0));
    assert!(
        stderr.contains("warning[FAB090]: requirements/server.txt:2 asks for gunicorn==22.0.0; fabuild installs gunicorn 27.0.1"),
        "{stderr}"
    );
}

#[test]
fn a_poetry_dependency_on_gunicorn_22_resolves_with_real_uv() {
    let links = find_links();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    write(
        dir,
        &[
            (
                "app.yaml",
                "version: 1\nname: svc\napp:\n  module: main:app\n  interface: wsgi\npython:\n  version: \"3.11\"\n  project: pyproject.toml\n  exclude_newer: \"2026-11-01\"\n",
            ),
            ("main.py", "def app(e, s):\n    return []\n"),
            (
                "pyproject.toml",
                "[tool.poetry]\nname = \"svc\"\n\n[tool.poetry.dependencies]\npython = \"^3.11\"\npackaging = \"^25.0\"\ngunicorn = \"^22\"\n",
            ),
        ],
    );
    let (input, constraints) = generate(dir, "/tmp/fabuild/requirements.in");
    // As the Dockerfile runs it, offline: the wheels directory stands in for the index.
    let (uv, stderr) = run(Command::new(uv())
        .args([
            "pip",
            "compile",
            "--quiet",
            "--no-header",
            "--offline",
            "--no-index",
        ])
        .args(["--python-version", "3.11", "--no-cache"])
        .arg("--find-links")
        .arg(&links)
        .arg("--constraint")
        .arg(&constraints)
        .arg(&input));
    assert!(
        uv.status.success(),
        "uv refused the requirements the image resolves: {stderr}"
    );
    let resolved = String::from_utf8_lossy(&uv.stdout);
    assert!(resolved.contains("gunicorn==27.0.1"), "{resolved}");
    assert!(resolved.contains("packaging==25.0"), "{resolved}");
    let (check, stderr) = run(fabuild(dir).args(["check", "app.yaml"]));
    assert_eq!(check.status.code(), Some(0));
    assert!(
        stderr.contains("warning[FAB090]: pyproject.toml:7 asks for gunicorn>=22,<23 in [tool.poetry.dependencies]; fabuild installs gunicorn 27.0.1"),
        "{stderr}"
    );
}

const ASGI_SPEC: &str = "version: 1
name: svc
app:
  module: main:app
  interface: asgi
python:
  requirements: requirements.txt
";

#[test]
fn an_exported_lock_pinning_click_8_1_7_is_refused_with_the_command_that_relocks_it() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let export = "# This file was autogenerated by uv via the following command:\n#    uv export --format requirements-txt --no-dev -o requirements.txt\nclick==8.1.7 \\\n    --hash=sha256:ae74fb96c20a0277a1d615f1e4d73c8414f5a98db8b799a7931d1582f3390c28\nfastapi==0.115.0 \\\n    --hash=sha256:17ea427674467486e997206a5ab25760f6b09e069f099b96f5b55a32fb6f1631\n";
    write(
        dir,
        &[("app.yaml", ASGI_SPEC), ("requirements.txt", export)],
    );
    let (check, stderr) = run(fabuild(dir).args(["check", "app.yaml"]));
    assert_eq!(check.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "error[FAB056]: requirements.txt:3 locks click==8.1.7; fabuild installs click 8.5.1"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("`uv lock --upgrade-package click==8.5.1 && uv export --format requirements-txt --no-dev -o requirements.txt`"),
        "{stderr}"
    );
    // The same lock, at fabuild's version, is installed as it stands.
    write(
        dir,
        &[("requirements.txt", &export.replace("8.1.7", "8.5.1"))],
    );
    let (check, stderr) = run(fabuild(dir).args(["check", "app.yaml"]));
    assert_eq!(check.status.code(), Some(0), "{stderr}");
    assert!(!dir.join("requirements-app.txt").exists());
}

#[test]
fn a_uv_lock_pinning_click_8_1_7_names_its_line_and_the_upgrade_command() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    write(
        dir,
        &[
            (
                "app.yaml",
                "version: 1\nname: svc\napp:\n  module: main:app\n  interface: asgi\npython:\n  lock: uv.lock\n",
            ),
            (
                "pyproject.toml",
                "[project]\nname = \"svc\"\nversion = \"1\"\ndependencies = [\"typer>=0.9\"]\n",
            ),
            (
                "uv.lock",
                "version = 1\n\n[[package]]\nname = \"svc\"\nversion = \"1\"\nsource = { virtual = \".\" }\ndependencies = [{ name = \"typer\" }]\n\n[[package]]\nname = \"typer\"\nversion = \"0.9.0\"\nsource = { registry = \"https://pypi.org/simple\" }\ndependencies = [{ name = \"click\" }]\n\n[[package]]\nname = \"click\"\nversion = \"8.1.7\"\nsource = { registry = \"https://pypi.org/simple\" }\n",
            ),
        ],
    );
    let (check, stderr) = run(fabuild(dir).args(["check", "app.yaml"]));
    assert_eq!(check.status.code(), Some(1));
    assert!(
        stderr
            .contains("error[FAB056]: uv.lock:16 locks click 8.1.7; fabuild installs click 8.5.1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`uv lock --upgrade-package click==8.5.1`"),
        "{stderr}"
    );
    // Declared directly at a version fabuild does not install: pyproject.toml must change.
    write(
        dir,
        &[(
            "pyproject.toml",
            "[project]\nname = \"svc\"\nversion = \"1\"\ndependencies = [\"typer>=0.9\", \"click==8.1.7\"]\n",
        )],
    );
    let (_, stderr) = run(fabuild(dir).args(["check", "app.yaml"]));
    assert!(stderr.contains("`uv add click==8.5.1`"), "{stderr}");
}

#[test]
fn init_says_which_line_pins_the_server_and_what_is_installed_instead() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    write(
        dir,
        &[
            ("main.py", "from fastapi import FastAPI\napp = FastAPI()\n"),
            (
                "requirements.txt",
                "fastapi==0.115.0\ngunicorn==22.0.0\nuvicorn[standard]>=0.30\n",
            ),
        ],
    );
    let (init, stderr) = run(fabuild(dir).args(["init", "."]));
    assert_eq!(init.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: requirements.txt:2 asks for gunicorn==22.0.0; fabuild installs gunicorn 27.0.1, so `gunicorn` is installed instead [FAB090]"),
        "{stderr}"
    );
    // uvicorn>=0.30 admits fabuild's 0.54.0: nothing to say about it.
    assert!(!stderr.contains("requirements.txt:3"), "{stderr}");
}
