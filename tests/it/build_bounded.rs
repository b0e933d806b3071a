//! `fabuild build` in bounded memory: a build context with a 1 GiB file builds under an
//! address-space limit far below its size, and wheels that are zip bombs or whose zip
//! headers lie about their size are refused with an error naming them, under the same limit;
//! the scratch files that streaming needs survive kill -9 and concurrent builds.

use std::path::Path;
use std::process::{Command, Output};

use crate::build::{EPOCH, Project, layer_digests};
use crate::util::python;

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

/// Writes `tests/fixtures/hostile_wheel.py`'s wheel `name-1.0-py3-none-any.whl` with
/// `members` beside the project's wheels, in a directory of its own.
fn wheels_with(project: &Project, name: &str, members: &serde_json::Value) -> std::path::PathBuf {
    let dir = project.path(&format!("wheels-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&project.wheels).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let script = crate::util::repo().join("tests/fixtures/hostile_wheel.py");
    let status = Command::new(python())
        .arg(script)
        .arg(dir.join(format!("{name}-1.0-py3-none-any.whl")))
        .arg(members.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    dir
}

#[test]
fn zip_bombs_and_wheels_whose_headers_lie_are_refused_by_name() {
    let gib = serde_json::json!(GIB);
    let cases = [
        (
            "bomb",
            serde_json::json!([
                {"name": "bomb/__init__.py", "text": "x = 1\n"},
                {"name": "bomb/zeros.bin", "zeros": gib},
            ]),
            "x the wheel's 1.0 MiB: a zip bomb, not a wheel (fabuild unpacks at most 100x a wheel's size)",
        ),
        (
            "claims4g",
            serde_json::json!([{"name": "claims4g/a.py", "text": "x = 1\n", "claim": 4_294_967_294_u64}]),
            "its members claim 4.0 GiB unpacked",
        ),
        (
            "claimsall",
            serde_json::json!([
                {"name": "claimsall/a.py", "text": "a = 1\n", "claim": 4_294_967_294_u64},
                {"name": "claimsall/b.py", "text": "b = 1\n", "claim": 4_294_967_294_u64},
            ]),
            "its members claim 8.0 GiB unpacked, more than the 4.0 GiB fabuild unpacks from one wheel",
        ),
        (
            "claimsmore",
            serde_json::json!([{"name": "claimsmore/a.py", "text": "x = 1\n", "claim": 52_428_800}]),
            "claimsmore/a.py: ends after 6 bytes, not the 52428800 its zip header claims",
        ),
        (
            "claimsless",
            serde_json::json!([{"name": "claimsless/zeros.bin", "zeros": gib, "claim": 10}]),
            "claimsless/zeros.bin: ",
        ),
    ];
    let project = Project::new();
    // Every case is run and judged, then the failures reported together.
    let mut failures = Vec::new();
    for (name, members, why) in cases {
        let wheels = wheels_with(&project, name, &members);
        let output = bounded_build(&project, &wheels);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let wheel = format!("{name}-1.0-py3-none-any.whl: ");
        let left = staging_left(&project);
        if output.status.code() != Some(2)
            || !stderr.contains(&wheel)
            || !stderr.contains(why)
            || project.path("img").exists()
            || !left.is_empty()
        {
            failures.push(format!(
                "{name}: {:?}, image left: {}, staging left: {left:?}\n{stderr}",
                output.status,
                project.path("img").exists()
            ));
        }
        let _ = std::fs::remove_dir_all(project.path("img"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The manifest digest a finished build printed.
fn printed_digest(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("manifest "))
        .expect("the manifest digest is printed")
        .to_owned()
}

/// What a layout's index.json names.
fn published_digest(out: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

/// The staging directories (and with them the wheels' spool files) left beside `--out`.
fn staging_left(project: &Project) -> Vec<String> {
    std::fs::read_dir(project.root.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".fabuild"))
        .collect()
}

/// Uncached builds unpack wheels into a spool file and stream a large context: killed with
/// SIGKILL at random moments, they leave the previous image whole and their scratch files
/// to the next build to remove; run two at a time, both succeed with the same image.
#[test]
fn builds_that_spool_and_stream_survive_kill_9_and_each_other() {
    let project = Project::new();
    let big = project.root.join("data/big.bin");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    std::fs::File::create(&big)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    // A wheel with 48 MiB to unpack (within what any wheel may claim), beside gunicorn.
    let wheels = wheels_with(
        &project,
        "zeros",
        &serde_json::json!([{"name": "zeros/data.bin", "zeros": 48 << 20}]),
    );
    let out = project.path("img");
    // A killed build must not leave its downloads and unpacked wheels in the temp directory
    // either, where nothing would ever remove them.
    let tmp = project.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let build = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fabuild"));
        cmd.args(["build", "app.yaml", "--base"])
            .arg(&project.base)
            .arg("--out")
            .arg(&out)
            .arg("--wheels")
            .arg(&wheels)
            .arg("--no-cache")
            .current_dir(&project.root)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .env("TMPDIR", &tmp)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd
    };

    let started = std::time::Instant::now();
    let digest = printed_digest(&build().output().unwrap());
    let span = u64::try_from(started.elapsed().as_micros())
        .unwrap()
        .max(1000);
    let seed = u64::from(std::process::id()) * 2_654_435_761 + 1;
    println!("seed {seed}, a build takes about {span} us here");
    let mut state = seed;
    // The first build's time is only a guide on a shared machine: a later build may run
    // faster and finish before its kill. Rounds go on (up to 48) until 16 were killed
    // mid-way, each at a random moment within the time a build takes.
    let mut killed = 0;
    let mut rounds = 0;
    while killed < 16 && rounds < 48 {
        rounds += 1;
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut child = build().spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_micros(state % span));
        let _ = child.kill();
        killed += usize::from(!child.wait().unwrap().success());
        assert_eq!(
            published_digest(&out),
            digest,
            "round {rounds} (seed {seed}): the previous image is not what --out holds"
        );
    }
    println!("{killed} of {rounds} builds were killed mid-way");
    assert!(
        killed >= 8,
        "only {killed} of {rounds} builds were killed mid-way"
    );
    assert_eq!(printed_digest(&build().output().unwrap()), digest);
    assert_eq!(staging_left(&project), Vec::<String>::new());
    let in_tmp: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(in_tmp, Vec::<std::path::PathBuf>::new(), "left in TMPDIR");

    let pair = [build().spawn().unwrap(), build().spawn().unwrap()];
    for child in pair {
        assert_eq!(printed_digest(&child.wait_with_output().unwrap()), digest);
    }
    assert_eq!(published_digest(&out), digest);
    assert_eq!(staging_left(&project), Vec::<String>::new());
}
