//! `fabuild build` when things go wrong around it: a base with account files too large to
//! hold; and the directories `app.writable` names, built and verified.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::build::{LayerFile, Project, SPEC, layer_entry};
use crate::image_writer::{self, Compression, Image, Item, dir, file};
use crate::util::fabuild;

/// `fabuild verify` of `image` against the spec in `project`: (exit code, stdout).
fn verify(project: &Path, image: &Path) -> (i32, String) {
    let output = fabuild(project)
        .args(["verify", "app.yaml", "--image"])
        .arg(image)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

/// A base whose /etc/passwd (or /etc/group) is larger than the build reads whole.
fn base_with(at: &Path, passwd: &str, group: &str) -> PathBuf {
    let layer: Vec<Item> = vec![
        dir("/etc"),
        file("/etc/passwd", passwd),
        file("/etc/group", group),
        dir("/usr"),
        dir("/usr/bin"),
        file("/usr/bin/python3.11", "not really python"),
    ];
    let runtime = json!({"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["python3"]});
    let image = Image::build(&runtime, "amd64", &[layer], Compression::Gzip);
    let path = at.join("big-base");
    let _ = std::fs::remove_dir_all(&path);
    image_writer::write_layout(&path, &[(&image, Some("linux/amd64"))]);
    path
}

/// Account files over 1 MiB are refused by name and size, never cut short.
#[test]
fn account_files_over_a_mebibyte_are_refused_never_truncated() {
    let mut project = Project::new();
    let mut big = String::from("root:x:0:0:root:/root:/bin/bash\n");
    let mut n = 1000;
    while big.len() <= 1 << 20 {
        big.push_str(&format!("user{n}:x:{n}:{n}::/home/user{n}:/bin/sh\n"));
        n += 1;
    }
    for (file, passwd, group) in [
        ("/etc/passwd", big.as_str(), "root:x:0:\n"),
        (
            "/etc/group",
            "root:x:0:0:root:/root:/bin/bash\n",
            big.as_str(),
        ),
    ] {
        project.base = base_with(project.root.parent().unwrap(), passwd, group);
        let size = if file == "/etc/passwd" {
            passwd.len()
        } else {
            group.len()
        };
        let output = fabuild(&project.root)
            .args(["build", "app.yaml", "--base"])
            .arg(&project.base)
            .arg("--out")
            .arg(project.path("img"))
            .arg("--wheels")
            .arg(&project.wheels)
            .arg("--no-cache")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{file}: {stderr}");
        assert!(
            stderr.contains(file) && stderr.contains(&format!("{size} bytes")),
            "{file}: {stderr}"
        );
        assert!(stderr.contains("fabuild gen"), "says what to do: {stderr}");
        assert!(!project.path("img").exists());
    }
}

/// `app.writable`: each directory is in the image, owned by the app's uid:gid with mode
/// 0750 (parents root's), the local state in the context stays out, and verify checks it;
/// an image without them fails verify.
#[test]
fn writable_directories_are_built_owned_by_the_user_and_verified() {
    let project = Project::new();
    // Built without app.writable first: the image verify must fail once the spec has it.
    project.build("plain", "cache", &[]);
    let spec = SPEC.replace(
        "  interface: wsgi\n",
        "  interface: wsgi\n  writable: [instance, /srv/tiny/data]\n",
    );
    std::fs::write(project.root.join("app.yaml"), spec).unwrap();
    std::fs::create_dir_all(project.root.join("instance")).unwrap();
    std::fs::write(project.root.join("instance/local.sqlite"), "local state").unwrap();
    project.build("img", "cache", &[]);

    let [_, identity, app] = project.added_layers("img");
    let entry = |files: &[LayerFile], path: &str| layer_entry(files, path).map(|f| (f.1, f.2, f.3));
    assert_eq!(
        entry(&identity, "app/instance"),
        Some((0o750, 10001, 10001))
    );
    assert_eq!(
        entry(&identity, "srv/tiny/data"),
        Some((0o750, 10001, 10001))
    );
    assert_eq!(entry(&identity, "srv/tiny"), Some((0o755, 0, 0)));
    assert_eq!(entry(&identity, "srv"), Some((0o755, 0, 0)));
    assert!(
        app.iter().all(|f| !f.0.starts_with("app/instance")),
        "the writable directory and the local state in it stay out of the app layer"
    );

    let (code, report) = verify(&project.root, &project.path("img"));
    assert_eq!(code, 0, "{report}");
    let row = report
        .lines()
        .find(|l| l.contains("writable-dirs"))
        .unwrap_or_else(|| panic!("no writable-dirs check:\n{report}"));
    assert!(row.starts_with("PASS"), "{report}");

    let (code, report) = verify(&project.root, &project.path("plain"));
    assert_eq!(code, 1, "{report}");
    let failed: Vec<&str> = report.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{report}");
    assert!(failed[0].contains("writable-dirs"), "{report}");
    assert!(
        report.contains("/app/instance") && report.contains("/srv/tiny/data"),
        "{report}"
    );
}
