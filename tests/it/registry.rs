//! Pulling and pushing through a real registry: Debian's `docker-registry` (the CNCF
//! distribution registry 2.8) on loopback, with TLS from a CA each test makes and htpasswd
//! (bcrypt) auth; skopeo is the oracle for what the registry holds.
//!
//! Needs `docker-registry`, `htpasswd` (apache2-utils), `openssl` and `skopeo`
//! (.ci/run installs them).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::build::{EPOCH, Project};
use crate::util::fabuild;

pub(crate) const USER: &str = "ci-bot";
pub(crate) const PASSWORD: &str = "Zq8-not-in-any-output-7Kp";

/// Ports 18601-18649 for registries and 18651-18699 for their token servers (18600-18699
/// are this suite's). Tests run in parallel processes, so a port is claimed with a
/// directory created atomically (`/tmp/fabuild-test-ports/<port>`, holding the claimer's
/// pid; a dead claimer's port is taken back) and checked free by binding it.
static TRIED: AtomicU16 = AtomicU16::new(0);

struct Claim(PathBuf);

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn claim_port() -> (u16, Claim) {
    let root = Path::new("/tmp/fabuild-test-ports");
    let _ = std::fs::create_dir_all(root);
    let start = u16::try_from(std::process::id() % 49).unwrap();
    for i in 0..49 * 4 {
        let offset = (start + TRIED.fetch_add(1, Ordering::SeqCst) + i) % 49;
        let port = 18601 + offset;
        let dir = root.join(port.to_string());
        if std::fs::create_dir(&dir).is_err() {
            let owner = std::fs::read_to_string(dir.join("pid")).unwrap_or_default();
            let alive = owner
                .trim()
                .parse::<u32>()
                .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
            if alive || owner.is_empty() {
                continue;
            }
            let _ = std::fs::remove_dir_all(&dir);
            if std::fs::create_dir(&dir).is_err() {
                continue;
            }
        }
        std::fs::write(dir.join("pid"), std::process::id().to_string()).unwrap();
        let claim = Claim(dir);
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 50) {
            return (port, claim);
        }
    }
    panic!("no free port pair in 18601-18649 / 18651-18699");
}

pub(crate) struct Registry {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) host: String,
    child: Child,
    /// The token server, when the registry authenticates with bearer tokens.
    token_server: Option<Child>,
    _port: Claim,
}

impl Drop for Registry {
    fn drop(&mut self) {
        for child in std::iter::once(&mut self.child).chain(self.token_server.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until something listens on `port`.
fn wait_for(port: u16, log: &Path) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "nothing listens on {port}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Registry {
    /// A registry with htpasswd (basic) auth.
    pub(crate) fn start() -> Self {
        Self::start_with(false)
    }

    /// A registry with token auth: a bearer challenge naming a token server (HTTPS) that
    /// checks the credentials and signs tokens the registry verifies.
    pub(crate) fn start_with_tokens() -> Self {
        Self::start_with(true)
    }

    fn start_with(tokens: bool) -> Self {
        for tool in ["docker-registry", "htpasswd", "openssl", "skopeo"] {
            assert!(
                Command::new("sh")
                    .args(["-c", &format!("command -v {tool}")])
                    .output()
                    .unwrap()
                    .status
                    .success(),
                "{tool} is missing: apt-get install docker-registry apache2-utils openssl skopeo (.ci/run does)"
            );
        }
        let (port, claim) = claim_port();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let sh = |script: &str| {
            run_ok(Command::new("sh").arg("-c").arg(script).current_dir(d));
        };
        sh(
            "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=fabuild-test-ca \
            -keyout ca.key -out ca.pem 2>/dev/null \
            && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out srv.csr 2>/dev/null \
            && printf 'subjectAltName=IP:127.0.0.1\\n' > ext \
            && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
               -extfile ext -out cert.pem 2>/dev/null \
            && mkdir certs && cp ca.pem certs/ca.crt \
            && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=fabuild-test-tokens \
               -keyout token.key -out token.pem 2>/dev/null",
        );
        run_ok(
            Command::new("htpasswd")
                .args(["-Bbc", "htpasswd", USER, PASSWORD])
                .current_dir(d),
        );
        let token_port = port + 50;
        let auth = if tokens {
            format!(
                "auth:\n  token:\n    realm: https://127.0.0.1:{token_port}/token\n    service: fabuild-test\n\
                 \x20   issuer: fabuild-test-issuer\n    rootcertbundle: {root}/token.pem\n",
                root = d.display()
            )
        } else {
            format!(
                "auth:\n  htpasswd:\n    realm: fabuild-test\n    path: {root}/htpasswd\n",
                root = d.display()
            )
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {root}/data\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {root}/cert.pem\n    key: {root}/key.pem\n{auth}",
            root = d.display()
        );
        std::fs::write(d.join("config.yml"), config).unwrap();
        let log = std::fs::File::create(d.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .args(["serve", "config.yml"])
            .current_dir(d)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        wait_for(port, &d.join("registry.log"));
        let token_server = tokens.then(|| {
            let log = std::fs::File::create(d.join("tokens.log")).unwrap();
            let child = Command::new("python3")
                .arg(crate::util::repo().join("tests/it/token_server.py"))
                .arg(token_port.to_string())
                .args([
                    "cert.pem",
                    "key.pem",
                    "token.pem",
                    "token.key",
                    USER,
                    PASSWORD,
                ])
                .arg("fabuild-test-issuer")
                .current_dir(d)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            wait_for(token_port, &d.join("tokens.log"));
            child
        });
        // containers-style auth file, as `podman login` writes it.
        let auth = base64_pair(USER, PASSWORD);
        std::fs::write(
            d.join("auth.json"),
            json!({"auths": {format!("127.0.0.1:{port}"): {"auth": auth}}}).to_string(),
        )
        .unwrap();
        std::fs::create_dir(d.join("home")).unwrap();
        Self {
            host: format!("127.0.0.1:{port}"),
            dir,
            child,
            token_server,
            _port: claim,
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// fabuild with the registry's auth file, an empty home and no other credentials.
    pub(crate) fn fabuild(&self, cwd: &Path) -> Command {
        let mut cmd = fabuild(cwd);
        cmd.env("REGISTRY_AUTH_FILE", self.path("auth.json"))
            .env("HOME", self.path("home"))
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("DOCKER_CONFIG")
            .env("XDG_CACHE_HOME", self.path("home/.cache"))
            .env("SOURCE_DATE_EPOCH", EPOCH);
        cmd
    }

    /// skopeo with the registry's CA and credentials.
    pub(crate) fn skopeo(&self, args: &[&str]) -> Output {
        let creds = format!("{USER}:{PASSWORD}");
        let certs = self.path("certs");
        let certs = certs.to_str().unwrap();
        let mut cmd = Command::new("skopeo");
        cmd.arg(args[0]);
        match args[0] {
            "copy" => {
                cmd.args(["--src-cert-dir", certs, "--dest-cert-dir", certs]);
                if args[1].starts_with("docker://") {
                    cmd.args(["--src-creds", &creds]);
                }
                if args[2].starts_with("docker://") {
                    cmd.args(["--dest-creds", &creds]);
                }
            }
            _ => {
                cmd.args(["--cert-dir", certs, "--creds", &creds]);
            }
        }
        cmd.args(&args[1..]).env("HOME", self.path("home"));
        run_ok(&mut cmd)
    }

    /// The digest the registry gives `reference` (skopeo inspect).
    pub(crate) fn digest(&self, reference: &str) -> String {
        let out = self.skopeo(&["inspect", "--raw", &format!("docker://{reference}")]);
        format!("sha256:{}", sha256_hex(&out.stdout))
    }
}

pub(crate) fn base64_pair(user: &str, password: &str) -> String {
    let out = Command::new("base64")
        .args(["-w0"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{user}:{password}").as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(out: &Output) -> (String, String) {
    let (o, e) = text(out);
    assert!(out.status.success(), "failed:\n{o}\n{e}");
    (o, e)
}

/// Every file under `dir`, recursively (no links followed).
pub(crate) fn files_under(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in listing.flatten() {
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            files_under(&path, into);
        } else if kind.is_file() {
            into.push(path);
        }
    }
}

/// Pushes the synthetic base to the registry with skopeo; returns its reference.
fn seed_base(registry: &Registry, project: &Project) -> String {
    let reference = format!("{}/base/python:3.11", registry.host);
    registry.skopeo(&[
        "copy",
        &format!("oci:{}", project.base.display()),
        &format!("docker://{reference}"),
    ]);
    reference
}

fn build_push(
    registry: &Registry,
    project: &Project,
    base: &str,
    target: &str,
    out: &str,
) -> (String, String) {
    let output = registry
        .fabuild(&project.root)
        .args(["build", "app.yaml", "--base", base, "--out"])
        .arg(project.path(out))
        .arg("--wheels")
        .arg(&project.wheels)
        .args(["--push", target, "--digest-file"])
        .arg(project.path(&format!("{out}.digest")))
        .arg("--registry-ca")
        .arg(registry.path("ca.pem"))
        .output()
        .unwrap();
    ok(&output)
}

/// The counts in the push note: (uploaded blobs, uploaded bytes, mounted, present).
fn push_counts(stderr: &str) -> (u64, u64, u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("note: pushed"))
        .unwrap_or_else(|| panic!("no push note in:\n{stderr}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    // pushed M manifest(s): U blobs uploaded (B bytes), K mounted, P already there
    (numbers[1], numbers[2], numbers[3], numbers[4])
}

#[test]
fn a_base_by_reference_is_pulled_and_the_image_pushed_with_only_the_missing_blobs() {
    let registry = Registry::start();
    let project = Project::new();
    let base = seed_base(&registry, &project);
    let base_digest = registry.digest(&base);
    let target = format!("{}/team/tiny:1", registry.host);

    let (stdout, stderr) = build_push(&registry, &project, &base, &target, "img");
    assert!(
        stdout.contains(&format!("base {base} is {base_digest}")),
        "the resolved base digest is printed:\n{stdout}"
    );
    let pushed_line = stdout.lines().last().unwrap();
    let digest = std::fs::read_to_string(project.path("img.digest")).unwrap();
    assert_eq!(pushed_line, format!("{target}@{}", digest.trim()));
    // What the registry holds is what was built, to the byte (skopeo's view).
    let (local, _) = crate::build::Project::manifest(&project, "img");
    assert_eq!(digest.trim(), local);
    assert_eq!(registry.digest(&target), local);
    // The base's three layers were mounted from its repository, not uploaded again.
    let (uploaded, _, mounted, _) = push_counts(&stderr);
    assert_eq!((uploaded, mounted), (4, 3), "{stderr}");
    // skopeo copies it out intact (it checks every digest on the way).
    let copy = project.path("copied");
    registry.skopeo(&[
        "copy",
        &format!("docker://{target}"),
        &format!("oci:{}:1", copy.display()),
    ]);

    // A code change: only the app layer and the config go up.
    std::fs::write(
        project.root.join("wsgi.py"),
        "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'changed']\n",
    )
    .unwrap();
    let (stdout, stderr) = build_push(&registry, &project, &base, &target, "img2");
    let (_, manifest) = crate::build::Project::manifest(&project, "img2");
    let app = &manifest["layers"].as_array().unwrap().last().unwrap()["size"];
    let config = &manifest["config"]["size"];
    let (uploaded, bytes, mounted, present) = push_counts(&stderr);
    assert_eq!((uploaded, mounted, present), (2, 0, 5), "{stderr}");
    assert_eq!(bytes, app.as_u64().unwrap() + config.as_u64().unwrap());
    assert!(
        stdout.contains(&format!(
            "base {base} is {base_digest} (linux/amd64 manifest {base_digest}, 0 bytes fetched)"
        )),
        "the base came from the cache:\n{stdout}"
    );

    // verify reads the image from the registry.
    let out = registry
        .fabuild(&project.root)
        .args([
            "verify",
            "app.yaml",
            "--image",
            &target,
            "--base-image",
            &base,
        ])
        .arg("--registry-ca")
        .arg(registry.path("ca.pem"))
        .output()
        .unwrap();
    let (report, _) = ok(&out);
    assert!(report.contains("PASS"), "{report}");

    // The password is nowhere: not printed, not in the images, not in the cache.
    let mut written = Vec::new();
    files_under(project.root.parent().unwrap(), &mut written);
    files_under(&registry.path("home"), &mut written);
    assert!(written.len() > 10);
    for path in written {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !contains(&bytes, PASSWORD.as_bytes())
                && !contains(&bytes, base64_pair(USER, PASSWORD).as_bytes()),
            "{} holds the password",
            path.display()
        );
    }
    for printed in [&stdout, &stderr, &report] {
        assert!(!printed.contains(PASSWORD));
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn docker_config_credential_helpers_and_certs_d_are_used_as_ci_leaves_them() {
    let registry = Registry::start();
    let project = Project::new();
    let base = seed_base(&registry, &project);
    let home = registry.path("home");
    // The CA in the containers certs.d convention, not on the command line.
    let certs = home.join(".config/containers/certs.d").join(&registry.host);
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(registry.path("ca.pem"), certs.join("ca.crt")).unwrap();
    // A credential helper named by ~/.docker/config.json's credHelpers.
    let bin = registry.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let helper = bin.join("docker-credential-fabtest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\n[ \"$1\" = get ] && [ \"$server\" = \"{}\" ] || exit 1\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n",
            registry.host
        ),
    )
    .unwrap();
    run_ok(Command::new("chmod").arg("755").arg(&helper));
    std::fs::create_dir_all(home.join(".docker")).unwrap();
    std::fs::write(
        home.join(".docker/config.json"),
        json!({"credHelpers": {registry.host.clone(): "fabtest"}}).to_string(),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let target = format!("{}/team/helper:1", registry.host);
    let out = registry
        .fabuild(&project.root)
        .env_remove("REGISTRY_AUTH_FILE")
        .env("PATH", path)
        .args(["build", "app.yaml", "--base", &base, "--out"])
        .arg(project.path("img"))
        .arg("--wheels")
        .arg(&project.wheels)
        .args(["--push", &target])
        .output()
        .unwrap();
    let (stdout, stderr) = ok(&out);
    assert!(
        stdout.ends_with(&format!("{}\n", registry.digest(&target))),
        "{stdout}"
    );
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));

    // A wrong password: refused, naming where it came from, never what it was.
    std::fs::write(
        registry.path("bad-auth.json"),
        json!({"auths": {registry.host.clone(): {"auth": base64_pair(USER, "wrong-Pw-77")}}})
            .to_string(),
    )
    .unwrap();
    // (--registry-ca and certs.d together: the TLS handshake must trust both, joined.)
    let out = registry
        .fabuild(&project.root)
        .env("REGISTRY_AUTH_FILE", registry.path("bad-auth.json"))
        .args(["build", "app.yaml", "--base", &base, "--out"])
        .arg(project.path("img-bad"))
        .arg("--wheels")
        .arg(&project.wheels)
        .arg("--registry-ca")
        .arg(registry.path("ca.pem"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("refused the credentials from") && stderr.contains("bad-auth.json"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-Pw-77") && !stdout.contains("wrong-Pw-77"));
}

/// Adds an SBOM-like artifact (an SPDX document, subject = the image) to the layout, as
/// the SBOM step writes one; returns its manifest's hex digest and the bytes of its layer
/// plus empty config (what a push of it uploads).
fn add_sbom(layout: &Path, image_digest: &str) -> (String, u64) {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let image_desc = index["manifests"][0].clone();
    let sbom = br#"{"spdxVersion":"SPDX-2.3"}"#;
    let sbom_hex = sha256_hex(sbom);
    std::fs::write(layout.join("blobs/sha256").join(&sbom_hex), sbom).unwrap();
    let empty = b"{}";
    std::fs::write(layout.join("blobs/sha256").join(sha256_hex(empty)), empty).unwrap();
    let artifact = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/spdx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": format!("sha256:{}", sha256_hex(empty)), "size": 2},
        "layers": [{"mediaType": "application/spdx+json", "digest": format!("sha256:{sbom_hex}"), "size": sbom.len()}],
        "subject": {"mediaType": image_desc["mediaType"], "digest": image_digest, "size": image_desc["size"]},
    });
    let artifact_bytes = serde_json::to_vec(&artifact).unwrap();
    let artifact_hex = sha256_hex(&artifact_bytes);
    std::fs::write(
        layout.join("blobs/sha256").join(&artifact_hex),
        &artifact_bytes,
    )
    .unwrap();
    let mut index = index;
    index["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": format!("sha256:{artifact_hex}"),
        "size": artifact_bytes.len(),
        "artifactType": "application/spdx+json",
    }));
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();

    (artifact_hex, (sbom.len() + empty.len()) as u64)
}

#[test]
fn a_large_layer_goes_up_in_chunks_and_an_sbom_is_attached_by_the_tag_fallback() {
    use crate::image_writer::{self, Compression, Image, dir, file};
    let registry = Registry::start();
    let project = Project::new();
    // A base on disk (nothing to mount from) with 20 MiB that gzip cannot shrink.
    let mut noise = vec![0u8; 20 << 20];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for b in &mut noise {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *b = state.to_le_bytes()[0];
    }
    let lower = vec![
        dir("/etc"),
        file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
        file("/etc/group", "root:x:0:\n"),
        dir("/usr"),
        dir("/usr/bin"),
        file("/usr/bin/python3.11", "not really python"),
        file("/usr/bin/blob", noise),
    ];
    let runtime = json!({"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["python3"]});
    let image = Image::build(&runtime, "amd64", &[lower], Compression::Gzip);
    let big_base = project.path("bigbase");
    image_writer::write_layout(&big_base, &[(&image, Some("linux/amd64"))]);
    let out = registry
        .fabuild(&project.root)
        .args(["build", "app.yaml", "--base"])
        .arg(&big_base)
        .arg("--out")
        .arg(project.path("img"))
        .arg("--wheels")
        .arg(&project.wheels)
        .arg("--no-cache")
        .output()
        .unwrap();
    ok(&out);

    // An SBOM-like artifact whose subject is the image, as the sbom step writes it.
    let layout = project.path("img");
    let (image_digest, _) = crate::build::Project::manifest(&project, "img");
    let (artifact_hex, artifact_bytes) = add_sbom(&layout, &image_digest);

    // Push the layout as it is (build --push builds it again, to the same bytes).
    let target = format!("{}/team/big:1", registry.host);
    let out = registry
        .fabuild(&project.root)
        .args(["build", "app.yaml", "--base"])
        .arg(&big_base)
        .arg("--out")
        .arg(project.path("img-again"))
        .arg("--wheels")
        .arg(&project.wheels)
        .args(["--no-cache", "--push", &target, "--registry-ca"])
        .arg(registry.path("ca.pem"))
        .output()
        .unwrap();
    let (_, stderr) = ok(&out);
    let (uploaded, bytes, _, _) = push_counts(&stderr);
    assert_eq!(uploaded, 5, "{stderr}");
    assert!(bytes > 20 << 20, "{stderr}");
    assert_eq!(registry.digest(&target), image_digest);
    // The 20 MiB layer arrived whole (skopeo checks digests as it copies).
    registry.skopeo(&[
        "copy",
        &format!("docker://{target}"),
        &format!("oci:{}:1", project.path("copied").display()),
    ]);

    // The layout with the artifact: the image is already there, the SBOM goes up and is
    // listed under the subject's `sha256-<hex>` tag (distribution 2.8 has no referrers API).
    let out = registry
        .fabuild(&project.root)
        .arg("push")
        .arg(&layout)
        .arg(&target)
        .arg("--registry-ca")
        .arg(registry.path("ca.pem"))
        .output()
        .unwrap();
    let (stdout, stderr) = ok(&out);
    assert_eq!(stdout, format!("{target}@{image_digest}\n"));
    let (uploaded, bytes, _, present) = push_counts(&stderr);
    assert_eq!((uploaded, present), (2, 5), "{stderr}");
    assert_eq!(bytes, artifact_bytes);
    let fallback = format!("{}/team/big:sha256-{}", registry.host, &image_digest[7..]);
    let listed: Value = serde_json::from_slice(
        &registry
            .skopeo(&["inspect", "--raw", &format!("docker://{fallback}")])
            .stdout,
    )
    .unwrap();
    assert_eq!(
        listed["manifests"][0]["digest"],
        format!("sha256:{artifact_hex}")
    );
    assert_eq!(
        listed["manifests"][0]["artifactType"],
        "application/spdx+json"
    );
    assert_eq!(
        registry.digest(&target),
        image_digest,
        "the tag still names the image"
    );
}

#[test]
fn bearer_tokens_are_fetched_from_the_realm_the_registry_names_for_the_scopes_needed() {
    let registry = Registry::start_with_tokens();
    let project = Project::new();
    let base = seed_base(&registry, &project);
    let target = format!("{}/team/tokens:1", registry.host);
    // Pull from base/python and push to team/tokens with a mount between them: one token
    // must carry pull on the one and pull,push on the other, or the registry refuses.
    let (stdout, stderr) = build_push(&registry, &project, &base, &target, "img");
    let digest = std::fs::read_to_string(project.path("img.digest")).unwrap();
    assert_eq!(registry.digest(&target), digest.trim());
    assert!(stdout.ends_with(&format!("{target}@{digest}")), "{stdout}");
    let (_, _, mounted, _) = push_counts(&stderr);
    assert_eq!(mounted, 3, "{stderr}");

    // The token server refuses a wrong password: said so, without the password.
    std::fs::write(
        registry.path("bad-auth.json"),
        json!({"auths": {registry.host.clone(): {"auth": base64_pair(USER, "wrong-Pw-99")}}})
            .to_string(),
    )
    .unwrap();
    let out = registry
        .fabuild(&project.root)
        .env("REGISTRY_AUTH_FILE", registry.path("bad-auth.json"))
        .args(["verify", "app.yaml", "--image", &target, "--registry-ca"])
        .arg(registry.path("ca.pem"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("refused the credentials from"), "{stderr}");
    assert!(!stderr.contains("wrong-Pw-99") && !stdout.contains("wrong-Pw-99"));
}

#[test]
fn pin_writes_the_digest_the_tag_names_into_app_yaml_and_nothing_else() {
    let registry = Registry::start();
    let project = Project::new();
    let base = seed_base(&registry, &project);
    let spec = format!(
        "# the service\nversion: 1\nname: tiny\napp:\n  module: wsgi:app   # keep\n  interface: wsgi\npython:\n  version: \"3.11\"\n  base_image: \"{base}\"  # our mirror\nserver:\n  port: 8000\nuser:\n  uid: 10001\n  gid: 10001\n"
    );
    std::fs::write(project.root.join("app.yaml"), &spec).unwrap();
    let pin = |project: &Project| {
        let out = registry
            .fabuild(&project.root)
            .args(["pin", "app.yaml", "--registry-ca"])
            .arg(registry.path("ca.pem"))
            .output()
            .unwrap();
        ok(&out).0
    };
    let stdout = pin(&project);
    let digest = registry.digest(&base);
    let pinned = format!("{base}@{digest}");
    assert_eq!(
        stdout,
        format!("app.yaml: python.base_image {base} -> {pinned}\n")
    );
    assert_eq!(
        std::fs::read_to_string(project.root.join("app.yaml")).unwrap(),
        spec.replace(&format!("\"{base}\""), &format!("\"{pinned}\""))
    );
    // Pinned: the build pulls by digest; the same again is a no-op.
    assert!(pin(&project).contains("is already"));

    // Building with no --base takes python.base_image (here unpinned) from the registry.
    std::fs::write(project.root.join("app.yaml"), &spec).unwrap();
    let out = registry
        .fabuild(&project.root)
        .args(["build", "app.yaml", "--out"])
        .arg(project.path("img"))
        .arg("--wheels")
        .arg(&project.wheels)
        .arg("--registry-ca")
        .arg(registry.path("ca.pem"))
        .output()
        .unwrap();
    let (stdout, _) = ok(&out);
    assert!(
        stdout.contains(&format!("base {base} is {digest}")),
        "{stdout}"
    );

    // resolve: the Kubernetes manifest names the pushed digest.
    let manifest = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: tiny\n          image: \"reg.example/tiny:1\"  # set by deploy.image\n";
    std::fs::write(project.root.join("kubernetes.yaml"), manifest).unwrap();
    let pushed = format!("{}/team/tiny:1@{digest}", registry.host);
    let out = registry
        .fabuild(&project.root)
        .args(["resolve", "--image", &pushed])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    // deploy.image is not set in this spec: the pushed repository's own name is matched.
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    std::fs::write(
        project.root.join("kubernetes.yaml"),
        manifest.replace(
            "reg.example/tiny:1",
            &format!("{}/team/tiny:1", registry.host),
        ),
    )
    .unwrap();
    let out = registry
        .fabuild(&project.root)
        .args(["resolve", "--image", &pushed])
        .output()
        .unwrap();
    let (stdout, _) = ok(&out);
    assert_eq!(stdout, manifest.replace("reg.example/tiny:1", &pushed));
}
