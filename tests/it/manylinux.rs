//! `fabuild build` asks pip for every manylinux wheel the base's glibc runs, read from the
//! base's own libc.so.6 (this machine's real one): a package published only for
//! `manylinux_2_28` installs, and the versions chosen are the ones pip itself chooses on a
//! machine with that glibc (this one), not older ones that happen to have manylinux2014
//! wheels.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::build::{EPOCH, layer_files, wheels};
use crate::image_writer::{self, Compression, Image, Item, dir, file};
use crate::util::fabuild;

const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";

/// A base with a Python 3.11 and this machine's libc.so.6 where Debian keeps it.
pub(crate) fn base_with_host_libc(at: &Path) -> PathBuf {
    let libc = std::fs::read(LIBC).expect("a glibc machine (Debian keeps it at {LIBC})");
    let layer: Vec<Item> = vec![
        dir("/etc"),
        file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
        file("/etc/group", "root:x:0:\n"),
        dir("/usr"),
        dir("/usr/bin"),
        file("/usr/bin/python3.11", "not really python"),
        dir("/usr/lib"),
        dir("/usr/lib/x86_64-linux-gnu"),
        file("/usr/lib/x86_64-linux-gnu/libc.so.6", libc),
    ];
    let runtime = json!({"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["python3"]});
    let image = Image::build(&runtime, "amd64", &[layer], Compression::Gzip);
    let path = at.join("base");
    image_writer::write_layout(&path, &[(&image, Some("linux/amd64"))]);
    path
}

/// A wheel of `name` `version` whose only platform is `platform` (pure Python inside, so
/// that the host's pip, whatever its Python, judges it by the platform tag alone).
fn wheel(dir: &Path, name: &str, version: &str, platform: &str) {
    let tag = format!("py3-none-{platform}");
    let path = dir.join(format!("{name}-{version}-{tag}.whl"));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let info = format!("{name}-{version}.dist-info");
    let files = [
        (
            format!("{name}/__init__.py"),
            format!("VERSION = {version:?}\n"),
        ),
        (
            format!("{info}/METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
        ),
        (
            format!("{info}/WHEEL"),
            format!(
                "Wheel-Version: 1.0\nGenerator: fabuild-tests\nRoot-Is-Purelib: false\nTag: {tag}\n"
            ),
        ),
        (
            format!("{info}/RECORD"),
            format!("{name}/__init__.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n"),
        ),
    ];
    for (name, text) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

fn pip() -> String {
    std::env::var("FABUILD_PIP").unwrap_or_else(|_| "pip".to_owned())
}

struct Case {
    tmp: tempfile::TempDir,
    links: PathBuf,
}

impl Case {
    /// A WSGI project requiring `requirements`, and a find-links directory holding the
    /// pinned gunicorn wheel (and whatever wheels the test adds).
    fn new(requirements: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("project");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("app.yaml"), crate::build::SPEC).unwrap();
        std::fs::write(root.join("wsgi.py"), "app = None\n").unwrap();
        std::fs::write(root.join("requirements.txt"), requirements).unwrap();
        let links = tmp.path().join("links");
        std::fs::create_dir_all(&links).unwrap();
        for entry in std::fs::read_dir(wheels()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), links.join(entry.file_name())).unwrap();
        }
        Self { tmp, links }
    }

    /// `fabuild build` with pip downloading from the find-links directory only.
    fn build(&self) -> Output {
        let base = base_with_host_libc(self.tmp.path());
        fabuild(&self.tmp.path().join("project"))
            .args(["build", "app.yaml", "--no-cache", "--base"])
            .arg(base)
            .arg("--out")
            .arg(self.tmp.path().join("image"))
            .arg("--pip")
            .arg(pip())
            .env("PIP_NO_INDEX", "1")
            .env("PIP_FIND_LINKS", &self.links)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .output()
            .unwrap()
    }

    /// The distributions (normalised name, version) in the built image's venv.
    fn installed(&self) -> Vec<(String, String)> {
        let image = self.tmp.path().join("image");
        let read =
            |p: &Path| -> Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
        let index = read(&image.join("index.json"));
        let blob = |digest: &str| image.join("blobs/sha256").join(&digest[7..]);
        let manifest = read(&blob(index["manifests"][0]["digest"].as_str().unwrap()));
        let layers = manifest["layers"].as_array().unwrap();
        // The dependency layer: the first fabuild adds (the base has one).
        let deps =
            layer_files(&std::fs::read(blob(layers[1]["digest"].as_str().unwrap())).unwrap());
        let mut found: Vec<(String, String)> = deps
            .iter()
            .filter_map(|f| {
                let name = f.0.strip_prefix("opt/venv/lib/python3.11/site-packages/")?;
                let dist = name.strip_suffix(".dist-info/METADATA")?;
                let (project, version) = dist.rsplit_once('-')?;
                Some((project.replace('_', "-").to_lowercase(), version.to_owned()))
            })
            .collect();
        found.sort();
        found
    }
}

pub(crate) fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_package_published_only_for_manylinux_2_28_installs() {
    let case = Case::new("onlynew\n");
    wheel(&case.links, "onlynew", "1.0", "manylinux_2_28_x86_64");
    let output = case.build();
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        case.installed()
            .contains(&("onlynew".to_owned(), "1.0".to_owned())),
        "{:?}",
        case.installed()
    );
    // The build says which glibc it read from the base.
    assert!(text(&output).contains("glibc 2."), "{}", text(&output));
}

#[test]
fn build_installs_the_versions_pip_on_the_bases_glibc_resolves() {
    // One version per manylinux generation, and one for a glibc no machine has yet.
    let case = Case::new("tiered\n");
    wheel(&case.links, "tiered", "1.0", "manylinux2014_x86_64");
    wheel(&case.links, "tiered", "2.0", "manylinux_2_28_x86_64");
    wheel(&case.links, "tiered", "3.0", "manylinux_2_99_x86_64");
    let output = case.build();
    assert!(output.status.success(), "{}", text(&output));

    // pip on this machine, whose glibc is the base's (the same libc.so.6), resolving the
    // same requirements from the same wheels: what pip inside the base resolves.
    let report = Command::new(pip())
        .args(["install", "--dry-run", "--ignore-installed", "--quiet"])
        .args(["--disable-pip-version-check", "--only-binary=:all:"])
        .args(["--no-index", "--find-links"])
        .arg(&case.links)
        .args(["--report", "-", "tiered"])
        .output()
        .unwrap();
    assert!(report.status.success(), "{}", text(&report));
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    let resolved: Vec<(String, String)> = report["install"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["metadata"]["name"].as_str().unwrap().to_lowercase(),
                i["metadata"]["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(resolved, [("tiered".to_owned(), "2.0".to_owned())]);
    let installed = case.installed();
    for pair in &resolved {
        assert!(
            installed.contains(pair),
            "pip resolves {pair:?}, the image has {installed:?}"
        );
    }
}
