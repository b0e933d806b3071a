//! `fabuild verify` as a user runs it, on synthetic images the tests write: the good image
//! of `examples/fastapi-tls` passes in every form; each bad image fails with the check
//! named and a message saying what is wrong.

use std::path::{Path, PathBuf};

use fabuild::plan::Plan;
use serde_json::{Value, json};

use crate::image_writer::{
    Compression, Image, Item, dir, file, owned_file, write_docker_archive, write_layout,
    write_nested_layout, write_oci_archive,
};
use crate::util::{fabuild, repo};

const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n";
const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIDazCCAlOgAwIBAgIUYm9ndXNjZXJ0aWZpY2F0ZQ\n-----END CERTIFICATE-----\n";

fn spec() -> PathBuf {
    repo().join("examples/fastapi-tls/app.yaml")
}

fn plan() -> Plan {
    let checked = fabuild::check::check(&spec(), "app.yaml").unwrap();
    fabuild::plan::plan(&checked.spec, &fabuild::plan::Overrides::default())
}

/// The OCI name of the host's architecture, which verify picks by default.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The runtime config a correct build of the plan has.
fn good_config(plan: &Plan) -> Value {
    let env: Vec<String> = plan.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let labels: serde_json::Map<String, Value> = plan
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut volumes = serde_json::Map::new();
    if let Some(dir) = &plan.tls_dir {
        volumes.insert(dir.clone(), json!({}));
    }
    json!({
        "User": format!("{}:{}", plan.uid, plan.gid),
        "Env": env,
        "Cmd": plan.cmd,
        "ExposedPorts": {format!("{}/tcp", plan.port): {}},
        "Volumes": volumes,
        "WorkingDir": "/app",
        "Labels": labels,
    })
}

fn base_layer() -> Vec<Item> {
    vec![
        dir("/etc"),
        dir("/etc/ssl/certs"),
        file("/etc/ssl/certs/ca-certificates.crt", CERT),
        // A system .env is not the app's.
        file("/usr/share/example/.env", "A=1\n"),
        // Shared libraries carry PEM markers and self-test keys; not a leak.
        file(
            "/usr/lib/libfake.so",
            format!("\x7fELF\x02\x01\x01\0{KEY}").into_bytes(),
        ),
    ]
}

fn venv_layer(plan: &Plan) -> Vec<Item> {
    venv_layer_for(plan, "3.12")
}

fn venv_layer_for(plan: &Plan, python: &str) -> Vec<Item> {
    let mut items = vec![dir(&format!("/opt/venv/lib/python{python}/site-packages"))];
    for pin in &plan.server_pins {
        let dist = format!(
            "/opt/venv/lib/python{python}/site-packages/{}-{}.dist-info",
            pin.name.replace('-', "_"),
            pin.version
        );
        items.push(dir(&dist));
        items.push(file(
            &format!("{dist}/METADATA"),
            format!("Name: {}\nVersion: {}\n", pin.name, pin.version),
        ));
    }
    items
}

fn app_layer() -> Vec<Item> {
    vec![
        dir("/app"),
        file(
            "/app/main.py",
            "from fastapi import FastAPI\napp = FastAPI()\n",
        ),
        file("/app/requirements.txt", "fastapi\n"),
    ]
}

fn good_layers(plan: &Plan) -> Vec<Vec<Item>> {
    vec![base_layer(), venv_layer(plan), app_layer()]
}

fn good_image() -> Image {
    let plan = plan();
    Image::build(
        &good_config(&plan),
        host_arch(),
        &good_layers(&plan),
        Compression::Gzip,
    )
}

/// A temp dir holding the image as an OCI layout at `image/`.
fn layout(image: &Image) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("image");
    write_layout(&path, &[(image, None)]);
    (tmp, path)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn has(&self, text: &str) -> bool {
        self.stdout.contains(text) || self.stderr.contains(text)
    }

    /// The check's row and its indented detail lines.
    fn row(&self, status: &str, name: &str) -> String {
        let mut lines = self.stdout.lines().skip_while(|l| {
            !(l.starts_with(status) && l[4..].trim_start().starts_with(&format!("{name} ")))
        });
        let Some(first) = lines.next() else {
            panic!("no `{status} {name}` row in:\n{}", self.stdout);
        };
        let mut row = first.to_owned();
        for line in lines.take_while(|l| l.starts_with("    ")) {
            row.push('\n');
            row.push_str(line);
        }
        row
    }
}

fn verify(image: &Path, extra: &[&str]) -> Run {
    let output = fabuild(&repo())
        .arg("verify")
        .arg(spec())
        .arg("--image")
        .arg(image)
        .args(extra)
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn assert_all_pass(run: &Run) {
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
    for name in [
        "integrity",
        "layer-diff-ids",
        "user",
        "gunicorn-cmd-args",
        "command",
        "exposed-port",
        "tls-volume",
        "labels",
        "workdir",
        "env",
        "private-keys",
        "env-files",
        "build-secrets",
        "server-pins",
        "app-files-read-only",
        "bytecode",
        "machine",
    ] {
        run.row("PASS", name);
    }
}

#[test]
fn a_good_layout_passes_every_check() {
    let (_tmp, path) = layout(&good_image());
    let run = verify(&path, &[]);
    assert_all_pass(&run);
    assert!(run.has("(oci-layout)"), "{}", run.stdout);
    assert!(
        run.row("PASS", "server-pins")
            .contains("gunicorn 27.0.1, uvicorn 0.54.0, uvicorn-worker 0.4.0 as pinned")
    );
    assert!(
        run.has("19 checks: 18 passed, 0 failed, 1 skipped"),
        "{}",
        run.stdout
    );
}

#[test]
fn json_report_lists_every_check() {
    let (_tmp, path) = layout(&good_image());
    let run = verify(&path, &["--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["ok"], json!(true));
    assert_eq!(report["image"]["format"], json!("oci-layout"));
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 19);
    for check in checks {
        // The example has no app.writable: that check does not apply.
        let want = if check["name"] == "writable-dirs" {
            "skip"
        } else {
            "pass"
        };
        assert_eq!(check["status"], json!(want), "{check}");
    }
}

#[test]
fn an_oci_archive_is_read_in_place() {
    let (tmp, path) = layout(&good_image());
    let archive = tmp.path().join("app.oci.tar");
    write_oci_archive(&path, &archive);
    let run = verify(&archive, &[]);
    assert_all_pass(&run);
    assert!(run.has("(oci-archive)"), "{}", run.stdout);
    // The skopeo transport spelling works too.
    let prefixed = format!("oci-archive:{}", archive.display());
    assert_eq!(verify(Path::new(&prefixed), &[]).code, 0);
}

#[test]
fn a_docker_archive_is_checked_against_its_diff_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("app.docker.tar");
    write_docker_archive(&good_image(), &archive);
    let run = verify(&archive, &[]);
    assert_all_pass(&run);
    assert!(run.has("(docker-archive)"), "{}", run.stdout);
    assert!(
        run.row("PASS", "integrity")
            .contains("checked against the config's diff ids")
    );
}

#[test]
fn a_docker_25_archive_is_read_through_its_oci_index() {
    // `docker save` from Docker 25 on writes an OCI layout with a manifest.json beside it.
    let image = good_image();
    let (tmp, path) = layout(&image);
    let layers: Vec<String> = image
        .layers
        .iter()
        .map(|h| format!("blobs/sha256/{h}"))
        .collect();
    let manifest = json!([{"Config": format!("blobs/sha256/{}", image.config), "RepoTags": ["orders-api:test"], "Layers": layers}]);
    std::fs::write(
        path.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let archive = tmp.path().join("docker25.tar");
    write_oci_archive(&path, &archive);
    let run = verify(&archive, &[]);
    assert_all_pass(&run);
    assert!(run.has("(docker-archive)"), "{}", run.stdout);
    assert!(
        run.row("PASS", "integrity")
            .contains("match their descriptors (sha256 and size)")
    );
}

#[test]
fn zstd_and_uncompressed_layers_are_read() {
    let plan = plan();
    for compression in [Compression::Zstd, Compression::None] {
        let image = Image::build(
            &good_config(&plan),
            host_arch(),
            &good_layers(&plan),
            compression,
        );
        let (_tmp, path) = layout(&image);
        assert_all_pass(&verify(&path, &[]));
    }
}

#[test]
fn a_tampered_blob_is_named() {
    let image = good_image();
    let (_tmp, path) = layout(&image);
    let app = &image.layers[2];
    let blob = path.join("blobs/sha256").join(app);
    let mut bytes = std::fs::read(&blob).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    let run = verify(&path, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let row = run.row("FAIL", "integrity");
    assert!(
        row.contains(&format!("layer 3 of 3 (blobs/sha256/{app}) has sha256")),
        "{row}"
    );
    assert!(
        row.contains("the blob was changed after the image was built"),
        "{row}"
    );
    assert!(row.contains("do not push it"), "{row}");
}

#[test]
fn a_tampered_config_is_named_and_still_read() {
    let image = good_image();
    let (_tmp, path) = layout(&image);
    let blob = path.join("blobs/sha256").join(&image.config);
    let text = std::fs::read_to_string(&blob).unwrap();
    // Same length, different bytes: only the digest can tell.
    std::fs::write(&blob, text.replace("\"10001:10001\"", "\"10001:10002\"")).unwrap();
    let run = verify(&path, &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.row("FAIL", "integrity")
            .contains(&format!("config (blobs/sha256/{})", image.config))
    );
    assert!(run.row("FAIL", "user").contains("\"10001:10002\""));
}

/// JSON that is not what its place needs is named with what is wrong and where, the way
/// `serde_json` says it, not as a bare "serde failed".
#[test]
fn json_that_is_not_an_image_says_what_and_where() {
    let image = good_image();
    let (_tmp, path) = layout(&image);
    std::fs::write(path.join("index.json"), "{\"schemaVersion\": 2}").unwrap();
    let run = verify(&path, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.ends_with(
            "index.json is not an OCI image index: missing field `manifests` at line 1 column 20\n"
        ),
        "{}",
        run.stderr
    );

    let run = with_config(|c| c["User"] = json!(10001));
    assert!(
        run.has("the config is not an image config: invalid type: integer `10001`, expected a string at line"),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn a_truncated_blob_is_named_with_its_sizes() {
    let image = good_image();
    let (_tmp, path) = layout(&image);
    let venv = &image.layers[1];
    let blob = path.join("blobs/sha256").join(venv);
    let bytes = std::fs::read(&blob).unwrap();
    let half = bytes.len() / 2;
    std::fs::write(&blob, &bytes[..half]).unwrap();
    let run = verify(&path, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let row = run.row("FAIL", "integrity");
    assert!(
        row.contains(&format!(
            "layer 2 of 3 (blobs/sha256/{venv}) is truncated: {half} bytes, its descriptor says {}",
            bytes.len()
        )),
        "{row}"
    );
    // What could not be read is not declared clean.
    assert!(
        run.row("FAIL", "private-keys")
            .contains("not every file could be checked")
    );
}

#[test]
fn a_missing_blob_is_named() {
    let image = good_image();
    let (_tmp, path) = layout(&image);
    std::fs::remove_file(path.join("blobs/sha256").join(&image.layers[0])).unwrap();
    let run = verify(&path, &[]);
    assert_eq!(run.code, 1);
    assert!(run.row("FAIL", "integrity").contains(&format!(
        "layer 1 of 3 (blobs/sha256/{}) is missing from the image",
        image.layers[0]
    )));
}

fn with_config(change: impl FnOnce(&mut Value)) -> Run {
    let plan = plan();
    let mut config = good_config(&plan);
    change(&mut config);
    let image = Image::build(&config, host_arch(), &good_layers(&plan), Compression::Gzip);
    let (_tmp, path) = layout(&image);
    verify(&path, &[])
}

fn with_layers(layers: &[Vec<Item>]) -> Run {
    let plan = plan();
    let image = Image::build(&good_config(&plan), host_arch(), layers, Compression::Gzip);
    let (_tmp, path) = layout(&image);
    verify(&path, &[])
}

#[test]
fn a_wrong_user_fails() {
    let run = with_config(|c| c["User"] = json!("1000:1000"));
    assert_eq!(run.code, 1);
    let row = run.row("FAIL", "user");
    assert!(
        row.contains("User is \"1000:1000\", the spec plans \"10001:10001\""),
        "{row}"
    );
    assert!(row.contains("USER 10001:10001"), "{row}");
}

#[test]
fn a_root_or_named_user_fails() {
    for (user, says) in [
        ("0:0", "runs as root"),
        ("", "User is not set, so the container runs as root"),
        ("app", "not numeric uid:gid"),
        ("10001", "not numeric uid:gid"),
    ] {
        let run = with_config(|c| c["User"] = json!(user));
        assert_eq!(run.code, 1, "{user}");
        let row = run.row("FAIL", "user");
        assert!(row.contains(says), "{user}: {row}");
    }
}

#[test]
fn wrong_gunicorn_cmd_args_are_shown_as_a_diff() {
    let plan = plan();
    let wrong = plan.gunicorn_cmd_args.replace("--workers=3", "--workers=4");
    let run = with_config(|c| {
        let env = c["Env"].as_array_mut().unwrap();
        for item in env.iter_mut() {
            if item.as_str().unwrap().starts_with("GUNICORN_CMD_ARGS=") {
                *item = json!(format!("GUNICORN_CMD_ARGS={wrong}"));
            }
        }
    });
    assert_eq!(run.code, 1);
    let row = run.row("FAIL", "gunicorn-cmd-args");
    assert!(
        row.contains(&format!("planned: {}", plan.gunicorn_cmd_args)),
        "{row}"
    );
    assert!(row.contains(&format!("image:   {wrong}")), "{row}");
    assert!(row.contains("- --workers=3"), "{row}");
    assert!(row.contains("+ --workers=4"), "{row}");
    // The other variables are still as planned.
    run.row("PASS", "env");
}

/// An image is input too: its config's text reaches the report, and must not reach the
/// terminal as an escape sequence (ESC [2J clears the screen, CR overwrites the line).
#[test]
fn an_images_config_cannot_drive_the_terminal() {
    let run = with_config(|c| {
        c["User"] = json!("0\u{1b}[2J\r10001:10001");
        let env = c["Env"].as_array_mut().unwrap();
        for item in env.iter_mut() {
            if item.as_str().unwrap().starts_with("GUNICORN_CMD_ARGS=") {
                *item = json!("GUNICORN_CMD_ARGS=--workers=3\u{1b}]0;owned\u{7}");
            }
        }
    });
    assert_eq!(run.code, 1);
    let acting: Vec<char> = run
        .stdout
        .chars()
        .chain(run.stderr.chars())
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        .collect();
    assert!(acting.is_empty(), "{acting:?} in:\n{}", run.stdout);
    run.row("FAIL", "user");
    let row = run.row("FAIL", "gunicorn-cmd-args");
    assert!(
        row.contains("image:   --workers=3\u{fffd}]0;owned\u{fffd}"),
        "{row}"
    );
}

#[test]
fn shell_form_and_other_config_drift_fail() {
    let run = with_config(|c| {
        c["Cmd"] = json!(["/bin/sh", "-c", "gunicorn main:app"]);
        c["ExposedPorts"] = json!({"8000/tcp": {}});
        c["Volumes"] = json!({});
        c["WorkingDir"] = json!("/");
        c["Labels"]["org.opencontainers.image.title"] = json!("other");
    });
    assert_eq!(run.code, 1);
    assert!(run.row("FAIL", "command").contains("shell form"));
    assert!(run.row("FAIL", "exposed-port").contains("missing 8443/tcp"));
    assert!(run.row("FAIL", "tls-volume").contains("missing /opt/key"));
    assert!(run.row("FAIL", "workdir").contains("WORKDIR /app"));
    assert!(
        run.row("FAIL", "labels")
            .contains("label org.opencontainers.image.title is \"other\", planned \"orders-api\"")
    );
}

#[test]
fn a_key_file_in_a_layer_fails() {
    let plan = plan();
    let mut app = app_layer();
    app.push(file("/app/certs/server.pem", KEY));
    app.push(file("/app/certs/tls.key", "not even pem"));
    let run = with_layers(&[base_layer(), venv_layer(&plan), app]);
    assert_eq!(run.code, 1);
    let row = run.row("FAIL", "private-keys");
    assert!(
        row.contains("/app/certs/server.pem (layer 3 of 3) holds a PEM private key block"),
        "{row}"
    );
    assert!(
        row.contains("/app/certs/tls.key (layer 3 of 3) is a .key file"),
        "{row}"
    );
    assert!(row.contains("rotate the key"), "{row}");
}

#[test]
fn a_key_deleted_by_a_later_whiteout_is_not_in_the_container() {
    let plan = plan();
    let mut app = app_layer();
    app.push(file("/app/secret.key", KEY));
    let cleanup = vec![Item::Whiteout("/app/secret.key".to_owned())];
    let run = with_layers(&[base_layer(), venv_layer(&plan), app, cleanup]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let row = run.row("PASS", "private-keys");
    // Gone from the filesystem, but its bytes ship in layer 3: say so.
    assert!(
        row.contains("note: /app/secret.key was added in layer 3 of 4 and deleted in layer 4 of 4"),
        "{row}"
    );
}

#[test]
fn an_opaque_directory_hides_what_was_below() {
    let plan = plan();
    let mut app = app_layer();
    app.push(file("/app/old/.env", "SECRET=1\n"));
    let cleanup = vec![dir("/app/old"), file("/app/old/.wh..wh..opq", "")];
    let run = with_layers(&[base_layer(), venv_layer(&plan), app, cleanup]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    run.row("PASS", "env-files");
}

#[test]
fn env_files_build_secrets_and_writable_code_fail() {
    let plan = plan();
    let app = vec![
        dir("/app"),
        owned_file("/app/main.py", "app = 1\n", 0o644, 10001, 10001),
        owned_file("/app/settings.py", "x = 1\n", 0o664, 0, 10001),
        file("/app/.env", "DATABASE_PASSWORD=hunter2\n"),
        file("/run/secrets/pip_ca", CERT),
    ];
    let run = with_layers(&[base_layer(), venv_layer(&plan), app]);
    assert_eq!(run.code, 1);
    assert!(
        run.row("FAIL", "env-files")
            .contains("/app/.env (layer 3 of 3) is a .env file")
    );
    assert!(
        run.row("FAIL", "build-secrets")
            .contains("/run/secrets/pip_ca")
    );
    let row = run.row("FAIL", "app-files-read-only");
    assert!(
        row.contains("/app/main.py (file, 10001:10001, mode 0644) is owned by the runtime uid"),
        "{row}"
    );
    assert!(row.contains("/app/settings.py (file, 0:10001, mode 0664) is group-writable and its group is the runtime gid"), "{row}");
}

#[test]
fn an_unpinned_server_version_fails() {
    let plan = plan();
    let venv = vec![
        file(
            "/opt/venv/lib/python3.12/site-packages/gunicorn-23.0.0.dist-info/METADATA",
            "x",
        ),
        file(
            "/opt/venv/lib/python3.12/site-packages/uvicorn-0.54.0.dist-info/METADATA",
            "x",
        ),
    ];
    let run = with_layers(&[base_layer(), venv, app_layer()]);
    assert_eq!(run.code, 1);
    let row = run.row("FAIL", "server-pins");
    assert!(
        row.contains("gunicorn 23.0.0 is installed in /opt/venv, the plan pins 27.0.1"),
        "{row}"
    );
    assert!(row.contains("uvicorn-worker is not installed"), "{row}");
    let _ = plan;
}

#[test]
fn a_multi_platform_index_checks_the_platform_asked_for() {
    let plan = plan();
    let good = Image::build(
        &good_config(&plan),
        "amd64",
        &good_layers(&plan),
        Compression::Gzip,
    );
    let mut rooted = good_config(&plan);
    rooted["User"] = json!("0:0");
    let bad = Image::build(&rooted, "arm64", &good_layers(&plan), Compression::Gzip);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("image");
    write_layout(
        &path,
        &[(&good, Some("linux/amd64")), (&bad, Some("linux/arm64"))],
    );

    let run = verify(&path, &["--platform", "linux/amd64"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.row("PASS", "platform").contains(
        "checked linux/amd64 (as asked with --platform); the index has 2: linux/amd64, linux/arm64"
    ));

    let run = verify(&path, &["--platform", "linux/arm64"]);
    assert_eq!(run.code, 1);
    assert!(run.row("PASS", "platform").contains("checked linux/arm64"));
    assert!(run.row("FAIL", "user").contains("runs as root"));

    // Without --platform every image of the index is checked: the arm64 one fails.
    let run = verify(&path, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.row("PASS", "platform").contains(
            "checked linux/amd64 (every platform is checked in turn; one with --platform)"
        )
    );
    assert!(run.stdout.contains("image: ") && run.stdout.contains(", linux/arm64, manifest"));
    assert!(run.row("FAIL", "user").contains("runs as root"));

    let run = verify(&path, &["--platform", "linux/s390x"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("the image has no linux/s390x manifest; it has linux/amd64, linux/arm64"),
        "{}",
        run.stderr
    );
}

/// The first bytes of a 64-bit little-endian ELF shared object for `e_machine`.
fn elf(e_machine: u16) -> Vec<u8> {
    let mut head = b"\x7fELF\x02\x01\x01".to_vec();
    head.resize(16, 0);
    head.extend_from_slice(&3u16.to_le_bytes()); // ET_DYN
    head.extend_from_slice(&e_machine.to_le_bytes());
    head.extend_from_slice(&[0; 44]);
    head
}

#[test]
fn an_extension_module_for_another_machine_fails_the_machine_check() {
    let plan = plan();
    let site = "/opt/venv/lib/python3.12/site-packages";
    let with_module = |e_machine: u16| {
        let mut layers = good_layers(&plan);
        layers[1].push(dir(&format!("{site}/markupsafe")));
        layers[1].push(file(
            &format!("{site}/markupsafe/_speedups.cpython-312-x86_64-linux-gnu.so"),
            elf(e_machine),
        ));
        // A library auditwheel vendors is checked too.
        layers[1].push(dir(&format!("{site}/numpy.libs")));
        layers[1].push(file(
            &format!("{site}/numpy.libs/libgfortran-040039e1.so.5.0.0"),
            elf(e_machine),
        ));
        layers
    };
    // Right: x86-64 modules in the amd64 image, aarch64 ones in the arm64 image.
    let amd = Image::build(
        &good_config(&plan),
        "amd64",
        &with_module(62),
        Compression::Gzip,
    );
    let arm = Image::build(
        &good_config(&plan),
        "arm64",
        &with_module(183),
        Compression::Gzip,
    );
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("good");
    write_nested_layout(&path, &[(&amd, "linux/amd64"), (&arm, "linux/arm64")]);
    let run = verify(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains(
        "2 shared objects in /opt/venv/lib and /app are x86_64 ELF (e_machine 62), as the image's architecture amd64"
    ), "{}", run.stdout);
    assert!(run.stdout.contains(
        "2 shared objects in /opt/venv/lib and /app are aarch64 ELF (e_machine 183), as the image's architecture arm64"
    ), "{}", run.stdout);

    // Wrong: the amd64 wheels' modules in the arm64 image.
    let wrong = Image::build(
        &good_config(&plan),
        "arm64",
        &with_module(62),
        Compression::Gzip,
    );
    let path = tmp.path().join("bad");
    write_nested_layout(&path, &[(&amd, "linux/amd64"), (&wrong, "linux/arm64")]);
    let run = verify(&path, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let row = run.row("FAIL", "machine");
    assert!(
        row.contains(&format!(
            "/{}/markupsafe/_speedups.cpython-312-x86_64-linux-gnu.so is for x86_64 (ELF e_machine 62)",
            &site[1..]
        )),
        "{row}"
    );
    assert!(
        row.contains("the image is arm64: these fail to import"),
        "{row}"
    );
    // The amd64 image of the same index still passes.
    assert!(
        run.stdout.contains("as the image's architecture amd64"),
        "{}",
        run.stdout
    );
    let run = verify(&path, &["--platform", "linux/amd64"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn a_nested_index_is_followed_to_the_platform_images() {
    let plan = plan();
    let amd = Image::build(
        &good_config(&plan),
        "amd64",
        &good_layers(&plan),
        Compression::Gzip,
    );
    let mut named = good_config(&plan);
    named["User"] = json!("app");
    let arm = Image::build(&named, "arm64", &good_layers(&plan), Compression::Gzip);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("image");
    write_nested_layout(&path, &[(&amd, "linux/amd64"), (&arm, "linux/arm64")]);
    let run = verify(&path, &["--platform", "linux/amd64"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    // The nested index is a blob like any other: checked, and counted.
    assert!(
        run.row("PASS", "integrity")
            .contains("6 blobs match their descriptors"),
        "{}",
        run.stdout
    );
    let run = verify(&path, &["--platform", "linux/arm64"]);
    assert_eq!(run.code, 1);
    assert!(
        run.row("FAIL", "user")
            .contains("User is \"app\", not numeric uid:gid")
    );
}

#[test]
fn an_invalid_spec_exits_2_before_reading_the_image() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("app.yaml");
    std::fs::write(&spec, "version: 1\nname: x\n").unwrap();
    let output = fabuild(tmp.path())
        .args(["verify", "app.yaml", "--image", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("error["));
}

#[test]
fn input_that_is_not_an_image_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let run = verify(tmp.path(), &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(
            "is not an image: it has neither index.json (OCI) nor manifest.json (docker save)"
        ),
        "{}",
        run.stderr
    );
    let run = verify(&repo().join("Cargo.toml"), &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("it is neither a directory nor a tar archive")
    );
    let run = verify(&tmp.path().join("nope.tar"), &["--format", "json"]);
    assert_eq!(run.code, 2);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["ok"], json!(false));
}

/// `app.writable` directories are checked on every image: missing, or there but not the
/// app user's to write, is a failure naming the directory.
#[test]
fn writable_directories_that_are_missing_or_not_the_users_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let example = repo().join("examples/fastapi-tls");
    for entry in std::fs::read_dir(&example).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, tmp.path().join(path.file_name().unwrap())).unwrap();
    }
    let spec_path = tmp.path().join("app.yaml");
    let spec = std::fs::read_to_string(&spec_path).unwrap().replace(
        "  interface: asgi\n",
        "  interface: asgi\n  writable: [uploads, /srv/cache]\n",
    );
    std::fs::write(&spec_path, spec).unwrap();
    let plan = plan();
    let mut root_owned = app_layer();
    root_owned.push(dir("/app/uploads"));
    let image = Image::build(
        &good_config(&plan),
        host_arch(),
        &[base_layer(), venv_layer(&plan), root_owned],
        Compression::Gzip,
    );
    let (_tmp, path) = layout(&image);
    let output = fabuild(tmp.path())
        .args(["verify", "app.yaml", "--image"])
        .arg(&path)
        .output()
        .unwrap();
    let run = Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let row = run.row("FAIL", "writable-dirs");
    assert!(
        row.contains("/app/uploads (directory, 0:0, mode 0755) is not owned by 10001:10001"),
        "{row}"
    );
    assert!(row.contains("/srv/cache is missing"), "{row}");
    assert_eq!(run.stdout.matches("FAIL").count(), 1, "{}", run.stdout);
}

/// The `.pyc` real `CPython` writes for `source` at `/app/main.py`, unchecked-hash: the
/// test oracle's interpreter (`FABUILD_PYTHON`), and its cache tag.
fn real_pyc(source: &str) -> (Vec<u8>, String) {
    let tmp = tempfile::tempdir().unwrap();
    let py = tmp.path().join("main.py");
    std::fs::write(&py, source).unwrap();
    let out = std::process::Command::new(crate::util::python())
        .arg("-c")
        .arg(
            "import py_compile, sys; print(py_compile.compile(sys.argv[1], dfile='/app/main.py', doraise=True, \
             invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)); print(sys.implementation.cache_tag)",
        )
        .arg(&py)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let pyc = std::fs::read(lines.next().unwrap()).unwrap();
    (pyc, lines.next().unwrap().to_owned())
}

#[test]
fn bytecode_of_its_source_passes_and_bytecode_of_another_fails() {
    let plan = plan();
    let source = "from fastapi import FastAPI\napp = FastAPI()\n";
    let (good, tag) = real_pyc(source);
    let (stale, _) = real_pyc("from fastapi import FastAPI\napp = FastAPI(debug=True)\n");
    // The app's bytecode is for the venv's Python, which its lib/pythonX.Y names.
    let version = tag.trim_start_matches("cpython-");
    let python = format!("{}.{}", &version[..1], &version[1..]);
    let with_pyc = |pyc: &[u8]| {
        let venv = venv_layer_for(&plan, &python);
        let mut app = app_layer();
        app.push(dir("/app/__pycache__"));
        app.push(file(
            &format!("/app/__pycache__/main.{tag}.pyc"),
            pyc.to_vec(),
        ));
        with_layers(&[base_layer(), venv, app])
    };

    let run = with_pyc(&good);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let row = run.row("PASS", "bytecode");
    assert!(row.contains("1 of 1 Python sources"), "{row}");

    let run = with_pyc(&stale);
    assert_eq!(run.code, 1);
    let row = run.row("FAIL", "bytecode");
    assert!(
        row.contains(&format!(
            "/app/__pycache__/main.{tag}.pyc is not the bytecode of /app/main.py"
        )),
        "{row}"
    );
}

#[test]
fn sources_without_bytecode_are_named_not_failed() {
    let run = with_layers(&good_layers(&plan()));
    let row = run.row("PASS", "bytecode");
    assert!(row.contains("0 of 1 Python sources"), "{row}");
    assert!(row.contains("1 have none (/app/main.py)"), "{row}");
}
