//! `fabuild build` when things go wrong around it: a base with account files too large to
//! hold.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::build::Project;
use crate::image_writer::{self, Compression, Image, Item, dir, file};
use crate::util::fabuild;

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
