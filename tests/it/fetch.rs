//! `fabuild build` fetches the hash-pinned wheels from the real index itself (`PyPI`, or
//! whatever pip is configured with), choosing the files pip would choose: the same image,
//! to the byte, as `--pip-only`. The wheels are cached by sha256 and shared between specs;
//! a cached wheel changed on disk, or a build killed while it downloads, never puts a
//! corrupt wheel into an image.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::build::EPOCH;
use crate::manylinux::text;
use crate::util::fabuild;

/// A port nothing listens on: an index there cannot be reached.
const DEAD_INDEX: &str = "http://127.0.0.1:18401/simple/";

/// idna and anyio, every file's sha256, as `uv export` writes a lock.
const LOCK: &str = "anyio==4.16.0 \\
    --hash=sha256:59bb03251907983d1603d27c3087ddb1e93299ea2163adcdba37899a4fb12ffb \\
    --hash=sha256:c66ae634e0b8228396b801741beb3294326d4b6102f7bba4041c0dfb58c29026
idna==3.21 \\
    --hash=sha256:13c8b14853c5c336eaab526f3390817e9c8fcd8fa175abdd1a7480a5c94f99cb \\
    --hash=sha256:387ab0bbea1ee7a196ea5b24eb007bad0242cc3127fe96713939942bc9e720d7
";

fn spec(interface: &str, port: u16) -> String {
    format!(
        "version: 1\nname: fetched\napp:\n  module: main:app\n  interface: {interface}\npython:\n  version: \"3.11\"\nserver:\n  port: {port}\nuser:\n  uid: 10001\n  gid: 10001\n"
    )
}

struct Case {
    tmp: tempfile::TempDir,
    base: PathBuf,
}

impl Case {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        // Python 3.11 and this machine's libc.so.6: the compiled server pins (uvloop,
        // httptools) are chosen for this glibc, as pip here chooses them.
        let base = crate::manylinux::base_with_host_libc(tmp.path());
        Self { tmp, base }
    }

    /// A project `name` with this spec and requirements file.
    fn project(&self, name: &str, spec: &str, requirements: Option<&str>) -> PathBuf {
        let root = self.tmp.path().join(name);
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("app.yaml"), spec).unwrap();
        std::fs::write(root.join("main.py"), "app = None\n").unwrap();
        if let Some(text) = requirements {
            std::fs::write(root.join("requirements.txt"), text).unwrap();
        }
        root
    }

    /// `fabuild build` of `project` into `out` with `cache`, with pip's settings cleared
    /// to `PyPI`'s defaults and `args`, `env` added.
    fn command(
        &self,
        project: &Path,
        out: &str,
        cache: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Command {
        let mut cmd = fabuild(project);
        cmd.args(["build", "app.yaml", "--base"])
            .arg(&self.base)
            .arg("--out")
            .arg(self.tmp.path().join(out))
            .arg("--cache-dir")
            .arg(self.tmp.path().join(cache))
            .args(args)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            // This machine's own pip settings (an empty find-links directory) stay out.
            .env("PIP_CONFIG_FILE", "/dev/null")
            .env_remove("PIP_FIND_LINKS")
            .env_remove("PIP_INDEX_URL")
            .env_remove("PIP_NO_INDEX");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn build(
        &self,
        project: &Path,
        out: &str,
        cache: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Output {
        self.command(project, out, cache, args, env)
            .output()
            .unwrap()
    }

    fn manifest(&self, out: &str) -> String {
        let index: serde_json::Value = serde_json::from_slice(
            &std::fs::read(self.tmp.path().join(out).join("index.json")).unwrap(),
        )
        .unwrap();
        index["manifests"][0]["digest"].as_str().unwrap().to_owned()
    }

    fn cache_blobs(&self, cache: &str) -> Vec<PathBuf> {
        let dir = self.tmp.path().join(cache).join("blobs/sha256");
        let mut blobs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        blobs.sort();
        blobs
    }
}

fn sha256(path: &Path) -> String {
    use sha2::Digest as _;
    format!("{:x}", sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

fn pip() -> String {
    std::env::var("FABUILD_PIP").unwrap_or_else(|_| "pip".to_owned())
}

#[test]
fn pinned_wheels_come_from_the_index_without_pip_and_match_what_pip_chooses() {
    let case = Case::new();
    let project = case.project("asgi", &spec("asgi", 8000), Some(LOCK));
    // No pip at all: the server stack and the hashed lock need none.
    let fetched = case.build(
        &project,
        "fetched",
        "cache-a",
        &["--pip", "/nonexistent/pip"],
        &[],
    );
    assert!(fetched.status.success(), "{}", text(&fetched));
    // The same build with pip downloading every wheel: the same bytes.
    let by_pip = case.build(
        &project,
        "by-pip",
        "cache-b",
        &["--pip", &pip(), "--pip-only"],
        &[],
    );
    assert!(by_pip.status.success(), "{}", text(&by_pip));
    assert_eq!(case.manifest("fetched"), case.manifest("by-pip"));
    // Every cached wheel is named by its sha256.
    let blobs = case.cache_blobs("cache-a");
    assert!(blobs.len() > 9, "{blobs:?}");
    for blob in blobs {
        let name = blob.file_name().unwrap().to_string_lossy().into_owned();
        if name.len() == 64 {
            assert_eq!(sha256(&blob), name);
        }
    }
}

#[test]
fn specs_that_share_wheels_share_the_cache_and_a_changed_wheel_is_never_used() {
    let case = Case::new();
    let a = case.project("a", &spec("wsgi", 8000), Some(LOCK));
    let first = case.build(&a, "img-a", "cache", &[], &[]);
    assert!(first.status.success(), "{}", text(&first));
    // Another spec, another dependency layer, the same wheels: built with the index out
    // of reach, from the cache alone.
    let (anyio, idna) = LOCK.split_at(LOCK.find("idna").unwrap());
    let b = case.project("b", &spec("wsgi", 8000), Some(idna));
    let offline = [("PIP_INDEX_URL", DEAD_INDEX)];
    let second = case.build(
        &b,
        "img-b",
        "cache",
        &["--pip", "/nonexistent/pip"],
        &offline,
    );
    assert!(second.status.success(), "{}", text(&second));
    assert!(!text(&second).contains("(cached)"), "{}", text(&second));

    // Every cached wheel changed on disk (a flipped byte keeps the size): none is used.
    for blob in case.cache_blobs("cache") {
        let mut bytes = std::fs::read(&blob).unwrap();
        if bytes.len() > 1000 && bytes.starts_with(b"PK") {
            bytes[500] ^= 0xff;
            std::fs::write(&blob, bytes).unwrap();
        }
    }
    let c = case.project("c", &spec("wsgi", 8000), Some(anyio));
    let refused = case.build(&c, "img-c", "cache", &[], &offline);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("does not hash to its name"),
        "{}",
        text(&refused)
    );
    assert!(!case.tmp.path().join("img-c").exists());
    // With the index back, they are fetched again, and the image is the one a clean
    // cache gives.
    let again = case.build(&c, "img-c", "cache", &[], &[]);
    assert!(again.status.success(), "{}", text(&again));
    let clean = case.build(&c, "img-c-clean", "clean-cache", &[], &[]);
    assert!(clean.status.success(), "{}", text(&clean));
    assert_eq!(case.manifest("img-c"), case.manifest("img-c-clean"));
}

#[test]
fn an_index_without_the_pinned_files_names_what_is_missing() {
    let case = Case::new();
    // A hash no file of idna 3.21 has.
    let lock = format!("idna==3.21 --hash=sha256:{}\n", "0".repeat(64));
    let project = case.project("p", &spec("wsgi", 8000), Some(&lock));
    let output = case.build(&project, "out", "cache", &[], &[]);
    assert!(!output.status.success());
    let text = text(&output);
    assert!(
        text.contains("no wheel of idna 3.21 with one of its pinned sha256"),
        "{text}"
    );
}

#[test]
fn two_builds_sharing_a_cache_and_killed_midway_never_use_a_corrupt_wheel() {
    let case = Case::new();
    let project = case.project("asgi", &spec("asgi", 8000), Some(LOCK));
    let reference = case.build(&project, "reference", "reference-cache", &[], &[]);
    assert!(reference.status.success(), "{}", text(&reference));
    let want = case.manifest("reference");
    // Kill one of two builds sharing a cache at moments spread over its download (the
    // compiled server wheels take a while), while the other one runs to the end.
    let mut killed_running = 0;
    for (round, delay_ms) in [150u64, 400, 900, 1600].into_iter().enumerate() {
        let killed_out = format!("killed-{round}");
        let mut killed = case
            .command(&project, &killed_out, "shared", &[], &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let survivor_out = format!("survivor-{round}");
        let survivor = case
            .command(&project, &survivor_out, "shared", &[], &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(delay_ms) {
            if killed.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if killed.try_wait().unwrap().is_none() {
            killed_running += 1;
        }
        let _ = killed.kill(); // SIGKILL
        let _ = killed.wait();
        let survivor = survivor.wait_with_output().unwrap();
        assert!(survivor.status.success(), "{}", text(&survivor));
        assert_eq!(case.manifest(&survivor_out), want, "round {round}");
        // Whatever the killed build left in the cache, the next build's image is the
        // right one, and every wheel under its final name is whole.
        let next = case.build(&project, &format!("next-{round}"), "shared", &[], &[]);
        assert!(next.status.success(), "{}", text(&next));
        assert_eq!(
            case.manifest(&format!("next-{round}")),
            want,
            "round {round}"
        );
        for blob in case.cache_blobs("shared") {
            let name = blob.file_name().unwrap().to_string_lossy().into_owned();
            if name.len() == 64 && !name.starts_with('.') {
                assert_eq!(sha256(&blob), name, "round {round}");
            }
        }
        // The dependency layer is cached now: drop it so that the next round downloads.
        let _ = std::fs::remove_dir_all(case.tmp.path().join("shared/deps"));
        let _ = std::fs::remove_dir_all(case.tmp.path().join("shared/blobs"));
        let _ = std::fs::remove_dir_all(case.tmp.path().join("shared/wheel-choice"));
    }
    assert!(
        killed_running >= 2,
        "only {killed_running} builds were killed while running"
    );
}

/// A PEP 503 index (HTML pages, links relative to the page, the hash in the fragment)
/// served over HTTP on a free port, holding the pinned gunicorn wheel.
struct HtmlIndex {
    child: std::process::Child,
    url: String,
    _root: tempfile::TempDir,
}

impl HtmlIndex {
    fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        let wheels = crate::build::wheels();
        let wheel = std::fs::read_dir(&wheels)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "whl"))
            .unwrap();
        let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::create_dir_all(root.path().join("simple/gunicorn")).unwrap();
        std::fs::create_dir_all(root.path().join("files")).unwrap();
        std::fs::copy(&wheel, root.path().join("files").join(&name)).unwrap();
        std::fs::write(
            root.path().join("simple/gunicorn/index.html"),
            format!(
                "<!DOCTYPE html>\n<html><body><h1>Links for gunicorn</h1>\n<a href=\"../../files/{name}#sha256={}\" data-requires-python=\"&gt;=3.10\">{name}</a><br/>\n</body></html>\n",
                sha256(&wheel)
            ),
        )
        .unwrap();
        let mut child = Command::new(crate::util::python())
            .args([
                "-c",
                "import functools, http.server, sys\n\
                 handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])\n\
                 server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)\n\
                 print(server.server_address[1], flush=True)\n\
                 server.serve_forever()\n",
            ])
            .arg(root.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        let url = format!("http://127.0.0.1:{}/simple/", line.trim());
        Self {
            child,
            url,
            _root: root,
        }
    }
}

impl Drop for HtmlIndex {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_html_index_from_pips_configuration_serves_the_pinned_wheels() {
    let index = HtmlIndex::start();
    let case = Case::new();
    let project = case.project("wsgi", &spec("wsgi", 8000), None);
    // The index comes from a pip.conf, as a team's private mirror would.
    let conf = case.tmp.path().join("pip.conf");
    std::fs::write(&conf, format!("[global]\nindex-url = {}\n", index.url)).unwrap();
    let conf = conf.display().to_string();
    let output = case.build(
        &project,
        "from-html",
        "cache",
        &["--pip", "/nonexistent/pip"],
        &[("PIP_CONFIG_FILE", &conf)],
    );
    assert!(output.status.success(), "{}", text(&output));
    let from_pypi = case.build(&project, "from-pypi", "other-cache", &[], &[]);
    assert!(from_pypi.status.success(), "{}", text(&from_pypi));
    assert_eq!(case.manifest("from-html"), case.manifest("from-pypi"));
}
