//! `gen` over many specs writes them as one batch with one sync, and keeps the promise one
//! spec has: killed at any moment, beside another batch over the same specs in another
//! order, every file is whole (old or new), the run not killed succeeds, and the next run
//! completes every spec and leaves no temporary behind.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::gen_races::{FILES, SPEC, contents, leftovers, text};
use crate::util;

const SPECS: usize = 24;

fn spec(workers: u32) -> String {
    SPEC.replace("workers: 2", &format!("workers: {workers}"))
}

/// `SPECS` projects under one root, generated from `before`, whose specs then became
/// `after`; and the spec paths relative to the root.
fn projects(before: &str, after: &str) -> (tempfile::TempDir, Vec<String>) {
    let root = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..SPECS).map(|i| format!("p{i:02}/app.yaml")).collect();
    for name in &names {
        let path = root.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, before).unwrap();
    }
    let out = util::fabuild(root.path())
        .arg("gen")
        .args(&names)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    for name in &names {
        fs::write(root.path().join(name), after).unwrap();
    }
    (root, names)
}

fn dirs(root: &Path, names: &[String]) -> Vec<PathBuf> {
    names
        .iter()
        .map(|n| root.join(n).parent().unwrap().to_path_buf())
        .collect()
}

fn spawn(root: &Path, names: &[String]) -> Child {
    util::fabuild(root)
        .arg("gen")
        .args(names)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The files one spec gives, generated alone.
fn generated(spec: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("app.yaml"), spec).unwrap();
    let out = util::fabuild(dir.path()).arg("gen").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    contents(dir.path())
}

#[test]
fn a_batch_killed_at_any_moment_beside_another_leaves_whole_files() {
    let old = generated(&spec(5));
    let new = generated(&spec(7));
    for round in 0..25u64 {
        let (root, names) = projects(&spec(5), &spec(7));
        // Two batches over the same specs, one in reverse order: they lock the same
        // directories and must not wait on each other forever.
        let mut reversed = names.clone();
        reversed.reverse();
        let mut killed = spawn(root.path(), &names);
        let survivor = spawn(root.path(), &reversed);
        // Spread over a whole batch: rendering, locking, staging, the sync, the renames.
        std::thread::sleep(Duration::from_micros((round * 7_919) % 200_000));
        let _ = killed.kill();
        let _ = killed.wait();
        for dir in dirs(root.path(), &names) {
            for (i, name) in FILES.iter().enumerate() {
                let now = fs::read_to_string(dir.join(name)).unwrap();
                assert!(
                    now == old[i] || now == new[i],
                    "round {round}: {} is neither old nor new",
                    dir.join(name).display()
                );
            }
        }
        let out = survivor.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: the batch that was not killed failed:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let next = util::fabuild(root.path())
            .arg("gen")
            .args(&names)
            .output()
            .unwrap();
        assert_eq!(next.status.code(), Some(0), "{}", text(&next.stderr));
        for dir in dirs(root.path(), &names) {
            assert_eq!(contents(&dir), new, "round {round}");
            assert_eq!(leftovers(&dir), Vec::<String>::new(), "round {round}");
        }
    }
}

#[test]
fn a_batch_reports_each_spec_as_one_run_would() {
    let (root, names) = projects(&spec(5), &spec(7));
    let out = util::fabuild(root.path())
        .arg("gen")
        .args(&names)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for name in &names {
        let dir = name.trim_end_matches("/app.yaml");
        assert!(
            stdout.contains(&format!("  updated {dir}/Dockerfile\n")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("unchanged {dir}/.dockerignore\n")),
            "{stdout}"
        );
    }
    assert!(
        stdout.ends_with(&format!("{SPECS} spec(s): {SPECS} ok, 0 failed\n")),
        "{stdout}"
    );
    // A hand edit in one spec's files stops that spec alone.
    let edited = root.path().join("p03/Dockerfile");
    fs::write(&edited, "FROM scratch\n").unwrap();
    for name in &names {
        fs::write(root.path().join(name), spec(9)).unwrap();
    }
    let out = util::fabuild(root.path())
        .arg("gen")
        .args(&names)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(fs::read_to_string(&edited).unwrap(), "FROM scratch\n");
    assert_eq!(
        contents(&root.path().join("p04")),
        generated(&spec(9)),
        "the other specs are written"
    );
}

#[test]
fn two_specs_of_one_directory_in_a_batch_are_written_in_turn() {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("app.yaml"), spec(3)).unwrap();
    fs::write(root.path().join("other.yaml"), spec(4)).unwrap();
    let out = util::fabuild(root.path())
        .args(["gen", "app.yaml", "other.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The last spec given wins, as with two runs one after the other.
    let dockerfile = fs::read_to_string(root.path().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("other.yaml"), "{dockerfile}");
}
