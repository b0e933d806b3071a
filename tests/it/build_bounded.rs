//! `fabuild build` in bounded memory: a build context with a 1 GiB file builds under an
//! address-space limit far below its size.

use std::path::Path;
use std::process::{Command, Output};

use crate::build::{EPOCH, Project, layer_digests};

/// Address space allowed to one build: half the size of the file below, so a build that
/// held it (or allocated what a zip header claims) dies.
const MEMORY_LIMIT: &str = "--as=536870912";
/// Kills a build that hangs; generous, since the machine is shared. Not a timing assertion.
const HANG_SECONDS: &str = "600";
const GIB: u64 = 1 << 30;

/// `fabuild build` of `project` with `wheels`, under the memory limit and the hang detector.
fn bounded_build(project: &Project, wheels: &Path) -> Output {
    Command::new("timeout")
        .args(["-s", "KILL", HANG_SECONDS, "prlimit", MEMORY_LIMIT])
        .arg(env!("CARGO_BIN_EXE_fabuild"))
        .args(["build", "app.yaml", "--base"])
        .arg(&project.base)
        .arg("--out")
        .arg(project.path("img"))
        .arg("--wheels")
        .arg(wheels)
        .arg("--no-cache")
        .current_dir(&project.root)
        .env("NO_COLOR", "1")
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .output()
        .unwrap()
}

/// The path and size of every regular file in a gzipped layer, read as a stream.
fn layer_sizes(blob: &Path) -> Vec<(String, u64)> {
    let file = std::fs::File::open(blob).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let path = entry.path().unwrap().display().to_string();
            let size = std::io::copy(&mut entry, &mut std::io::sink()).unwrap();
            assert_eq!(size, entry.header().size().unwrap(), "{path}");
            out.push((path, size));
        }
    }
    out
}

#[test]
fn a_gibibyte_file_in_the_context_builds_under_half_a_gibibyte_of_address_space() {
    let project = Project::new();
    // Sparse: no disk to speak of, and every byte still goes through the layer writer.
    let big = project.root.join("data/big.bin");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    std::fs::File::create(&big).unwrap().set_len(GIB).unwrap();

    let output = bounded_build(&project, &project.wheels);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}\n{stderr}", output.status);

    let (_, manifest) = project.manifest("img");
    let app = layer_digests(&manifest).pop().unwrap();
    let blob = project
        .path("img/blobs/sha256")
        .join(app.trim_start_matches("sha256:"));
    let files = layer_sizes(&blob);
    assert!(
        files.contains(&("app/data/big.bin".to_owned(), GIB)),
        "{files:?}"
    );
    assert!(files.iter().any(|(p, _)| p == "app/wsgi.py"), "{files:?}");
}
