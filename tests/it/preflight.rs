//! The generated preflight, run by the real Python against real files: what a user sees
//! when the container is given a bad key mount or a bad `WEB_CONCURRENCY`.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use crate::util;

/// Generates the preflight for a TLS spec whose mount is `dir`, with the final exec
/// pointed at `/bin/true` so a pass is visible as exit 0.
fn preflight(dir: &Path) -> (tempfile::TempDir, std::path::PathBuf) {
    preflight_for(&format!(
        "version: 1\nname: orders-api\napp:\n  module: main:app\n  interface: asgi\ntls:\n  dir: {}\n  certfile: cert.pem\n  keyfile: key.pem\n",
        dir.display()
    ))
}

/// Generates the preflight for `spec`, with the final exec pointed at `/bin/true`.
fn preflight_for(spec: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().to_path_buf();
    fs::write(project.join("app.yaml"), spec).unwrap();
    let out = util::fabuild(&project).arg("gen").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = project.join("fabuild-preflight.py");
    let text = fs::read_to_string(&script).unwrap();
    let patched = text.replace(
        "GUNICORN = \"/opt/venv/bin/gunicorn\"",
        "GUNICORN = \"/bin/true\"",
    );
    assert_ne!(
        text, patched,
        "the preflight no longer names /opt/venv/bin/gunicorn"
    );
    fs::write(&script, patched).unwrap();
    fs::set_permissions(&project, fs::Permissions::from_mode(0o755)).unwrap();
    (tmp, script)
}

/// The uid the preflight runs as: 10001, as in the image, when the tests run as root (CI);
/// otherwise the tests' own uid, which cannot switch.
fn app_uid() -> u32 {
    let probe = tempfile::tempfile().unwrap();
    match probe.metadata().unwrap().uid() {
        0 => 10001,
        own => own,
    }
}

fn openssl_pair(dir: &Path, cert: &str, key: &str) {
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(dir.join(key))
        .arg("-out")
        .arg(dir.join(cert))
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Runs the preflight as uid/gid 10001 (as the image does), with extra environment.
fn run_as_app(
    (_project, script): &(tempfile::TempDir, std::path::PathBuf),
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = if app_uid() == 10001 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=10001", "--regid=10001", "--clear-groups"])
            .arg(util::python());
        c
    } else {
        Command::new(util::python())
    };
    cmd.arg(script);
    cmd.env_remove("GUNICORN_CMD_ARGS")
        .env_remove("WEB_CONCURRENCY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn keys() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    openssl_pair(dir.path(), "cert.pem", "key.pem");
    dir
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Root-owned and group-readable by the app's group, like a Kubernetes secret with
/// fsGroup; without root, owned by the tests' own user.
fn like_a_secret(path: &Path) {
    if app_uid() == 10001 {
        std::os::unix::fs::chown(path, Some(0), Some(10001)).unwrap();
    }
    set_mode(path, 0o440);
}

#[test]
fn a_mount_readable_by_the_group_passes_and_execs_gunicorn() {
    let keys = keys();
    for f in ["cert.pem", "key.pem"] {
        like_a_secret(&keys.path().join(f));
    }
    let out = run_as_app(&preflight(keys.path()), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty());
}

#[test]
fn a_root_only_key_fails_in_one_line_naming_file_uid_and_fix() {
    let keys = keys();
    set_mode(&keys.path().join("cert.pem"), 0o444);
    let key = keys.path().join("key.pem");
    // Root-owned 0600 for root's tests (what a default secret mount gives); 0000 otherwise.
    let mode = if app_uid() == 10001 { 0o600 } else { 0o000 };
    set_mode(&key, mode);
    let owner = fs::metadata(&key).unwrap();
    let out = run_as_app(&preflight(keys.path()), &[]);
    assert_eq!(out.status.code(), Some(78));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line, not a traceback:\n{err}");
    let uid = app_uid();
    assert!(
        err.contains(&format!(
            "TLS key {} is not readable by uid {uid}",
            key.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "owner {}:{}, mode {mode:04o}",
            owner.uid(),
            owner.gid()
        )),
        "{err}"
    );
    assert!(
        err.contains("fsGroup: 10001") && err.contains("defaultMode: 0440"),
        "{err}"
    );
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let keys = keys();
    openssl_pair(keys.path(), "other-cert.pem", "other-key.pem");
    fs::rename(
        keys.path().join("other-key.pem"),
        keys.path().join("key.pem"),
    )
    .unwrap();
    for f in ["cert.pem", "key.pem"] {
        set_mode(&keys.path().join(f), 0o444);
    }
    let out = run_as_app(&preflight(keys.path()), &[]);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        stderr(&out).contains("cannot be used together"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_certificate_is_named() {
    let keys = keys();
    fs::remove_file(keys.path().join("cert.pem")).unwrap();
    set_mode(&keys.path().join("key.pem"), 0o444);
    let out = run_as_app(&preflight(keys.path()), &[]);
    assert_eq!(out.status.code(), Some(78));
    let expected = format!("cert.pem does not exist (uid {})", app_uid());
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
}

#[test]
fn a_writable_directory_the_uid_cannot_write_is_named_with_the_fix() {
    // Not under /tmp: app.writable refuses it (writable already).
    let data = tempfile::Builder::new()
        .prefix("fabuild-writable-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let path = data.path().display().to_string();
    let generated = preflight_for(&format!(
        "version: 1\nname: notes\napp:\n  module: flaskr:create_app()\n  interface: wsgi\n  writable: [{path}]\n"
    ));
    // Root-owned 0755 when the tests run as root (the image's own directory without the
    // chown, or a root-owned volume); 0555 otherwise.
    set_mode(data.path(), if app_uid() == 10001 { 0o755 } else { 0o555 });
    let out = run_as_app(&generated, &[]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line, not a traceback:\n{err}");
    let uid = app_uid();
    assert!(
        err.contains(&format!(
            "{path} (app.writable) is not writable by uid {uid}"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "docker: --tmpfs {path}:uid={uid},gid=10001,mode=0750;"
        )) && err.contains(&format!("podman: --tmpfs {path}:mode=0750,U)")),
        "{err}"
    );

    // Owned by the app's user, as the image creates it: the preflight passes.
    if uid == 10001 {
        std::os::unix::fs::chown(data.path(), Some(10001), Some(10001)).unwrap();
    }
    set_mode(data.path(), 0o750);
    let out = run_as_app(&generated, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Gone (a volume mounted over its parent, say): named as missing.
    drop(data);
    let out = run_as_app(&generated, &[]);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        stderr(&out).contains(&format!("{path} (app.writable) does not exist")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_non_integer_web_concurrency_gets_a_line_not_a_traceback() {
    let keys = keys();
    for f in ["cert.pem", "key.pem"] {
        set_mode(&keys.path().join(f), 0o444);
    }
    let out = run_as_app(&preflight(keys.path()), &[("WEB_CONCURRENCY", "auto")]);
    assert_eq!(out.status.code(), Some(78));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("WEB_CONCURRENCY='auto' is not an integer"),
        "{err}"
    );
}

#[test]
fn paths_overridden_in_gunicorn_cmd_args_are_the_ones_checked() {
    let keys = keys();
    for f in ["cert.pem", "key.pem"] {
        set_mode(&keys.path().join(f), 0o444);
    }
    let elsewhere = keys.path().join("rotated-key.pem");
    let args = format!("--workers=2 --keyfile {}", elsewhere.display());
    let out = run_as_app(&preflight(keys.path()), &[("GUNICORN_CMD_ARGS", &args)]);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        stderr(&out).contains("rotated-key.pem does not exist"),
        "{}",
        stderr(&out)
    );
}
