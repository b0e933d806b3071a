//! `fabuild build` on a small synthetic base and the real pinned gunicorn wheel: the same
//! bytes from the same inputs, only the app layer (and config, manifest) changing with
//! the code, whiteouts in the base honoured, and `fabuild verify` passing on the result.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::image_writer::{self, Compression, Image, Item, dir, file};
use crate::util::{fabuild, repo};

pub(crate) const EPOCH: &str = "1700000000";

pub(crate) const SPEC: &str = "version: 1
name: tiny
app:
  module: wsgi:app
  interface: wsgi
python:
  version: \"3.11\"
server:
  port: 8000
user:
  uid: 10001
  gid: 10001
";

/// The pinned gunicorn wheel, downloaded once into target/ (its hash is checked by the
/// build against the pin, so a stand-in would not do).
pub(crate) fn wheels() -> PathBuf {
    let pin = fabuild::pins::for_interface(fabuild::spec::Interface::Wsgi)
        .into_iter()
        .find(|p| p.name == "gunicorn")
        .unwrap();
    let dir = repo().join("target/test-wheels/gunicorn");
    let wheel = dir.join(format!("gunicorn-{}-py3-none-any.whl", pin.version));
    if !wheel.is_file() {
        // Tests run in parallel: download beside, then rename into place.
        std::fs::create_dir_all(&dir).unwrap();
        let scratch = tempfile::tempdir_in(dir.parent().unwrap()).unwrap();
        let req = scratch.path().join("requirements.txt");
        std::fs::write(
            &req,
            format!(
                "gunicorn=={} --hash=sha256:{}\n",
                pin.version, pin.hashes[0]
            ),
        )
        .unwrap();
        let pip = std::env::var("FABUILD_PIP").unwrap_or_else(|_| "pip".to_owned());
        let status = Command::new(pip)
            .args(["download", "--quiet", "--no-deps", "--only-binary=:all:"])
            .args(["--require-hashes", "--dest"])
            .arg(scratch.path())
            .arg("-r")
            .arg(&req)
            .status()
            .expect("pip runs (set FABUILD_PIP to another pip)");
        assert!(
            status.success(),
            "pip download of the pinned gunicorn wheel failed"
        );
        std::fs::rename(scratch.path().join(wheel.file_name().unwrap()), &wheel).unwrap();
    }
    dir
}

/// A base with a fake interpreter and the account files; its second layer deletes a
/// newer interpreter and /etc/group (then puts back its own), to exercise whiteouts.
pub(crate) fn base(at: &Path) -> PathBuf {
    let lower: Vec<Item> = vec![
        dir("/etc"),
        file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
        file("/etc/group", "root:x:0:\nold:x:5:\n"),
        dir("/usr"),
        dir("/usr/bin"),
        file("/usr/bin/python3.11", "not really python"),
        dir("/usr/local"),
        dir("/usr/local/bin"),
        file("/usr/local/bin/python3.13", "deleted above"),
    ];
    let upper: Vec<Item> = vec![
        Item::Whiteout("/usr/local/bin/python3.13".to_owned()),
        Item::Whiteout("/etc/group".to_owned()),
    ];
    let top: Vec<Item> = vec![file("/etc/group", "root:x:0:\nstaff:x:50:\n")];
    let runtime = json!({"Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], "Cmd": ["python3"]});
    let image = Image::build(&runtime, "amd64", &[lower, upper, top], Compression::Gzip);
    let path = at.join("base");
    image_writer::write_layout(&path, &[(&image, Some("linux/amd64"))]);
    path
}

pub(crate) struct Project {
    _tmp: tempfile::TempDir,
    pub(crate) root: PathBuf,
    pub(crate) base: PathBuf,
    pub(crate) wheels: PathBuf,
}

impl Project {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("project");
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        std::fs::write(root.join("app.yaml"), SPEC).unwrap();
        std::fs::write(
            root.join("wsgi.py"),
            "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n",
        )
        .unwrap();
        std::fs::write(root.join("pkg/__init__.py"), "").unwrap();
        std::fs::write(root.join("tls.pem"), "-----BEGIN PRIVATE KEY-----\n").unwrap();
        std::fs::write(root.join(".dockerignore"), "**/*.pem\n").unwrap();
        let base = base(tmp.path());
        Self {
            root,
            base,
            wheels: wheels(),
            _tmp: tmp,
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.root.parent().unwrap().join(name)
    }

    /// `fabuild build` of the project into `out` with the wheels in `wheels`; the caller
    /// adds the cache flags and runs it.
    pub(crate) fn build_command(&self, out: &str, wheels: &Path) -> Command {
        let mut command = fabuild(&self.root);
        command
            .args(["build", "app.yaml", "--base"])
            .arg(&self.base)
            .arg("--out")
            .arg(self.path(out))
            .arg("--wheels")
            .arg(wheels);
        command
    }

    /// Runs `fabuild build` into `out` with the cache `cache`; returns stdout.
    pub(crate) fn build(&self, out: &str, cache: &str, extra: &[&str]) -> String {
        let output = self
            .build_command(out, &self.wheels)
            .arg("--cache-dir")
            .arg(self.path(cache))
            .args(extra)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "build failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// Runs `fabuild build` into `img` with `wheels` and no cache, for builds expected to
    /// fail: the output is returned, whatever it is.
    pub fn build_failing(&self, wheels: &Path) -> std::process::Output {
        self.build_command("img", wheels)
            .arg("--no-cache")
            .output()
            .unwrap()
    }

    pub(crate) fn index(&self, out: &str) -> Value {
        serde_json::from_slice(&std::fs::read(self.path(out).join("index.json")).unwrap()).unwrap()
    }

    pub(crate) fn manifest(&self, out: &str) -> (String, Value) {
        let digest = self.index(out)["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_owned();
        let blob = self
            .path(out)
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        (
            digest,
            serde_json::from_slice(&std::fs::read(blob).unwrap()).unwrap(),
        )
    }

    /// The files of the three layers the build added: dependencies, identity, app.
    pub(crate) fn added_layers(&self, out: &str) -> [Vec<LayerFile>; 3] {
        let (_, manifest) = self.manifest(out);
        let layers = layer_digests(&manifest);
        let n = layers.len();
        [n - 3, n - 2, n - 1].map(|i| layer_files(&self.blob(out, &layers[i])))
    }

    pub(crate) fn blob(&self, out: &str, digest: &str) -> Vec<u8> {
        std::fs::read(
            self.path(out)
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap()
    }
}

pub(crate) fn layer_digests(manifest: &Value) -> Vec<String> {
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect()
}

/// One file of a layer: path, mode, uid, gid, content.
pub(crate) type LayerFile = (String, u32, u64, u64, Vec<u8>);

/// The entry at `path` (a directory's without its trailing slash), if the layer has one.
pub(crate) fn layer_entry(files: &[LayerFile], path: &str) -> Option<LayerFile> {
    files
        .iter()
        .find(|f| f.0.trim_end_matches('/') == path)
        .cloned()
}

/// The files of a layer blob: path -> (mode, uid, gid, content).
pub(crate) fn layer_files(blob: &[u8]) -> Vec<LayerFile> {
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let header = entry.header().clone();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        out.push((
            path,
            header.mode().unwrap(),
            header.uid().unwrap(),
            header.gid().unwrap(),
            data,
        ));
    }
    out
}

#[test]
fn two_builds_of_the_same_inputs_are_identical_to_the_byte() {
    let project = Project::new();
    let first = project.build("one", "cache-a", &[]);
    assert!(!first.contains("(cached)"), "{first}");
    // Cold cache elsewhere, then a warm one: same digests.
    project.build("two", "cache-b", &[]);
    let warm = project.build("three", "cache-a", &[]);
    assert!(warm.contains("(cached)"), "{warm}");
    let (one, manifest) = project.manifest("one");
    assert_eq!(project.manifest("two").0, one);
    assert_eq!(project.manifest("three").0, one);
    assert!(first.contains(&one), "the digest is printed: {first}");
    for name in ["one", "two", "three"] {
        assert_eq!(
            std::fs::read(project.path(name).join("index.json")).unwrap(),
            std::fs::read(project.path("one").join("index.json")).unwrap()
        );
    }
    // Base layers are reused byte for byte; three layers are added.
    let base_index: Value =
        serde_json::from_slice(&std::fs::read(project.base.join("index.json")).unwrap()).unwrap();
    let base_manifest: Value = serde_json::from_slice(
        &std::fs::read(
            project.base.join("blobs/sha256").join(
                base_index["manifests"][0]["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:"),
            ),
        )
        .unwrap(),
    )
    .unwrap();
    let ours = layer_digests(&manifest);
    let theirs = layer_digests(&base_manifest);
    assert_eq!(ours.len(), theirs.len() + 3);
    assert_eq!(ours[..theirs.len()], theirs[..]);
    // The config is canonical JSON: sorted keys, no spaces.
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config_bytes = project.blob("one", config_digest);
    let config: Value = serde_json::from_slice(&config_bytes).unwrap();
    assert_eq!(
        config_bytes,
        fabuild::oci::writer::canonical_json(&config),
        "config is not canonical"
    );
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    assert_eq!(config["config"]["User"], "10001:10001");
    assert_eq!(config["config"]["WorkingDir"], "/app");
    assert_eq!(config["history"].as_array().unwrap().len(), 3);
}

#[test]
fn another_directory_and_an_image_inside_the_context_change_nothing() {
    let project = Project::new();
    project.build("one", "cache", &[]);
    let (one, _) = project.manifest("one");
    // The same project elsewhere, building into itself: the image being written (and
    // the previous one) stay out of the app layer.
    let moved = project.path("moved");
    std::fs::create_dir_all(&moved).unwrap();
    for name in ["app.yaml", "wsgi.py", "tls.pem", ".dockerignore"] {
        std::fs::copy(project.root.join(name), moved.join(name)).unwrap();
    }
    std::fs::create_dir_all(moved.join("pkg")).unwrap();
    std::fs::write(moved.join("pkg/__init__.py"), "").unwrap();
    for _ in 0..2 {
        let output = fabuild(&moved)
            .args(["build", "app.yaml", "--base"])
            .arg(&project.base)
            .args(["--out", "image", "--wheels"])
            .arg(&project.wheels)
            .arg("--no-cache")
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .output()
            .unwrap();
        assert!(output.status.success());
        let index: Value =
            serde_json::from_slice(&std::fs::read(moved.join("image/index.json")).unwrap())
                .unwrap();
        assert_eq!(index["manifests"][0]["digest"], one.as_str());
    }
}

#[test]
fn the_layers_hold_the_venv_the_user_and_the_code_as_planned() {
    let project = Project::new();
    project.build("img", "cache", &[]);
    let [deps, identity, app] = project.added_layers("img");
    let find = |files: &[LayerFile], path: &str| {
        layer_entry(files, path).unwrap_or_else(|| panic!("{path} missing"))
    };
    // The interpreter the whiteout left, not the deleted newer one.
    let cfg = String::from_utf8(find(&deps, "opt/venv/pyvenv.cfg").4).unwrap();
    assert!(cfg.contains("home = /usr/bin\n"), "{cfg}");
    let script = find(&deps, "opt/venv/bin/gunicorn");
    assert_eq!(script.1, 0o755);
    assert!(script.4.starts_with(b"#!/opt/venv/bin/python\n"));
    find(
        &deps,
        "opt/venv/lib/python3.11/site-packages/gunicorn/__init__.py",
    );
    assert_eq!(find(&deps, "opt/fabuild/bin/gunicorn").1, 0o755);
    assert!(
        deps.iter()
            .all(|f| Path::new(&f.0).extension().is_none_or(|e| e != "pyc")),
        "no .pyc is shipped"
    );
    // Paths (without a directory's trailing slash) are sorted bytewise.
    let names: Vec<&str> = deps.iter().map(|f| f.0.trim_end_matches('/')).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);

    let group = String::from_utf8(find(&identity, "etc/group").4).unwrap();
    assert_eq!(group, "root:x:0:\nstaff:x:50:\napp:x:10001:\n");
    let passwd = String::from_utf8(find(&identity, "etc/passwd").4).unwrap();
    assert!(passwd.ends_with("app:x:10001:10001::/home/app:/usr/sbin/nologin\n"));
    let home = find(&identity, "home/app");
    assert_eq!((home.2, home.3), (10001, 10001));

    assert!(
        app.iter().all(|f| f.2 == 0 && f.3 == 0),
        "app files are root's"
    );
    find(&app, "app/wsgi.py");
    find(&app, "app/pkg/__init__.py");
    assert!(
        app.iter().all(|f| !f.0.ends_with("tls.pem")),
        ".dockerignore is honoured"
    );
}

#[test]
fn a_code_change_changes_only_the_app_layer_config_and_manifest() {
    let project = Project::new();
    project.build("before", "cache", &[]);
    std::fs::write(
        project.root.join("wsgi.py"),
        "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'changed']\n",
    )
    .unwrap();
    let after = project.build("after", "cache", &[]);
    assert!(after.contains("(cached)"), "{after}");
    let (d1, m1) = project.manifest("before");
    let (d2, m2) = project.manifest("after");
    assert_ne!(d1, d2);
    assert_ne!(m1["config"]["digest"], m2["config"]["digest"]);
    let (l1, l2) = (layer_digests(&m1), layer_digests(&m2));
    let n = l1.len();
    assert_eq!(l1[..n - 1], l2[..n - 1], "only the last layer may change");
    assert_ne!(l1[n - 1], l2[n - 1]);

    // The comparison --check-reproducible prints names the layer and the file.
    let diffs =
        fabuild::builder::compare::images(&project.path("before"), &project.path("after")).unwrap();
    let text = diffs.join("\n");
    assert!(text.contains(&format!("layer {n} of {n}")), "{text}");
    assert!(text.contains("/app/wsgi.py"), "{text}");
    assert!(!text.contains("/app/pkg"), "{text}");
}

#[test]
fn verify_passes_on_what_build_writes_as_layout_and_archive() {
    let project = Project::new();
    project.build("img", "cache", &[]);
    project.build("img.tar", "cache", &["--format", "oci-archive"]);
    for image in ["img", "img.tar"] {
        let output = fabuild(&project.root)
            .args(["verify", "app.yaml", "--image"])
            .arg(project.path(image))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{image}:\n{stdout}");
        assert!(stdout.contains("0 failed"), "{stdout}");
    }
    // The archive holds the same image.
    let diffs =
        fabuild::builder::compare::images(&project.path("img"), &project.path("img.tar")).unwrap();
    assert!(diffs.is_empty(), "{diffs:?}");
}

#[test]
fn check_reproducible_builds_again_under_another_umask_and_time_zone() {
    let project = Project::new();
    let out = project.build("img", "cache", &["--check-reproducible"]);
    assert!(out.contains("reproducible: a second build"), "{out}");
}

#[test]
fn a_source_distribution_is_a_clear_error() {
    let project = Project::new();
    let wheels = project.path("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    for entry in std::fs::read_dir(&project.wheels).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, wheels.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(wheels.join("leftpad-1.0.tar.gz"), "sdist").unwrap();
    let output = project.build_failing(&wheels);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("leftpad-1.0.tar.gz is a source distribution"),
        "{stderr}"
    );
    assert!(!project.path("img").exists(), "nothing is left behind");
}

/// The context's `.dockerignore` decides what goes into the image, so one that cannot be read
/// is an error: a link out of the project (a cloned repository can hold one) or to an
/// endless device is refused by name (by the generation build runs first, which reads the
/// file to compare it), and no image is left behind.
#[test]
fn a_dockerignore_that_leads_out_of_the_project_is_an_error() {
    for (target, why) in [
        ("/dev/zero", "is a link to /dev/zero, outside the project"),
        ("../outside", "outside the project"),
    ] {
        let project = Project::new();
        std::fs::write(project.path("outside"), "**/*.py\n").unwrap();
        std::fs::remove_file(project.root.join(".dockerignore")).unwrap();
        std::os::unix::fs::symlink(target, project.root.join(".dockerignore")).unwrap();
        let output = project.build_failing(&project.wheels);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{target}: {stderr}");
        assert!(
            stderr.contains(".dockerignore: ") && stderr.trim_end().ends_with(why),
            "{target}: {stderr}"
        );
        assert!(
            !project.path("img").exists(),
            "{target}: nothing is left behind"
        );
    }
}

/// The synthetic base's interpreter is a stub that cannot run: the image is built without
/// bytecode, the build says why, and verify names the sources that have none. (With a real
/// base, tests/e2e/build.sh checks that every module has its .pyc and that Python loads it.)
#[test]
fn a_base_whose_interpreter_cannot_run_builds_without_bytecode_and_says_so() {
    let project = Project::new();
    let output = project
        .build_command("img", &project.wheels)
        .arg("--no-cache")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("no bytecode: the base's dynamic loader /lib64/ld-linux-x86-64.so.2"),
        "{stderr}"
    );
    let verified = fabuild(&project.root)
        .args(["verify", "app.yaml", "--image"])
        .arg(project.path("img"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&verified.stdout);
    let row = stdout
        .lines()
        .find(|l| l.starts_with("PASS  bytecode"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(row.contains("0 of "), "{row}");
    assert!(row.contains("/app/pkg/__init__.py"), "{row}");
}

/// `--no-bytecode` runs nothing of the base: the build does not even try the interpreter
/// (the note is the flag's, not the loader's), and the image has no .pyc.
#[test]
fn no_bytecode_does_not_try_the_base_interpreter() {
    let project = Project::new();
    let output = project
        .build_command("img", &project.wheels)
        .args(["--no-cache", "--no-bytecode"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("no bytecode (--no-bytecode)"), "{stderr}");
    assert!(!stderr.contains("dynamic loader"), "{stderr}");
}

/// The part of the base the interpreter needs is unpacked once per base and kept in the
/// build cache (a code-only rebuild spent most of its time re-creating those files), with a
/// listing compared on every use: a changed tree is unpacked again, with a note, never used;
/// builds racing to put it there all succeed and leave one tree and no temporary directory.
#[test]
fn the_interpreter_tree_is_kept_checked_and_unpacked_again_when_changed() {
    let project = Project::new();
    let build = |cache: &Path, out: &str| {
        let mut cmd = project.build_command(out, &project.wheels);
        cmd.arg("--cache-dir").arg(cache);
        cmd
    };
    let stderr_of = |mut cmd: Command| {
        let output = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stderr}");
        assert!(!stderr.contains("for this build only"), "{stderr}");
        stderr
    };
    let trees = |cache: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(cache.join("interpreters"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    let cache = project.path("cache");
    stderr_of(build(&cache, "one"));
    let kept = trees(&cache);
    assert_eq!(kept.len(), 1, "{kept:?}");
    let root = kept[0].join("root");
    assert!(kept[0].join("listing").is_file());

    // Unchanged: used as it is.
    let stderr = stderr_of(build(&cache, "two"));
    assert!(
        !stderr.contains("changed after it was unpacked"),
        "{stderr}"
    );
    // One file more in it: not the tree that was unpacked.
    std::fs::write(root.join("planted"), b"x").unwrap();
    let stderr = stderr_of(build(&cache, "three"));
    assert!(
        stderr.contains("changed after it was unpacked: unpacked again"),
        "{stderr}"
    );
    assert!(!root.join("planted").exists());
    let stderr = stderr_of(build(&cache, "four"));
    assert!(
        !stderr.contains("changed after it was unpacked"),
        "{stderr}"
    );

    // The cheap check (stamps: lstat of every entry, no file read) is what an unchanged
    // tree passes; without stamps (an older cache) the full check passes and writes them.
    let stamps = kept[0].join("stamps");
    assert!(stamps.is_file());
    std::fs::remove_file(&stamps).unwrap();
    let stderr = stderr_of(build(&cache, "four-b"));
    assert!(
        !stderr.contains("changed after it was unpacked"),
        "{stderr}"
    );
    assert!(stamps.is_file(), "stamps taken again after the full check");
    // A file edited in place, same size, its modification time set back: its change time
    // differs, the full check runs and finds other bytes.
    let found = Command::new("find")
        .arg(&root)
        .args(["-type", "f", "-size", "+0", "-print", "-quit"])
        .output()
        .unwrap();
    let edited = PathBuf::from(String::from_utf8(found.stdout).unwrap().trim());
    assert!(edited.is_file(), "{edited:?}");
    edit_in_place_keeping_mtime(&edited, &project.path("mtime-ref"));
    let stderr = stderr_of(build(&cache, "four-c"));
    assert!(
        stderr.contains("changed after it was unpacked: unpacked again"),
        "{stderr}"
    );

    // What a build killed mid-unpack left: collected by the next unpack once an hour old,
    // kept while it could still be a live build's.
    let interpreters = cache.join("interpreters");
    for (name, age) in [
        (".tmp-killed", "2 hours ago"),
        (".tmp-live", "1 minute ago"),
    ] {
        std::fs::create_dir_all(interpreters.join(name).join("root/lib")).unwrap();
        let touched = Command::new("touch")
            .args(["-d", age])
            .arg(interpreters.join(name))
            .status()
            .unwrap();
        assert!(touched.success());
    }
    std::fs::write(root.join("planted"), b"x").unwrap();
    stderr_of(build(&cache, "five"));
    assert!(!interpreters.join(".tmp-killed").exists());
    assert!(interpreters.join(".tmp-live").exists());

    // Three builds on an empty cache at once.
    let fresh = project.path("fresh-cache");
    let children: Vec<_> = (0..3)
        .map(|i| {
            build(&fresh, &format!("race{i}"))
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(!stderr.contains("for this build only"), "{stderr}");
    }
    let kept = trees(&fresh);
    assert_eq!(kept.len(), 1, "one tree, no temporary directory: {kept:?}");
}

/// The blobs `--out` holds from the last build (the base's layers, the cached dependency
/// layer) stay there instead of being copied and hashed again (the base's 82 MB was most of
/// a code-only build + push) while their stamps in the cache say they are unchanged; a
/// blob edited in place, same size, its modification time set back, is copied again from
/// the base; the image is the same to the byte throughout.
#[test]
fn blobs_out_already_holds_are_kept_unless_changed() {
    use sha2::Digest as _;
    use std::os::unix::fs::MetadataExt as _;
    let project = Project::new();
    let blobs = project.path("out/blobs/sha256");
    let image = || -> (String, Vec<String>) {
        let index: Value =
            serde_json::from_slice(&std::fs::read(project.path("out/index.json")).unwrap())
                .unwrap();
        let digest = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
        let manifest: Value = serde_json::from_slice(
            &std::fs::read(blobs.join(digest.trim_start_matches("sha256:"))).unwrap(),
        )
        .unwrap();
        let layers = manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                l["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:")
                    .to_owned()
            })
            .collect();
        (digest, layers)
    };
    let inode = |hex: &str| std::fs::metadata(blobs.join(hex)).unwrap().ino();
    let every_blob_hashes_to_its_name = || {
        for entry in std::fs::read_dir(&blobs).unwrap() {
            let entry = entry.unwrap();
            let bytes = std::fs::read(entry.path()).unwrap();
            let name = entry.file_name().into_string().unwrap();
            assert_eq!(format!("{:x}", sha2::Sha256::digest(&bytes)), name);
        }
    };

    project.build("out", "cache", &[]);
    let (digest, layers) = image();
    let inodes: Vec<u64> = layers.iter().map(|h| inode(h)).collect();
    // Base layers, then dependencies, identity, app.
    let added = 3;
    assert!(layers.len() > added, "{layers:?}");

    project.build("out", "cache", &[]);
    assert_eq!(image(), (digest.clone(), layers.clone()));
    let now: Vec<u64> = layers.iter().map(|h| inode(h)).collect();
    let kept = layers.len() - 2;
    assert_eq!(
        now[..kept],
        inodes[..kept],
        "base and dependency blobs kept"
    );
    assert_ne!(now[kept..], inodes[kept..], "identity and app written anew");
    every_blob_hashes_to_its_name();

    // A base blob edited in place, same size, its modification time set back.
    let edited = blobs.join(&layers[0]);
    edit_in_place_keeping_mtime(&edited, &project.path("mtime-ref"));
    project.build("out", "cache", &[]);
    assert_eq!(image(), (digest.clone(), layers.clone()));
    every_blob_hashes_to_its_name();
    assert_ne!(inode(&layers[0]), now[0], "copied again");

    // Without a cache nothing is kept: every blob is copied.
    let before = inode(&layers[1.min(kept - 1)]);
    let output = project
        .build_command("out", &project.wheels)
        .arg("--no-cache")
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(image(), (digest, layers.clone()));
    assert_ne!(inode(&layers[1.min(kept - 1)]), before);
    every_blob_hashes_to_its_name();
}

/// Flips the first byte of `file` in place (same inode, same size) and sets its
/// modification time back to what it was (`saved` keeps it meanwhile): only its change
/// time tells.
fn edit_in_place_keeping_mtime(file: &Path, saved: &Path) {
    use std::io::Write as _;
    std::fs::write(saved, b"").unwrap();
    let touch = |from: &Path, to: &Path| {
        let status = Command::new("touch").arg("-r").arg(from).arg(to).status();
        assert!(status.unwrap().success());
    };
    touch(file, saved);
    let mut bytes = std::fs::read(file).unwrap();
    bytes[0] ^= 0xff;
    let mut f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.write_all(&bytes).unwrap();
    drop(f);
    touch(saved, file);
}
