//! A uv workspace made by real `uv init` and `uv add`: `init` at its root and inside the
//! member that holds the app writes one app.yaml at the root naming that member; the
//! Dockerfile's `uv export` of it, run with the real uv fabuild pins, gives requirements
//! real pip installs (no `-e ./member` line, which pip refuses); and FAB056's advice,
//! run as printed at the workspace root, relocks so that `check` passes.
//!
//! Offline: the workspace's one index dependency (packaging, gunicorn) comes from the
//! hash-checked wheels the server-pin tests download into target/.

use std::path::Path;
use std::process::Command;

use crate::server_pins::{fab056_command, find_links, ok, run, uv, write};
use crate::util::{fabuild, python};

/// uv told to use only the local wheels, through its environment, so that a command
/// fabuild prints runs exactly as printed.
fn uv_in(dir: &Path) -> Command {
    let mut cmd = Command::new(uv());
    cmd.current_dir(dir)
        .env("UV_NO_INDEX", "1")
        .env("UV_FIND_LINKS", find_links())
        .env("UV_OFFLINE", "1")
        .env("UV_PYTHON", python())
        .env("UV_NO_CACHE", "1")
        .env_remove("VIRTUAL_ENV");
    cmd
}

/// `shop`, a workspace root made by `uv init`, with the members `api` (the Flask app,
/// depending on `core`) and `core` (a library depending on packaging).
fn workspace(dir: &Path) {
    ok(uv_in(dir).args([
        "init",
        "--vcs",
        "none",
        "--no-readme",
        "--name",
        "shop",
        ".",
    ]));
    ok(uv_in(dir).args([
        "init",
        "--package",
        "--vcs",
        "none",
        "--no-readme",
        "packages/api",
    ]));
    ok(uv_in(dir).args([
        "init",
        "--lib",
        "--vcs",
        "none",
        "--no-readme",
        "packages/core",
    ]));
    ok(uv_in(dir).args(["add", "--no-sync", "--package", "core", "packaging==25.0"]));
    ok(uv_in(dir).args(["add", "--no-sync", "--package", "api", "core"]));
    write(
        dir,
        &[(
            "packages/api/src/api/web.py",
            "from flask import Flask\n\nfrom core import hello\n\napp = Flask(__name__)\n\n\n@app.get(\"/\")\ndef index():\n    return hello()\n",
        )],
    );
}

fn app_yaml_says(text: &str) {
    for line in [
        "  module: api.web:app\n",
        "  lock: uv.lock\n",
        "  package: api\n",
        "  PYTHONPATH: /app/packages/api/src:/app/packages/core/src\n",
    ] {
        assert!(text.contains(line), "no `{}` in:\n{text}", line.trim());
    }
}

#[test]
fn init_at_the_root_or_in_the_member_writes_a_spec_that_builds_the_member() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    workspace(root);

    ok(fabuild(root).args(["init"]));
    let at_root = std::fs::read_to_string(root.join("app.yaml")).unwrap();
    app_yaml_says(&at_root);

    // Inside the member: the same spec, written at the root (the build context).
    std::fs::remove_file(root.join("app.yaml")).unwrap();
    let member = root.join("packages/api");
    ok(fabuild(&member).args(["init"]));
    assert!(!member.join("app.yaml").exists());
    assert_eq!(
        std::fs::read_to_string(root.join("app.yaml")).unwrap(),
        at_root
    );

    // The image's export: the Dockerfile's own `uv export` line, on a copy of what the
    // Dockerfile copies into /tmp/fabuild/project.
    ok(fabuild(root).args(["gen", "app.yaml"]));
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let project = root.join("image-project");
    for line in dockerfile.lines() {
        let Some(copy) = line.strip_prefix("COPY ") else {
            continue;
        };
        let words: Vec<&str> = copy.split_whitespace().collect();
        let Some(to) = words.last().unwrap().strip_prefix("/tmp/fabuild/project/") else {
            continue;
        };
        for from in &words[..words.len() - 1] {
            let target = if to.is_empty() {
                project.join(Path::new(from).file_name().unwrap())
            } else {
                project.join(to)
            };
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(root.join(from), target).unwrap();
        }
    }
    let export = dockerfile
        .split("&& \"$uv\" export ")
        .nth(1)
        .and_then(|rest| rest.split(" --output-file").next())
        .expect("the Dockerfile exports the lock");
    let args: Vec<String> = export
        .split_whitespace()
        .filter(|w| *w != "\\")
        .map(|w| w.replace("/tmp/fabuild/project", &project.to_string_lossy()))
        .collect();
    let requirements = ok(uv_in(root).arg("export").args(&args));
    println!("{requirements}");
    assert!(requirements.contains("packaging==25.0"), "{requirements}");
    assert!(!requirements.contains("-e "), "{requirements}");
    // A lock made from local wheels records no hashes, so pip is not asked to require them
    // here; the real-engine suite builds examples/uv-workspace, locked from PyPI, with them.
    let file = root.join("requirements.txt");
    std::fs::write(&file, &requirements).unwrap();
    ok(Command::new(python())
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--no-index", "--find-links"])
        .arg(find_links())
        .args(["--no-deps", "--target"])
        .arg(root.join("site"))
        .arg("-r")
        .arg(&file));
    assert!(root.join("site/packaging").is_dir());
}

/// FAB056's help says where its command runs: at the workspace root.
fn assert_workspace_root(root: &Path) {
    let (_, stderr) = run(fabuild(root)
        .args(["check", "app.yaml"])
        .env("NO_COLOR", "1"));
    assert!(stderr.contains("run at the workspace root"), "{stderr}");
}

#[test]
fn fab056_advice_relocks_a_workspace_when_run_as_printed_at_its_root() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    workspace(root);
    ok(fabuild(root).args(["init"]));
    let (pin, version) = (
        "gunicorn",
        fabuild::pins::for_interface(fabuild::spec::Interface::Wsgi)
            .into_iter()
            .find(|p| p.name == "gunicorn")
            .unwrap()
            .version,
    );

    // A member pins another gunicorn: the member's pyproject.toml must change.
    ok(uv_in(root).args(["add", "--no-sync", "--package", "core", "gunicorn==22.0.0"]));
    let command = fab056_command(root);
    assert_workspace_root(root);
    assert_eq!(command, format!("uv add --package core {pin}=={version}"));
    ok(uv_in(root).args(command.split_whitespace().skip(1)));
    ok(fabuild(root).args(["check", "app.yaml"]));

    // Only the lock holds the old version: relocking is enough.
    let core = root.join("packages/core/pyproject.toml");
    let text = std::fs::read_to_string(&core).unwrap();
    std::fs::write(
        &core,
        text.replace("\"gunicorn==27.0.1\"", "\"gunicorn>=20\""),
    )
    .unwrap();
    ok(uv_in(root).args(["lock", "--upgrade-package", "gunicorn==22.0.0"]));
    let command = fab056_command(root);
    assert_workspace_root(root);
    assert_eq!(
        command,
        format!("uv lock --upgrade-package {pin}=={version}")
    );
    ok(uv_in(root).args(command.split_whitespace().skip(1)));
    ok(fabuild(root).args(["check", "app.yaml"]));
}

#[test]
fn a_workspace_lock_without_its_member_or_with_another_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    workspace(root);
    ok(fabuild(root).args(["init"]));
    let spec = std::fs::read_to_string(root.join("app.yaml")).unwrap();
    for (edit, expect) in [
        (
            spec.replace("  package: api\n", ""),
            "`uv.lock` is a uv workspace's lock (members shop, api, core), and python.package does not say which member is the app",
        ),
        (
            spec.replace("  package: api\n", "  package: packaging\n"),
            "`uv.lock` has no workspace member `packaging`",
        ),
        (
            spec.replace("  lock: uv.lock\n", ""),
            "python.package without python.lock",
        ),
    ] {
        std::fs::write(root.join("app.yaml"), edit).unwrap();
        let (output, stderr) = run(fabuild(root)
            .args(["check", "app.yaml"])
            .env("NO_COLOR", "1"));
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expect), "{stderr}");
        assert!(stderr.contains("FAB055"), "{stderr}");
    }
}

#[test]
fn init_at_a_root_of_too_many_members_asks_to_be_run_in_one() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    let names: Vec<String> = (0..65).map(|i| format!("m{i}")).collect();
    let mut lock = format!(
        "version = 1\n[manifest]\nmembers = [{}]\n",
        names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for name in &names {
        lock.push_str(&format!(
            "[[package]]\nname = \"{name}\"\nversion = \"1\"\nsource = {{ editable = \"packages/{name}\" }}\n"
        ));
        let member = root.join("packages").join(name);
        std::fs::create_dir_all(&member).unwrap();
        std::fs::write(
            member.join("pyproject.toml"),
            format!("[project]\nname = \"{name}\"\nversion = \"1\"\n"),
        )
        .unwrap();
    }
    write(
        root,
        &[
            ("uv.lock", lock.as_str()),
            (
                "pyproject.toml",
                "[tool.uv.workspace]\nmembers = [\"packages/*\"]\n",
            ),
        ],
    );
    let (output, stderr) = run(fabuild(root).arg("init"));
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("the workspace has 65 members, and init searches at most 64"),
        "{stderr}"
    );
    // Inside one of them, only that one is searched.
    write(
        root,
        &[(
            "packages/m7/src/m7/web.py",
            "from flask import Flask\n\napp = Flask(__name__)\n",
        )],
    );
    ok(fabuild(&root.join("packages/m7")).arg("init"));
    let spec = std::fs::read_to_string(root.join("app.yaml")).unwrap();
    assert!(spec.contains("  package: m7\n"), "{spec}");
}

/// A hand-written spec naming the member without the `PYTHONPATH` init writes: the members
/// are copied, not installed, so every worker would fail on `import core`. check warns
/// (FAB067) with the value that works; with it, or with part of it plus the rest, the
/// warning names only what is missing.
#[test]
fn a_member_spec_without_the_members_on_pythonpath_is_warned_with_the_value_to_set() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    workspace(root);
    ok(fabuild(root).args(["init"]));
    let spec = std::fs::read_to_string(root.join("app.yaml")).unwrap();
    let full = "  PYTHONPATH: /app/packages/api/src:/app/packages/core/src\n";
    assert!(spec.contains(full), "{spec}");
    let check = |text: &str| {
        std::fs::write(root.join("app.yaml"), text).unwrap();
        let (output, stderr) = run(fabuild(root)
            .args(["check", "app.yaml"])
            .env("NO_COLOR", "1"));
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        stderr
    };
    let stderr = check(&spec);
    assert!(!stderr.contains("FAB067"), "{stderr}");
    let without = spec.replace(full, "  LOG_LEVEL: info\n");
    let stderr = check(&without);
    assert!(stderr.contains("warning[FAB067]"), "{stderr}");
    assert!(
        stderr.contains("the workspace members `api` needs are copied to /app/packages/api/src, /app/packages/core/src, which PYTHONPATH does not name"),
        "{stderr}"
    );
    assert!(
        stderr.contains("set `PYTHONPATH: /app/packages/api/src:/app/packages/core/src` under env"),
        "{stderr}"
    );
    let partial = spec.replace(full, "  PYTHONPATH: /opt/extra:/app/packages/api/src\n");
    let stderr = check(&partial);
    assert!(
        stderr.contains("copied to /app/packages/core/src, which PYTHONPATH does not name")
            && stderr
                .contains("`PYTHONPATH: /opt/extra:/app/packages/api/src:/app/packages/core/src`"),
        "{stderr}"
    );
}

/// Flask puts an app's instance folder beside its top-level package, as imported: for a
/// member's package, inside the member (`packages/api/src/instance`), not at the root.
#[test]
fn a_members_instance_folder_is_writable_where_flask_puts_it() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    workspace(root);
    write(
        root,
        &[(
            "packages/api/src/api/web.py",
            "import os\n\nfrom flask import Flask\n\nfrom core import hello\n\napp = Flask(__name__)\nos.makedirs(app.instance_path, exist_ok=True)\n",
        )],
    );
    let (output, stderr) = run(fabuild(root).arg("init").env("NO_COLOR", "1"));
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(
            "writable: packages/api/src/instance (the app uses its instance folder at packages/api/src/api/web.py:8"
        ),
        "{stdout}"
    );
    let spec = std::fs::read_to_string(root.join("app.yaml")).unwrap();
    let writable: Vec<&str> = spec
        .lines()
        .skip_while(|l| !l.starts_with("  writable:"))
        .skip(1)
        .take_while(|l| l.starts_with("    - "))
        .collect();
    assert_eq!(writable, ["    - packages/api/src/instance"], "{spec}");
}
