//! `fabuild build` when things go wrong around it: killed at any moment, run several times
//! at once on one `--out`, given a base with account files too large to hold; and the
//! directories `app.writable` names, built and verified.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::build::{EPOCH, LayerFile, Project, SPEC, layer_entry};
use crate::image_writer::{self, Compression, Image, Item, dir, file};
use crate::util::fabuild;

/// `fabuild build` of `project` (its spec, base and wheels) into `out`, not yet started.
fn build_command(project: &Path, base: &Path, wheels: &Path, out: &Path, cache: &Path) -> Command {
    let mut cmd = fabuild(project);
    cmd.args(["build", "app.yaml", "--base"])
        .arg(base)
        .arg("--out")
        .arg(out)
        .arg("--wheels")
        .arg(wheels)
        .arg("--cache-dir")
        .arg(cache)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

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

/// Names in `dir` that a build left behind: its staging directories and temporary files.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".fabuild") || n.starts_with(".tmp"))
        .collect()
}

/// The blobs a layout holds, and the ones its index reaches (index -> manifest -> blobs).
fn blobs(out: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let held = std::fs::read_dir(out.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let index: Value = serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap())
        .expect("index.json is JSON");
    let hex = |d: &Value| d.as_str().unwrap().trim_start_matches("sha256:").to_owned();
    let mut reached = BTreeSet::new();
    for descriptor in index["manifests"].as_array().unwrap() {
        let digest = hex(&descriptor["digest"]);
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(out.join("blobs/sha256").join(&digest)).unwrap())
                .unwrap();
        reached.insert(digest);
        reached.insert(hex(&manifest["config"]["digest"]));
        for layer in manifest["layers"].as_array().unwrap() {
            reached.insert(hex(&layer["digest"]));
        }
    }
    (held, reached)
}

/// A small deterministic generator; the seed is printed so a failing round can be replayed.
struct Rng {
    seed: u64,
    state: u64,
}

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state % n.max(1)
    }
}

/// Runs the first builds, which must succeed; returns how long one took with a warm
/// cache, in microseconds (the scale of the random kill times, not an assertion about
/// speed), and a generator seeded for this run.
fn first_build(mut cmd: Command) -> (u64, Rng) {
    let output = cmd.output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let started = Instant::now();
    assert!(cmd.output().unwrap().status.success());
    let span = u64::try_from(started.elapsed().as_micros())
        .unwrap()
        .max(1000);
    let seed = u64::from(std::process::id()) * 2_654_435_761 + 1;
    println!("seed {seed}, a build takes about {span} us here");
    (span, Rng { seed, state: seed })
}

/// Kills a started build with SIGKILL: in even rounds as soon as `watch` changes, in odd
/// ones after a random time up to 1.2 builds. Whether it was killed before it finished.
fn kill_mid_way(mut child: Child, watch: &Path, round: usize, span: u64, rng: &mut Rng) -> bool {
    let killed = if round.is_multiple_of(2) {
        kill_when_changed(&mut child, watch)
    } else {
        std::thread::sleep(Duration::from_micros(rng.below(span * 6 / 5)));
        child.kill().is_ok()
    };
    let status = child.wait().unwrap();
    killed && !status.success()
}

/// What a layout directory looks like from outside: its entries and those of its blobs,
/// with their inode numbers (a rename shows as a new inode).
fn fingerprint(out: &Path) -> Vec<(String, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut seen = Vec::new();
    for dir in [out.to_path_buf(), out.join("blobs/sha256")] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let ino = entry.metadata().map_or(0, |m| m.ino());
                seen.push((entry.path().display().to_string(), ino));
            }
        }
    }
    seen.sort();
    seen
}

/// Kills `child` with SIGKILL as soon as `out` changes in any way (the moment a build
/// starts putting its image in place), or when it exits first. Whether it was killed.
fn kill_when_changed(child: &mut Child, out: &Path) -> bool {
    let before = fingerprint(out);
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if fingerprint(out) != before {
            child.kill().unwrap();
            return true;
        }
    }
}

/// `kill -9` during `fabuild build`, at random moments and at the moment the image starts
/// being replaced: what `--out` holds is always a whole image that verify passes, the
/// next build succeeds, and nothing a killed run staged is left behind.
#[test]
fn a_build_killed_at_any_moment_leaves_a_whole_image_and_the_next_build_cleans_up() {
    let project = Project::new();
    let out = project.path("img");
    let cache = project.path("cache");
    let parent = out.parent().unwrap().to_path_buf();
    let run =
        |out: &Path| build_command(&project.root, &project.base, &project.wheels, out, &cache);

    let (span, mut rng) = first_build(run(&out));
    let (mut killed, mut publishing) = (0, 0);
    for round in 0..40 {
        // Each round builds another image, so a finished round really replaces it.
        std::fs::write(
            project.root.join("wsgi.py"),
            format!("def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'round {round}']\n"),
        )
        .unwrap();
        let before = blobs(&out).0;
        let child = run(&out).spawn().unwrap();
        killed += usize::from(kill_mid_way(child, &out, round, span, &mut rng));
        let (code, report) = verify(&project.root, &out);
        assert_eq!(
            code,
            0,
            "round {round} (seed {}): after kill -9 --out is not a whole image:\n{report}\n{:?}",
            rng.seed,
            std::fs::read_dir(&out).map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
        );
        // New blobs beside the old image: the kill came while the new one was put in place.
        let (held, reached) = blobs(&out);
        publishing += usize::from(!held.is_subset(&before) && held != reached);
    }
    println!("{killed} of 40 builds were killed mid-way, {publishing} of them while publishing");
    assert!(
        killed >= 10,
        "only {killed} of 40 builds were killed mid-way"
    );

    let next = run(&out).output().unwrap();
    assert!(
        next.status.success(),
        "the build after the killed ones fails:\n{}",
        String::from_utf8_lossy(&next.stderr)
    );
    assert_eq!(verify(&project.root, &out).0, 0);
    assert_eq!(
        leftovers(&parent),
        Vec::<String>::new(),
        "staging of killed runs is left beside --out"
    );
    assert_eq!(leftovers(&out), Vec::<String>::new());
    let (held, reached) = blobs(&out);
    assert_eq!(held, reached, "blobs no longer referenced are collected");
}

/// The same for `--format oci-archive`: the archive is replaced whole or not at all.
#[test]
fn a_killed_archive_build_leaves_the_previous_archive_whole() {
    let project = Project::new();
    let out = project.path("img.tar");
    let cache = project.path("cache");
    let run = |out: &Path| {
        let mut cmd = build_command(&project.root, &project.base, &project.wheels, out, &cache);
        cmd.args(["--format", "oci-archive"]);
        cmd
    };
    let (span, mut rng) = first_build(run(&out));
    let mut killed = 0;
    for round in 0..20 {
        std::fs::write(project.root.join("wsgi.py"), format!("ROUND = {round}\n")).unwrap();
        let child = run(&out).spawn().unwrap();
        // The directory holding the archive changes when a build stages, then publishes.
        killed += usize::from(kill_mid_way(
            child,
            out.parent().unwrap(),
            round,
            span,
            &mut rng,
        ));
        let (code, report) = verify(&project.root, &out);
        assert_eq!(code, 0, "round {round} (seed {}):\n{report}", rng.seed);
    }
    println!("{killed} of 20 builds were killed mid-way");
    assert!(
        killed >= 5,
        "only {killed} of 20 builds were killed mid-way"
    );
    assert!(run(&out).output().unwrap().status.success());
    assert_eq!(
        leftovers(out.parent().unwrap()),
        Vec::<String>::new(),
        "staging of killed runs is left beside --out"
    );
}

/// Three builds of three different projects into one `--out` at once: each exits 0 and
/// prints the digest it wrote, and `--out` ends with one of them, whole.
#[test]
fn concurrent_builds_on_one_out_all_succeed_and_leave_one_whole_image() {
    let project = Project::new();
    let out = project.path("shared");
    let cache = project.path("cache");
    let copies: Vec<PathBuf> = (0..3)
        .map(|i| {
            let root = project.path(&format!("p{i}"));
            std::fs::create_dir_all(root.join("pkg")).unwrap();
            for name in ["app.yaml", ".dockerignore", "pkg/__init__.py"] {
                std::fs::copy(project.root.join(name), root.join(name)).unwrap();
            }
            std::fs::write(root.join("wsgi.py"), format!("COPY = {i}\n")).unwrap();
            root
        })
        .collect();
    for round in 0..8 {
        let children: Vec<Child> = copies
            .iter()
            .map(|root| {
                build_command(root, &project.base, &project.wheels, &out, &cache)
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut reported = Vec::new();
        for child in children {
            let output = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "round {round}: a concurrent build failed:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let digest = stdout
                .lines()
                .find_map(|l| l.strip_prefix("manifest "))
                .expect("the manifest digest is printed")
                .to_owned();
            reported.push(digest);
        }
        let index: Value =
            serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
        let digest = index["manifests"][0]["digest"].as_str().unwrap();
        assert!(
            reported.iter().any(|d| d == digest),
            "round {round}: --out holds {digest}, none of the reported {reported:?}"
        );
        let (code, report) = verify(&copies[0], &out);
        assert_eq!(code, 0, "round {round}:\n{report}");
        let (held, reached) = blobs(&out);
        assert_eq!(held, reached, "round {round}");
        assert_eq!(leftovers(out.parent().unwrap()), Vec::<String>::new());
    }
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
