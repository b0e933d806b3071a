//! Django projects as `django-admin startproject` (the real one, from the test venv) writes
//! them, and the common reshaping (a settings package, a src/ layout): what init writes
//! for them, checked against what the real Django does with the same files.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util;

/// A project made by the real `django-admin startproject mysite`, in a temp dir.
fn startproject() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    std::fs::create_dir(&dir).unwrap();
    let admin = util::python().with_file_name("django-admin");
    let status = Command::new(&admin)
        .args(["startproject", "mysite"])
        .arg(&dir)
        .status()
        .unwrap_or_else(|e| panic!("{}: {e} (run the tests with scripts/test)", admin.display()));
    assert!(status.success());
    std::fs::write(dir.join("requirements.txt"), "Django==5.2.19\n").unwrap();
    (tmp, dir)
}

/// The startproject layout moved to `src/`, its settings split into a package
/// (`settings/base.py` as generated, `settings/production.py` on top) as deployed projects
/// commonly are: `SECRET_KEY` from the environment, no default, and a `STATIC_ROOT`.
fn settings_package(dir: &Path) {
    let src = dir.join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::rename(dir.join("mysite"), src.join("mysite")).unwrap();
    let settings = src.join("mysite/settings");
    std::fs::create_dir(&settings).unwrap();
    let base = std::fs::read_to_string(src.join("mysite/settings.py")).unwrap();
    // Two directories deeper (src/, settings/): BASE_DIR stays the project root, beside
    // manage.py.
    let base = base.replace(".parent.parent", ".parent.parent.parent.parent");
    std::fs::write(settings.join("base.py"), base).unwrap();
    std::fs::remove_file(src.join("mysite/settings.py")).unwrap();
    std::fs::write(settings.join("__init__.py"), "").unwrap();
    std::fs::write(
        settings.join("production.py"),
        "import os\n\nfrom .base import *  # noqa: F403\n\nSECRET_KEY = os.environ[\"DJANGO_SECRET_KEY\"]\nDEBUG = False\nALLOWED_HOSTS = [\"*\"]\nSTATIC_ROOT = BASE_DIR / \"staticfiles\"  # noqa: F405\n",
    )
    .unwrap();
    for file in ["manage.py", "src/mysite/wsgi.py", "src/mysite/asgi.py"] {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("'mysite.settings'"), "{file}: {text}");
        std::fs::write(
            &path,
            text.replace("'mysite.settings'", "'mysite.settings.production'"),
        )
        .unwrap();
    }
}

fn init(dir: &Path) -> (serde_json::Value, String) {
    let out = util::fabuild(dir).args(["init", "."]).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    let text = std::fs::read_to_string(dir.join("app.yaml")).unwrap();
    let yaml: serde_json::Value =
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (yaml, stderr)
}

/// Runs the real Django's `args` in `dir` with the environment app.yaml gives the image
/// (`/app` read as `dir`) plus `extra`; returns (success, stdout + stderr).
fn django(
    dir: &Path,
    yaml: &serde_json::Value,
    extra: &[(&str, &str)],
    args: &[&str],
) -> (bool, String) {
    let mut cmd = Command::new(util::python());
    cmd.current_dir(dir).args(["-m", "django"]).args(args);
    cmd.env_remove("DJANGO_SETTINGS_MODULE")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (key, value) in yaml["env"].as_object().into_iter().flatten() {
        let value = value
            .as_str()
            .unwrap()
            .replace("/app", &dir.display().to_string());
        cmd.env(key, value);
    }
    cmd.envs(extra.iter().copied());
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn startproject_gets_its_settings_module_and_a_writable_place_for_sqlite() {
    let (_tmp, dir) = startproject();
    let (yaml, stderr) = init(&dir);
    assert_eq!(yaml["app"]["module"], "mysite.wsgi:application");
    assert_eq!(yaml["app"]["interface"], "wsgi");
    assert_eq!(
        yaml["env"]["DJANGO_SETTINGS_MODULE"], "mysite.settings",
        "{yaml}"
    );
    // No STATIC_ROOT in the generated settings: nothing to collect.
    assert!(yaml["app"].get("collectstatic").is_none(), "{yaml}");
    assert_eq!(
        yaml["app"]["writable"],
        serde_json::json!(["data"]),
        "{yaml}"
    );
    assert!(
        stderr.contains("mysite/settings.py:") && stderr.contains("SQLITE_PATH"),
        "{stderr}"
    );
    // The real Django, given the image's environment, keeps the database where init says:
    // in the code directory, which the app cannot write in the image.
    let (ok, out) = django(
        &dir,
        &yaml,
        &[],
        &[
            "shell",
            "-c",
            "from django.conf import settings; print(settings.DATABASES['default']['NAME'])",
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(
        out.lines().last(),
        Some(dir.join("db.sqlite3").display().to_string().as_str())
    );
}

#[test]
fn a_settings_package_in_src_collects_static_files_with_a_placeholder_key() {
    let (_tmp, dir) = startproject();
    settings_package(&dir);
    let (yaml, _) = init(&dir);
    assert_eq!(yaml["app"]["module"], "mysite.wsgi:application");
    assert_eq!(
        yaml["env"]["DJANGO_SETTINGS_MODULE"],
        "mysite.settings.production"
    );
    assert_eq!(yaml["env"]["PYTHONPATH"], "/app/src");
    assert_eq!(yaml["app"]["collectstatic"], true, "{yaml}");
    assert_eq!(
        yaml["app"]["collectstatic_placeholder_env"],
        serde_json::json!(["DJANGO_SECRET_KEY"])
    );
    // The SQLite file of base.py is still under BASE_DIR: production.py does not replace it.
    assert_eq!(
        yaml["app"]["writable"],
        serde_json::json!(["data"]),
        "{yaml}"
    );

    crate::util::gen_ok(&dir);
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    let run = "RUN DJANGO_SECRET_KEY=collectstatic-placeholder-not-a-secret /opt/venv/bin/python -m django collectstatic --noinput";
    let at = dockerfile
        .find(run)
        .unwrap_or_else(|| panic!("{dockerfile}"));
    let copy = dockerfile.find("COPY . /app").unwrap();
    let user = dockerfile.find("USER 10001:10001").unwrap();
    assert!(
        copy < at && at < user,
        "collectstatic after the code, as root:\n{dockerfile}"
    );
    assert_eq!(dockerfile.matches("USER ").count(), 1, "{dockerfile}");
    let env_line = dockerfile
        .lines()
        .skip_while(|l| !l.starts_with("ENV "))
        .take_while(|l| l.starts_with("ENV ") || l.starts_with("    "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!env_line.contains("SECRET_KEY"), "{env_line}");

    // The real Django: without the placeholder the settings cannot be imported; with the
    // Dockerfile's step it collects the admin's files into STATIC_ROOT.
    let (ok, out) = django(&dir, &yaml, &[], &["collectstatic", "--noinput"]);
    assert!(!ok && out.contains("DJANGO_SECRET_KEY"), "{out}");
    let (ok, out) = django(
        &dir,
        &yaml,
        &[(
            "DJANGO_SECRET_KEY",
            "collectstatic-placeholder-not-a-secret",
        )],
        &["collectstatic", "--noinput"],
    );
    assert!(ok, "{out}");
    assert!(
        dir.join("staticfiles/admin/css/base.css").is_file(),
        "{out}"
    );
}

#[test]
fn collectstatic_needs_the_settings_module_and_fabuild_build_refuses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let spec = "version: 1\nname: site\napp:\n  module: mysite.wsgi:application\n  interface: wsgi\n  collectstatic: true\n";
    std::fs::write(dir.join("app.yaml"), spec).unwrap();
    let out = util::fabuild(dir)
        .args(["check", "app.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap() + &String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("FAB013")
            && stderr.contains("app.collectstatic needs DJANGO_SETTINGS_MODULE in env"),
        "{stderr}"
    );

    std::fs::write(
        dir.join("app.yaml"),
        format!("{spec}env:\n  DJANGO_SETTINGS_MODULE: mysite.settings\n"),
    )
    .unwrap();
    let out = util::fabuild(dir)
        .args([
            "build",
            "app.yaml",
            "--base",
            "missing-base",
            "--out",
            "img",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("app.collectstatic runs the project's code while the image builds")
            && stderr.contains("generated Dockerfile"),
        "{stderr}"
    );
    assert!(!dir.join("img").exists());
}
