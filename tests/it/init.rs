//! `fabuild init` on small projects laid out like real ones (tests/fixtures/init): the
//! app.yaml it writes (snapshotted, reviewed), that `check` and `gen` accept it and a real
//! JSON Schema validator does too, and its errors word for word.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{schema, util};

/// Fixtures init must turn into a working app.yaml.
const VALID: &[&str] = &[
    "bottle",
    "django",
    "falcon",
    "fastapi-app-main",
    "fastapi-main",
    "flask-app",
    "flask-factory",
    "flask-factory-wsgi",
    "litestar",
    "pep621",
    "poetry",
    // psycopg2 and mysqlclient have no Linux wheel: init fills build and system packages.
    "postgres-mysql",
    "quart",
    "src-layout",
    "starlette",
    "uv-lock",
];

fn fixtures() -> PathBuf {
    util::repo().join("tests/fixtures/init")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of the fixture under a temporary directory, keeping its name (init names the
/// image after the directory).
fn copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    copy_dir(&fixtures().join(name), &dir);
    (tmp, dir)
}

/// init dates an unlocked project's resolution today; the tests fix "today".
const TODAY_EPOCH: &str = "1795651200"; // 2026-11-26T00:00:00Z

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = util::fabuild(dir)
        .env("SOURCE_DATE_EPOCH", TODAY_EPOCH)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn every_fixture_is_listed() {
    let mut all: Vec<String> = fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    all.sort();
    let mut listed: Vec<&str> = VALID.to_vec();
    listed.extend(["ambiguous", "empty", "gunicorn-conf", "gunicorn-conf-tls"]);
    listed.sort_unstable();
    assert_eq!(all, listed);
}

/// init, then check and gen on what it wrote, for every layout; each app.yaml and init's
/// report are snapshotted together.
#[test]
fn init_writes_an_app_yaml_that_check_gen_and_the_schema_accept() {
    let hadolint = util::oracle("FABUILD_HADOLINT", "hadolint");
    let mut written = Vec::new();
    let mut keep = Vec::new();
    for name in VALID {
        let (tmp, dir) = copy(name);
        let (code, stdout, stderr) = run(&dir, &["init"]);
        assert_eq!(code, 0, "init in {name}: {stderr}");
        let app_yaml = fs::read_to_string(dir.join("app.yaml")).unwrap();
        assert!(app_yaml.starts_with("# yaml-language-server: $schema=.fabuild/app.schema.json\n"));
        assert_eq!(
            fs::read_to_string(dir.join(".fabuild/app.schema.json")).unwrap(),
            fabuild::schema::APP_SCHEMA
        );
        insta::assert_snapshot!(
            format!("init-{name}"),
            format!("=== stdout ===\n{stdout}=== stderr ===\n{stderr}=== app.yaml ===\n{app_yaml}")
        );

        let (code, stdout, stderr) = run(&dir, &["check"]);
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (0, "app.yaml: ok\n", ""),
            "check in {name}"
        );
        let (code, _, stderr) = run(&dir, &["gen"]);
        assert_eq!(code, 0, "gen in {name}: {stderr}");
        let dockerfile = fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let lint = Command::new(&hadolint)
            .arg(dir.join("Dockerfile"))
            .output()
            .unwrap();
        assert!(
            lint.status.success() && lint.stdout.is_empty(),
            "hadolint on {name}'s Dockerfile:\n{}{}",
            String::from_utf8_lossy(&lint.stdout),
            String::from_utf8_lossy(&lint.stderr)
        );
        let module = app_yaml
            .lines()
            .find_map(|l| l.trim().strip_prefix("module: "))
            .unwrap();
        assert!(
            dockerfile.contains(&format!("CMD [\"gunicorn\", \"{module}\"]")),
            "{name}: {dockerfile}"
        );

        // Never replaced without --force; replaced with it.
        let (code, _, stderr) = run(&dir, &["init"]);
        assert_eq!(
            (code, stderr.as_str()),
            (
                1,
                "error: ./app.yaml already exists; not overwriting it\nhelp: pass --force to replace it\n"
            ),
            "{name}"
        );
        let (code, _, _) = run(&dir, &["init", "--force"]);
        assert_eq!(code, 0, "{name}");

        let target = tmp.path().join(format!("{name}.yaml"));
        fs::copy(dir.join("app.yaml"), &target).unwrap();
        written.push(target);
        keep.push(tmp);
    }
    let (errors, parse_errors) = schema::check_jsonschema(&written);
    assert!(
        errors.is_empty() && parse_errors.is_empty(),
        "{errors:?} {parse_errors:?}"
    );
}

#[test]
fn two_candidate_apps_are_an_error_listing_both() {
    let (tmp, _) = copy("ambiguous");
    let (code, stdout, stderr) = run(tmp.path(), &["init", "ambiguous"]);
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: found 2 candidate apps\n  admin.py:3: admin:app (Flask)\n  api.py:3: api:app (FastAPI)\n\
         help: pick one with --module, for example `fabuild init --module admin:app`\n"
    );
    assert!(!tmp.path().join("ambiguous/app.yaml").exists());
    // The flag picks one; its framework still decides the interface.
    let (code, _, stderr) = run(tmp.path(), &["init", "ambiguous", "--module", "api:app"]);
    assert_eq!(code, 0, "{stderr}");
    let yaml = fs::read_to_string(tmp.path().join("ambiguous/app.yaml")).unwrap();
    assert!(
        yaml.contains("  module: api:app\n") && yaml.contains("  interface: asgi\n"),
        "{yaml}"
    );
}

#[test]
fn no_app_is_an_error_saying_what_was_looked_for() {
    let (tmp, _) = copy("empty");
    let (code, stdout, stderr) = run(tmp.path(), &["init", "empty"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr,
        "error: no app found in empty\n\
         help: looked in .py files (not tests, virtualenvs or hidden directories) for a module-level \
         `app = FastAPI(...)` (or Starlette, Litestar, Quart, Flask, falcon.App, Bottle), a \
         `def create_app()` factory returning one, and Django's <project>/wsgi.py or asgi.py \
         `application`; name the app with --module pkg.module:attr --interface asgi|wsgi\n"
    );
    // A module nobody can detect needs its interface said.
    let (code, _, stderr) = run(
        tmp.path(),
        &["init", "empty", "--module", "scripts.tool:app"],
    );
    assert_eq!(
        (code, stderr.as_str()),
        (
            1,
            "error: cannot tell whether `scripts.tool:app` is an ASGI or a WSGI app\nhelp: pass --interface asgi or --interface wsgi\n"
        )
    );
    let (code, _, stderr) = run(
        tmp.path(),
        &[
            "init",
            "empty",
            "--module",
            "scripts.tool:app",
            "--interface",
            "wsgi",
            "--name",
            "tool",
            "--python",
            "3.13",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_bad_flag_value_fails_with_the_validators_message_and_writes_nothing() {
    let (tmp, dir) = copy("flask-app");
    let (code, _, stderr) = run(tmp.path(), &["init", "flask-app", "--port", "443"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("error[FAB021]: port 443 needs root"),
        "{stderr}"
    );
    assert!(!dir.join("app.yaml").exists());
    let (code, _, stderr) = run(tmp.path(), &["init", "flask-app", "--python", "3.9"]);
    assert_eq!(
        (code, stderr.as_str()),
        (
            1,
            "error: --python asks for Python 3.9, which fabuild does not build for\nhelp: pass --python with one of 3.11, 3.12, 3.13, 3.14\n"
        )
    );
}

#[test]
fn writable_directories_come_from_the_flag_and_are_checked() {
    let (tmp, dir) = copy("flask-app");
    let (code, _, stderr) = run(
        tmp.path(),
        &[
            "init",
            "flask-app",
            "--writable",
            "uploads",
            "--writable",
            "/var/lib/notes",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let app_yaml = fs::read_to_string(dir.join("app.yaml")).unwrap();
    assert!(
        app_yaml.contains("  # from --writable\n")
            && app_yaml.contains("  writable:\n    - uploads\n    - /var/lib/notes\n"),
        "{app_yaml}"
    );
    let (code, _, stderr) = run(&dir, &["gen"]);
    assert_eq!(code, 0, "{stderr}");
    let dockerfile = fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains(
            "&& install -d -o 10001 -g 10001 -m 0750 /app/uploads /var/lib/notes; } \\\n"
        ),
        "{dockerfile}"
    );
    let ignore = fs::read_to_string(dir.join(".dockerignore")).unwrap();
    assert!(ignore.ends_with("\nuploads\n"), "{ignore}");

    // The code directory itself is refused before anything is written.
    fs::remove_file(dir.join("app.yaml")).unwrap();
    let (code, _, stderr) = run(tmp.path(), &["init", "flask-app", "--writable", "."]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(
            "error[FAB011]: app.writable `.` cannot be used: it is the whole app directory"
        ),
        "{stderr}"
    );
    assert!(!dir.join("app.yaml").exists());
}

#[test]
fn an_unlocked_pyproject_is_resolved_as_of_a_date_and_a_poetry_lock_is_pointed_out() {
    let (tmp, dir) = copy("poetry");
    let (code, _, stderr) = run(
        tmp.path(),
        &["init", "poetry", "--exclude-newer", "2025-03-01"],
    );
    assert_eq!((code, stderr.as_str()), (0, ""));
    let app_yaml = fs::read_to_string(dir.join("app.yaml")).unwrap();
    assert!(
        app_yaml.contains("  project: pyproject.toml\n")
            && app_yaml.contains("  exclude_newer: \"2025-03-01\"\n"),
        "{app_yaml}"
    );
    let (code, _, stderr) = run(&dir, &["gen"]);
    assert_eq!(code, 0, "{stderr}");
    let resolved = fs::read_to_string(dir.join("requirements-project.in")).unwrap();
    assert!(
        resolved.ends_with("\nfastapi>=0.115,<0.116\n"),
        "{resolved}"
    );
    let dockerfile = fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("--exclude-newer 2025-03-01T00:00:00Z"),
        "{dockerfile}"
    );

    fs::write(dir.join("poetry.lock"), "# a lock\n").unwrap();
    let (code, _, stderr) = run(&dir, &["init", "--force"]);
    assert_eq!(code, 0);
    assert_eq!(
        stderr,
        "warning: poetry.lock is not read: the image resolves pyproject.toml [tool.poetry.dependencies] as of the date in python.exclude_newer; to install exactly what the lock pins, run `poetry export --only main -f requirements.txt -o requirements.txt` and use python.requirements instead of python.project\n"
    );
    let app_yaml = fs::read_to_string(dir.join("app.yaml")).unwrap();
    assert!(
        app_yaml.contains("  exclude_newer: \"2026-11-26\"\n"),
        "{app_yaml}"
    );
}

#[test]
fn json_output_lists_what_was_found() {
    let (_tmp, dir) = copy("fastapi-main");
    let out = util::fabuild(&dir)
        .args(["init", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["found"][0]["what"], "app");
    assert_eq!(report["found"][0]["value"], "main:app");
    assert_eq!(
        report["found"][0]["why"],
        "FastAPI app at main.py:3: app = FastAPI(title=\"orders\")"
    );
}

/// A project with a gunicorn.conf.py: init carries the settings app.yaml has keys for, with
/// the values the real gunicorn reads from the file, and lists the rest by line.
/// What real gunicorn prints (`--print-config`) for each setting, run in `dir` with
/// `GUNICORN_CMD_ARGS` (or none); it prints before it imports the app.
fn print_config(dir: &Path, cmd_args: Option<&str>) -> impl Fn(&str) -> String {
    let mut gunicorn = Command::new(util::oracle("FABUILD_GUNICORN", "gunicorn"));
    gunicorn
        .args(["--print-config", "app:app"])
        .current_dir(dir)
        .env_remove("GUNICORN_CMD_ARGS");
    if let Some(args) = cmd_args {
        gunicorn.env("GUNICORN_CMD_ARGS", args);
    }
    let printed = String::from_utf8(gunicorn.output().unwrap().stdout).unwrap();
    move |name: &str| {
        printed
            .lines()
            .find_map(|l| {
                let (key, value) = l.split_once('=')?;
                (key.trim() == name).then(|| value.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("gunicorn printed no {name}:\n{printed}"))
    }
}

/// The oracle for what init carries: real gunicorn reading the project's gunicorn.conf.py
/// and real gunicorn reading the `GUNICORN_CMD_ARGS` that the app.yaml init wrote plans (in
/// an empty directory) agree on every setting in `names`. Returns gunicorn's reading of
/// the file.
fn gunicorn_reads_the_same(dir: &Path, app_yaml: &str, names: &[&str]) -> impl Fn(&str) -> String {
    let from_file = print_config(dir, None);
    let checked = fabuild::check::check_text(app_yaml, "app.yaml", dir).unwrap();
    let plan = fabuild::plan::plan(&checked.spec, &fabuild::plan::Overrides::default());
    let elsewhere = tempfile::tempdir().unwrap();
    let from_plan = print_config(elsewhere.path(), Some(&plan.gunicorn_cmd_args));
    for name in names {
        assert_eq!(
            from_plan(name),
            from_file(name),
            "{name}: GUNICORN_CMD_ARGS={}",
            plan.gunicorn_cmd_args
        );
    }
    from_file
}

/// init on a copy of `fixture`, its report and app.yaml snapshotted as `init-<fixture>`;
/// the copy and the app.yaml.
fn init_snapshotted(fixture: &str) -> (tempfile::TempDir, PathBuf, String) {
    let (tmp, dir) = copy(fixture);
    let (code, stdout, stderr) = run(&dir, &["init"]);
    assert_eq!(code, 0, "{stderr}");
    let app_yaml = fs::read_to_string(dir.join("app.yaml")).unwrap();
    insta::assert_snapshot!(
        format!("init-{fixture}"),
        format!("=== stdout ===\n{stdout}=== stderr ===\n{stderr}=== app.yaml ===\n{app_yaml}")
    );
    (tmp, dir, app_yaml)
}

#[test]
fn gunicorn_conf_settings_are_carried_over_as_gunicorn_reads_them() {
    let (_tmp, dir, app_yaml) = init_snapshotted("gunicorn-conf");

    let from_file = gunicorn_reads_the_same(
        &dir,
        &app_yaml,
        &[
            "bind",
            "timeout",
            "graceful_timeout",
            "keepalive",
            "max_requests",
            "max_requests_jitter",
            "threads",
            "forwarded_allow_ips",
            "accesslog",
        ],
    );
    let checked = fabuild::check::check_text(&app_yaml, "app.yaml", &dir).unwrap();
    let server = &checked.spec.server;
    assert_eq!(from_file("bind"), format!("['0.0.0.0:{}']", server.port));
    for (name, value) in [
        ("timeout", Some(server.timeout)),
        ("graceful_timeout", Some(server.graceful_timeout)),
        ("keepalive", Some(server.keepalive)),
        ("max_requests", Some(server.max_requests)),
        ("max_requests_jitter", Some(server.max_requests_jitter)),
        ("threads", server.threads),
    ] {
        assert_eq!(
            Some(from_file(name)),
            value.map(|v| v.to_string()),
            "{name}"
        );
    }
    // Computed from the host's CPUs: not carried; app.yaml sizes by its CPU limit.
    assert!(app_yaml.contains("\n  cpus: 1\n"));

    // The file is still there, so check still warns; without it, app.yaml is clean.
    let (code, stdout, stderr) = run(&dir, &["check"]);
    assert_eq!((code, stdout.as_str()), (0, "app.yaml: ok (1 warning)\n"));
    assert!(stderr.contains("warning[FAB029]"), "{stderr}");
    fs::remove_file(dir.join("gunicorn.conf.py")).unwrap();
    let (code, stdout, stderr) = run(&dir, &["check"]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "app.yaml: ok\n", "")
    );

    // A value app.yaml refuses does not fail init: the file's values are left out, and the
    // warning says which and why.
    fs::write(dir.join("gunicorn.conf.py"), "workers = 0\ntimeout = 45\n").unwrap();
    let (code, _, stderr) = run(&dir, &["init", "--force"]);
    assert_eq!(code, 0, "{stderr}");
    let app_yaml = fs::read_to_string(dir.join("app.yaml")).unwrap();
    assert!(!app_yaml.contains("workers:") && !app_yaml.contains("timeout:"));
    assert!(
        stderr.contains("gunicorn.conf.py:1: workers = 0\n")
            && stderr.contains("because: 0 workers is out of range [FAB022]"),
        "{stderr}"
    );
}

/// init reads every Python file as Python does: a statement over several lines (a bracketed
/// list, a parenthesized number, a backslash continuation, a triple-quoted string) is one
/// statement, in the app module and in gunicorn.conf.py alike, and what it carries is what
/// the real gunicorn reads.
#[test]
fn statements_over_several_lines_are_read_as_python_reads_them() {
    let (_tmp, dir) = copy("gunicorn-conf");
    fs::write(
        dir.join("app.py"),
        "from flask import Flask\n\napp = Flask(\n    __name__,\n    static_folder=\"\"\"assets\n\"\"\".strip())\n",
    )
    .unwrap();
    fs::write(
        dir.join("gunicorn.conf.py"),
        "bind = [\n    \"0.0.0.0:8080\",  # public\n]\nworkers = (\n    4\n)\ntimeout = \\\n    60\naccesslog = \"\"\"-\"\"\"\nloglevel = (\n    \"info\"  # for now\n    \"\"\n)\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(&dir, &["init"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(
            "app: app:app (Flask app at app.py:3: app = Flask(__name__, static_folder=\"\"\"assets?\"\"\".strip()))"
        ),
        "{stdout}"
    );
    for carried in [
        "server: port: 8080 (gunicorn.conf.py:1: bind = [\"0.0.0.0:8080\"])",
        "server: workers: 4 (gunicorn.conf.py:4: workers = (4))",
        "server: timeout: 60 (gunicorn.conf.py:7: timeout = 60)",
        "server: access_log: true (gunicorn.conf.py:9: accesslog = \"\"\"-\"\"\")",
    ] {
        assert!(stdout.contains(carried), "{carried}\nnot in:\n{stdout}");
    }
    assert!(
        stderr.contains(
            "  line 10 (loglevel): set it with server.extra_args: [\"--log-level=info\"]\n"
        ),
        "{stderr}"
    );
    let app_yaml = fs::read_to_string(dir.join("app.yaml")).unwrap();
    let from_file = gunicorn_reads_the_same(
        &dir,
        &app_yaml,
        &["bind", "workers", "timeout", "accesslog"],
    );
    assert_eq!(from_file("workers"), "4");
}

/// gunicorn.conf.py's development flags are not carried: init says to drop them, where moving
/// them to `server.extra_args` would only draw check's warning about them there.
#[test]
fn development_flags_in_gunicorn_conf_are_to_be_dropped_not_moved() {
    let (_tmp, dir) = copy("gunicorn-conf");
    fs::write(
        dir.join("gunicorn.conf.py"),
        "reload = True\nspew = True\nreload_engine = 'poll'\ntimeout = 45\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&dir, &["init"]);
    assert_eq!(code, 0, "{stderr}");
    for expected in [
        "  line 1 (reload): for development: gunicorn watches code an image never changes (FAB118 in server.extra_args): drop it\n",
        "  line 2 (spew): for development: every worker prints each line of Python it runs to stdout (FAB130 in server.extra_args): drop it\n",
        "  line 3 (reload_engine): only used with reload, which is for development: drop it\n",
    ] {
        assert!(stderr.contains(expected), "{expected}not in:\n{stderr}");
    }
    assert!(
        !stderr.contains("--reload") && !stderr.contains("--spew"),
        "{stderr}"
    );
    let app_yaml = fs::read_to_string(dir.join("app.yaml")).unwrap();
    assert!(app_yaml.contains("\n  timeout: 45\n") && !app_yaml.contains("extra_args"));
}

#[test]
fn project_text_stays_in_its_comment_and_off_the_terminal() {
    // TOML strings take escapes: a project name can hold line breaks and a terminal
    // control sequence, which init quotes in a comment and in what it prints.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(
        dir.join("app.py"),
        "from flask import Flask\napp = Flask(__name__)\n",
    )
    .unwrap();
    fs::write(
        dir.join("pyproject.toml"),
        "[project]\nname = \"svc\\nserver:\\n  port: 9999\\n\\u001b[2J#\"\ndependencies = [\"flask\"]\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(dir, &["init"]);
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    assert!(
        stdout.contains(
            "        name: svc-server-port-9999-2j (the project name `svc?server:?  port: 9999??[2J#` in pyproject.toml)\n"
        ),
        "{stdout}"
    );
    let app_yaml = fs::read_to_string(dir.join("app.yaml")).unwrap();
    assert!(
        app_yaml
            .contains("\n# the project name `svc?server:?  port: 9999??[2J#` in pyproject.toml\n"),
        "{app_yaml}"
    );
    let (code, plan, stderr) = run(dir, &["plan"]);
    assert_eq!(code, 0, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["port"], 8000, "{app_yaml}");
}

/// A gunicorn.conf.py serving TLS from files in one directory outside the project: init
/// writes that directory as app.yaml's `tls` mount, and gunicorn reads the same paths from
/// the planned `GUNICORN_CMD_ARGS` as from the file.
#[test]
fn gunicorn_conf_tls_files_become_the_tls_mount() {
    let (_tmp, dir, app_yaml) = init_snapshotted("gunicorn-conf-tls");
    let from_file = gunicorn_reads_the_same(
        &dir,
        &app_yaml,
        &["bind", "keyfile", "certfile", "ca_certs"],
    );
    assert_eq!(from_file("keyfile"), "/opt/key/abc-key.pem");

    // Flags decide over the file; a key inside the project would be built into the image.
    let (code, _, stderr) = run(
        &dir,
        &[
            "init",
            "--force",
            "--tls-dir",
            "/srv/tls",
            "--certfile",
            "c.pem",
            "--keyfile",
            "k.pem",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let app_yaml = fs::read_to_string(dir.join("app.yaml")).unwrap();
    assert!(app_yaml.contains("\n  dir: /srv/tls\n"), "{app_yaml}");
    assert!(
        stderr.contains(
            "not carried over, because --tls-dir and its flags decide: gunicorn.conf.py:4: keyfile"
        ),
        "{stderr}"
    );
    fs::write(
        dir.join("gunicorn.conf.py"),
        "keyfile = 'certs/key.pem'\ncertfile = 'certs/cert.pem'\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&dir, &["init", "--force"]);
    assert_eq!(code, 0, "{stderr}");
    let app_yaml = fs::read_to_string(dir.join("app.yaml")).unwrap();
    assert!(!app_yaml.contains("tls:"), "{app_yaml}");
    assert!(
        stderr.contains("line 1 (keyfile): `certs/key.pem` is relative to the working directory, /app, so the file would be built into the image"),
        "{stderr}"
    );
}

/// A project with its own Dockerfile, ignore file and compose.yaml: init writes none of
/// them and says to generate with `--out`; doing what it says leaves every one of the
/// project's files byte for byte, and puts the Dockerfile and its ignore file in the
/// directory named. Files fabuild generated itself are not the project's.
#[test]
fn a_project_with_its_own_build_files_keeps_them_and_is_told_to_use_out() {
    let (_tmp, dir) = copy("flask-factory");
    let own = [
        (
            "Dockerfile",
            "FROM python:3.12\nCOPY . /srv\nCMD [\"flask\", \"run\"]\n",
        ),
        (".dockerignore", ".git\n*.pyc\n"),
        ("compose.yaml", "services:\n  web:\n    build: .\n"),
    ];
    for (name, text) in own {
        fs::write(dir.join(name), text).unwrap();
    }
    let (code, _, stderr) = run(&dir, &["init"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("the project has its own Dockerfile, .dockerignore, compose.yaml"),
        "{stderr}"
    );
    let advised = stderr
        .split("`fabuild gen --out ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no `fabuild gen --out DIR` advised: {stderr}"));
    assert_eq!(advised, "build/fabuild");
    let unchanged = |when: &str| {
        for (name, text) in own {
            assert_eq!(
                fs::read_to_string(dir.join(name)).unwrap(),
                text,
                "{name} {when}"
            );
        }
    };
    unchanged("after init");

    let (code, _, stderr) = run(&dir, &["gen", "--out", advised]);
    assert_eq!(code, 0, "{stderr}");
    unchanged("after gen --out");
    let out = dir.join(advised);
    assert!(out.join("Dockerfile").is_file() && out.join("Dockerfile.dockerignore").is_file());
    // Without --out, gen refuses to write over them.
    let (code, _, _) = run(&dir, &["gen"]);
    assert_ne!(code, 0);
    unchanged("after a plain gen");

    // fabuild's own generated files are not the project's: nothing to say about them.
    let (_tmp, dir) = copy("flask-factory");
    assert_eq!(run(&dir, &["init"]).0, 0);
    assert_eq!(run(&dir, &["gen"]).0, 0);
    let (code, _, stderr) = run(&dir, &["init", "--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("has its own"), "{stderr}");
}

/// Settings read from the environment without a default become commented `env:` entries
/// naming where each is read; a lookup with a default and a name that only looks alike
/// are not listed; uncommented, the entries are a valid spec.
#[test]
fn settings_read_without_a_default_are_listed_as_env_entries_to_fill() {
    let (_tmp, dir) = copy("flask-factory");
    fs::write(
        dir.join("flaskr/config.py"),
        "import os\nfrom os import environ, getenv\n\nSECRET_KEY = os.environ[\"SECRET_KEY\"]\nDATABASE_URL = environ.get(\"DATABASE_URL\")\nLOG_LEVEL = os.environ.get(\"LOG_LEVEL\", \"info\")\nSENTRY_DSN = getenv(\n    \"SENTRY_DSN\"\n)\nOTHER = myenviron[\"NOPE\"]\nDB = os.environ['DATABASE_URL']\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&dir, &["init"]);
    assert_eq!(code, 0, "{stderr}");
    let text = fs::read_to_string(dir.join("app.yaml")).unwrap();
    let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("#   ")).collect();
    assert_eq!(
        listed,
        [
            "#   SECRET_KEY: \"\"  # required: os.environ[...] fails without it, at flaskr/config.py:4",
            "#   DATABASE_URL: \"\"  # required: os.environ[...] fails without it, at flaskr/config.py:11",
            "#   SENTRY_DSN: \"\"  # optional: read without a default (None when unset), at flaskr/config.py:7",
        ]
    );
    let filled = text
        .replace("# env:\n", "env:\n")
        .replace("#   SECRET_KEY: \"\"", "  SECRET_KEY: \"s\"");
    fs::write(dir.join("app.yaml"), filled).unwrap();
    let (code, stdout, stderr) = run(&dir, &["plan", "app.yaml"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"SECRET_KEY\""), "{stdout}");
}

/// A pydantic settings class and django-environ's reader: each required variable is listed
/// with the class or call that needs it (which variables: `settings_oracle.rs` proves it
/// against the real libraries).
#[test]
fn pydantic_fields_and_environ_reads_say_what_needs_them() {
    let (_tmp, dir) = copy("flask-factory");
    fs::write(
        dir.join("flaskr/config.py"),
        "import environ\nfrom pydantic_settings import BaseSettings, SettingsConfigDict\n\n\nclass Settings(BaseSettings):\n    model_config = SettingsConfigDict(env_prefix=\"flaskr_\")\n    database_url: str\n    debug: bool = False\n\n\nsettings = Settings()\nenv = environ.Env(DEBUG=(bool, False))\nSECRET_KEY = env(\"SECRET_KEY\")\nDEBUG = env(\"DEBUG\")\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&dir, &["init"]);
    assert_eq!(code, 0, "{stderr}");
    let text = fs::read_to_string(dir.join("app.yaml")).unwrap();
    let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("#   ")).collect();
    assert_eq!(
        listed,
        [
            "#   FLASKR_DATABASE_URL: \"\"  # required: a field of the pydantic settings class Settings without a default, at flaskr/config.py:7",
            "#   SECRET_KEY: \"\"  # required: env(...) (django-environ) fails without it, at flaskr/config.py:13",
        ]
    );
}

/// A Flask app whose requirements.txt does not name Flask would build an image whose
/// workers all fail at `import flask`: init says so, naming the app and the file. Not said
/// when the file names it, or includes another file init does not read.
#[test]
fn an_app_whose_framework_is_not_declared_is_warned() {
    let (_tmp, dir) = copy("flask-factory");
    fs::write(dir.join("requirements.txt"), "requests==2.32.3\n").unwrap();
    let (code, _, stderr) = run(&dir, &["init"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("the app is a Flask app (flaskr/__init__.py:"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "but requirements.txt does not name flask: the image installs only what it declares"
        ),
        "{stderr}"
    );
    fs::write(dir.join("base.txt"), "flask==3.1.0\n").unwrap();
    for requirements in ["Flask[async]==3.1.0\n", "-r base.txt\n"] {
        fs::write(dir.join("requirements.txt"), requirements).unwrap();
        let (code, _, stderr) = run(&dir, &["init", "--force"]);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            !stderr.contains("does not name"),
            "{requirements}: {stderr}"
        );
    }
}

/// An alias or a reader's argument is any string the code holds: one that is not a
/// variable name (a line break, a `:`) is not listed, so it cannot add a key to app.yaml
/// when the entries are uncommented.
#[test]
fn names_that_are_not_variable_names_are_not_listed() {
    let (_tmp, dir) = copy("flask-factory");
    fs::write(
        dir.join("flaskr/config.py"),
        "import environ\nfrom pydantic import Field\nfrom pydantic_settings import BaseSettings\n\n\nclass Settings(BaseSettings):\n    a: str = Field(alias=\"X\\nworkers: 99\")\n    b: str = Field(alias=\"has space\")\n    good_one: str\n\n\nenv = environ.Env()\nV = env(\"Y\\nname: evil\")\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&dir, &["init"]);
    assert_eq!(code, 0, "{stderr}");
    let text = fs::read_to_string(dir.join("app.yaml")).unwrap();
    let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("#   ")).collect();
    assert_eq!(listed.len(), 1, "{text}");
    assert!(listed[0].starts_with("#   GOOD_ONE: \"\""), "{text}");
    assert!(!text.contains("evil") && !text.contains("99"), "{text}");
}

/// Found by fuzzing (`init_code`): code that reads `PATH` got a `PATH` entry, which
/// app.yaml refuses (the image sets it). Variables the image sets, the worker count
/// (`server.workers` decides it) and those init already wrote (`PYTHONPATH` for a src
/// layout) are not listed; uncommented, the entries keep app.yaml valid.
#[test]
fn variables_the_image_or_init_sets_are_not_listed() {
    let (_tmp, dir) = copy("src-layout");
    let package = fs::read_dir(dir.join("src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    fs::write(
        package.join("settings.py"),
        "import os\n\nPATH = os.environ[\"PATH\"]\nHOME = os.getenv(\"HOME\")\nPYPATH = os.environ[\"PYTHONPATH\"]\nWORKERS = os.environ[\"WEB_CONCURRENCY\"]\nKEY = os.environ[\"API_KEY\"]\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&dir, &["init"]);
    assert_eq!(code, 0, "{stderr}");
    let text = fs::read_to_string(dir.join("app.yaml")).unwrap();
    let listed: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("#   "))
        .filter_map(|l| l.split_once(':').map(|(name, _)| name))
        .collect();
    assert_eq!(listed, ["API_KEY"], "{text}");
    assert!(text.contains("\n  PYTHONPATH: /app/src\n"), "{text}");
    fs::write(
        dir.join("app.yaml"),
        text.replace("#   API_KEY: \"\"", "  API_KEY: \"k\""),
    )
    .unwrap();
    let (code, _, stderr) = run(&dir, &["check", "app.yaml"]);
    assert_eq!(code, 0, "{stderr}");
}

/// Flask's celery example: `flask_app = create_app()` in a root module, the factory in a
/// package under src/. The image imports the root module from /app, so the package must be
/// on the path (`PYTHONPATH: /app/src`), or every worker dies with `ModuleNotFoundError`.
#[test]
fn an_app_made_by_a_factory_under_src_gets_src_on_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::create_dir_all(dir.join("src/task_app")).unwrap();
    fs::write(
        dir.join("src/task_app/__init__.py"),
        "from flask import Flask\n\n\ndef create_app() -> Flask:\n    app = Flask(__name__)\n    return app\n",
    )
    .unwrap();
    fs::write(
        dir.join("make_celery.py"),
        "from task_app import create_app\n\nflask_app = create_app()\ncelery_app = flask_app.extensions[\"celery\"]\n",
    )
    .unwrap();
    fs::write(dir.join("requirements.txt"), "flask==3.1.3\n").unwrap();
    let (code, stdout, stderr) = run(dir, &["init"]);
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    let (code, plan, stderr) = run(dir, &["plan"]);
    assert_eq!(code, 0, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["module"], "make_celery:flask_app", "{plan}");
    assert!(
        plan["env"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(["PYTHONPATH", "/app/src"])),
        "{}",
        plan["env"]
    );
}
