//! `fabuild build --platform linux/amd64,linux/arm64` on small synthetic bases: one image
//! index, one manifest per platform with its architecture, the app layer shared byte for
//! byte, the amd64 image the very one a single-platform build makes, the same digest
//! twice, and clear errors for a missing platform or bases of different Pythons.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::build::{EPOCH, Project, layer_digests};
use crate::image_writer::{self, Compression, Image, dir, file};
use crate::util::fabuild;

/// A single-platform base for `arch` with a (fake) interpreter of Python `python`.
fn base(at: &Path, arch: &str, python: &str) -> PathBuf {
    let layer = vec![
        dir("/etc"),
        file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
        file("/etc/group", "root:x:0:\n"),
        dir("/usr"),
        dir("/usr/bin"),
        file(&format!("/usr/bin/python{python}"), "not really python"),
    ];
    let runtime = json!({"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["python3"]});
    let image = Image::build(&runtime, arch, &[layer], Compression::Gzip);
    let path = at.join(format!("base-{arch}-{python}"));
    image_writer::write_layout(&path, &[(&image, Some(&format!("linux/{arch}")))]);
    path
}

fn run(project: &Project, args: &[&str], bases: &[&Path]) -> std::process::Output {
    let mut command = fabuild(&project.root);
    command.args(["build", "app.yaml"]).args(args);
    for b in bases {
        command.arg("--base").arg(b);
    }
    command
        .arg("--wheels")
        .arg(&project.wheels)
        .arg("--no-cache")
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .output()
        .unwrap()
}

fn json_at(out: &Path, digest: &str) -> Value {
    let hex = digest.trim_start_matches("sha256:");
    serde_json::from_slice(&std::fs::read(out.join("blobs/sha256").join(hex)).unwrap()).unwrap()
}

#[test]
fn two_platforms_make_one_index_sharing_the_app_layer() {
    let project = Project::new();
    let tmp = project.path("");
    let amd = base(&tmp, "amd64", "3.11");
    let arm = base(&tmp, "arm64", "3.11");
    let two = project.path("two");
    let out = two.to_str().unwrap();
    let built = run(
        &project,
        &["--platform", "linux/amd64,linux/arm64", "--out", out],
        &[&amd, &arm],
    );
    let stdout = String::from_utf8_lossy(&built.stdout);
    assert!(
        built.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&built.stderr)
    );
    assert!(stdout.contains("an image index of 2 platforms"), "{stdout}");

    let top: Value =
        serde_json::from_slice(&std::fs::read(two.join("index.json")).unwrap()).unwrap();
    let entry = &top["manifests"][0];
    assert_eq!(
        entry["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "latest"
    );
    let index_digest = entry["digest"].as_str().unwrap();
    assert!(
        stdout.contains(&format!("index {index_digest}")),
        "{stdout}"
    );
    let index = json_at(&two, index_digest);
    let images = index["manifests"].as_array().unwrap();
    assert_eq!(
        images[0]["platform"],
        json!({"os": "linux", "architecture": "amd64"})
    );
    assert_eq!(
        images[1]["platform"],
        json!({"os": "linux", "architecture": "arm64", "variant": "v8"})
    );
    let manifests: Vec<Value> = images
        .iter()
        .map(|m| json_at(&two, m["digest"].as_str().unwrap()))
        .collect();
    let layers: Vec<Vec<String>> = manifests.iter().map(layer_digests).collect();
    // The app layer (last) is one blob. (These bases hold the same files, and gunicorn's
    // wheel is pure Python: here only the configs tell the platforms apart.)
    assert_eq!(layers[0].last(), layers[1].last());
    assert_eq!(layers[0].len(), 4);
    assert_ne!(images[0]["digest"], images[1]["digest"]);
    let configs: Vec<Value> = manifests
        .iter()
        .map(|m| json_at(&two, m["config"]["digest"].as_str().unwrap()))
        .collect();
    assert_eq!(configs[0]["architecture"], "amd64");
    assert_eq!(configs[0].get("variant"), None);
    assert_eq!(configs[1]["architecture"], "arm64");
    assert_eq!(configs[1]["variant"], "v8");

    // The amd64 image is the one a single-platform build (the default) makes.
    let one = project.path("one");
    let single = run(&project, &["--out", one.to_str().unwrap()], &[&amd]);
    assert!(single.status.success());
    let single_index: Value =
        serde_json::from_slice(&std::fs::read(one.join("index.json")).unwrap()).unwrap();
    assert_eq!(single_index["manifests"][0]["digest"], images[0]["digest"]);
    assert_eq!(
        single_index["manifests"][0]["platform"],
        json!({"os": "linux", "architecture": "amd64"})
    );

    // The same inputs, the same index; the order of --base does not matter.
    let again = project.path("again");
    let rebuilt = run(
        &project,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--out",
            again.to_str().unwrap(),
        ],
        &[&arm, &amd],
    );
    assert!(rebuilt.status.success());
    assert_eq!(
        std::fs::read(again.join("index.json")).unwrap(),
        std::fs::read(two.join("index.json")).unwrap()
    );

    // verify checks both images of the index.
    let verified = fabuild(&project.root)
        .args(["verify", "app.yaml", "--image"])
        .arg(&two)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&verified.stdout);
    assert!(
        report.contains("checked linux/amd64 (every platform"),
        "{report}"
    );
    assert!(
        report.contains("checked linux/arm64/v8 (every platform"),
        "{report}"
    );
}

#[test]
fn a_platform_no_base_has_and_bases_of_two_pythons_are_errors() {
    let project = Project::new();
    let tmp = project.path("");
    let amd = base(&tmp, "amd64", "3.11");
    let out = project.path("img");
    let missing = run(
        &project,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--out",
            out.to_str().unwrap(),
        ],
        &[&amd],
    );
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the image has no linux/arm64 manifest; it has linux/amd64"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is written when a base is missing");

    let arm = base(&tmp, "arm64", "3.12");
    let differ = run(
        &project,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--out",
            out.to_str().unwrap(),
        ],
        &[&amd, &arm],
    );
    let stderr = String::from_utf8_lossy(&differ.stderr);
    assert!(!differ.status.success());
    assert!(
        stderr.contains("the bases' Python versions differ: linux/amd64 has 3.11 (/usr/bin/python3.11), linux/arm64/v8 has 3.12"),
        "{stderr}"
    );

    let bad = run(
        &project,
        &["--platform", "linux/s390x", "--out", out.to_str().unwrap()],
        &[&amd],
    );
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--platform: linux/s390x: fabuild builds linux/amd64 and linux/arm64"),
        "{stderr}"
    );
}

#[test]
fn a_base_index_pinned_by_its_digest_builds_every_platform() {
    let project = Project::new();
    let tmp = project.path("");
    let layer = |python: &str| {
        vec![
            dir("/etc"),
            file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
            file("/etc/group", "root:x:0:\n"),
            dir("/usr"),
            dir("/usr/bin"),
            file(&format!("/usr/bin/python{python}"), "not really python"),
        ]
    };
    let runtime = json!({"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["python3"]});
    let amd = Image::build(&runtime, "amd64", &[layer("3.11")], Compression::Gzip);
    let arm = Image::build(&runtime, "arm64", &[layer("3.11")], Compression::Gzip);
    let both = tmp.join("base-index");
    image_writer::write_nested_layout(&both, &[(&amd, "linux/amd64"), (&arm, "linux/arm64")]);
    let top: Value =
        serde_json::from_slice(&std::fs::read(both.join("index.json")).unwrap()).unwrap();
    let index = top["manifests"][0]["digest"].as_str().unwrap().to_owned();
    let out = project.path("img");
    // `fabuild pin` writes the index's digest: each platform's manifest is in that index.
    let pinned = run(
        &project,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--base-image",
            &format!("registry.example/base@{index}"),
            "--out",
            out.to_str().unwrap(),
        ],
        &[&both],
    );
    assert!(
        pinned.status.success(),
        "{}",
        String::from_utf8_lossy(&pinned.stderr)
    );
    let other = format!("registry.example/base@sha256:{}", "0".repeat(64));
    let wrong = run(
        &project,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--base-image",
            &other,
            "--out",
            out.to_str().unwrap(),
        ],
        &[&both],
    );
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success());
    assert!(
        stderr.contains(&format!(
            "the spec pins the base at sha256:{}",
            "0".repeat(64)
        )),
        "{stderr}"
    );
}
