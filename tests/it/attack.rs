//! The attack suite: hostile images made here, byte by byte (nothing large is committed),
//! each given to `fabuild verify` or `fabuild build --base` under a 512 MiB address-space
//! limit and a 20 s hang detector (not a speed target). Each must end with its verdict.
//!
//! `benches/attack.sh` writes the same images (`write_the_attack_suite`, ignored here) and
//! records each one's verdict, time and peak memory for BENCHMARKS.md and docs/verify.md.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::build::{Project, layer_files};
use crate::image_writer::{self, Compression, Image, dir, file, sha256};
use crate::util::repo;

/// Address space allowed to one run: eight times the 64 MiB peak the benchmark targets.
const MEMORY_LIMIT: &str = "--as=536870912";
/// A run that takes this long is taken to hang (a debug build on a shared machine).
const HANG_SECONDS: &str = "20";

const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n";

fn spec() -> PathBuf {
    repo().join("examples/fastapi-tls/app.yaml")
}

/// Runs fabuild with `args` in `dir` under the memory limit and the hang detector.
fn bounded(dir: &Path, args: &[&str]) -> Output {
    Command::new("timeout")
        .args(["-s", "KILL", HANG_SECONDS, "prlimit", MEMORY_LIMIT])
        .arg(env!("CARGO_BIN_EXE_fabuild"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap()
}

struct Verdict {
    code: Option<i32>,
    said: String,
}

fn verify(image: &Path) -> Verdict {
    let out = bounded(
        &repo(),
        &[
            "verify",
            spec().to_str().unwrap(),
            "--image",
            image.to_str().unwrap(),
        ],
    );
    Verdict {
        code: out.status.code(),
        said: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

impl Verdict {
    /// Exit `code` within the bounds, every `text` in the report.
    fn expect(&self, code: i32, texts: &[&str]) {
        let head: String = self.said.chars().take(4000).collect();
        assert_ne!(
            self.code, None,
            "killed: past {HANG_SECONDS} s or out of memory\n{head}"
        );
        assert_ne!(self.code, Some(124), "past {HANG_SECONDS} s\n{head}");
        assert_ne!(self.code, Some(134), "aborted (out of memory?)\n{head}");
        assert_eq!(self.code, Some(code), "{head}");
        for text in texts {
            assert!(self.said.contains(text), "no `{text}` in:\n{head}");
        }
    }
}

/// A tar header block for `path` of `kind` and `size` (GNU format, base-256 beyond 8 GiB).
fn header(path: &str, kind: u8, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_path(path).unwrap();
    header.set_entry_type(tar::EntryType::new(kind));
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    header
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    image_writer::compress(bytes, Compression::Gzip)
}

/// One layout of one image whose layers are the given blobs (media type told by their
/// first bytes), with `runtime` as its config's `config` and placeholder diff ids.
fn layout_of(at: &Path, layers: &[Vec<u8>], runtime: &Value) -> PathBuf {
    let path = at.join("image");
    fs::create_dir_all(path.join("blobs/sha256")).unwrap();
    fs::write(path.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    for blob in layers {
        let hex = sha256(blob);
        fs::write(path.join("blobs/sha256").join(&hex), blob).unwrap();
        let media = if blob.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            "application/vnd.oci.image.layer.v1.tar+zstd"
        } else {
            "application/vnd.oci.image.layer.v1.tar+gzip"
        };
        descriptors.push(
            json!({"mediaType": media, "digest": format!("sha256:{hex}"), "size": blob.len()}),
        );
        diff_ids.push(format!("sha256:{hex}"));
    }
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let put = |bytes: &[u8]| {
        let hex = sha256(bytes);
        fs::write(path.join("blobs/sha256").join(&hex), bytes).unwrap();
        json!({"digest": format!("sha256:{hex}"), "size": bytes.len()})
    };
    let mut config_d = put(&config);
    config_d["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_d, "layers": descriptors,
    }))
    .unwrap();
    let mut manifest_d = put(&manifest);
    manifest_d["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
    let index = json!({"schemaVersion": 2, "manifests": [manifest_d]});
    fs::write(path.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    path
}

/// A gzip layer whose first header is a special member (GNU long name `L`, PAX `x`) of
/// `size` bytes: a few MB of gzip that the header says to hold in memory whole. Made of
/// gzip members (one of 1 MiB of zeros, repeated), so it is quick to make.
fn special_header_layer(kind: u8, size: u64) -> Vec<u8> {
    let mut blob = gzip(header("././@LongLink", kind, size).as_bytes());
    let zeros = gzip(&vec![0u8; 1 << 20]);
    for _ in 0..size >> 20 {
        blob.extend_from_slice(&zeros);
    }
    blob
}

/// A zstd layer of a file of zeros far larger than the blob: a frame with the tar header,
/// then `blocks` RLE blocks of 128 KiB, 4 bytes each (about 32,000:1).
fn zstd_bomb_layer(blocks: u64) -> Vec<u8> {
    let size = blocks << 17;
    let mut blob = ruzstd::encoding::compress_to_vec(
        header("bomb", b'0', size).as_bytes().as_slice(),
        ruzstd::encoding::CompressionLevel::Fastest,
    );
    // Frame header: no content size, a 128 KiB window (exponent 7).
    blob.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]);
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let block: u32 = last | (1 << 1) | ((1 << 17) << 3);
        blob.extend_from_slice(&block.to_le_bytes()[..3]);
        blob.push(0);
    }
    blob
}

/// A layer with a PEM key in a GNU sparse member (`S`) and in a member of a type flag no
/// tool knows (`Z`): runtimes extract both as files.
fn sparse_key_layer() -> Vec<u8> {
    let mut tar = Vec::new();
    let mut sparse = header("srv/tls/server.pem", b'S', KEY.len() as u64);
    {
        let bytes = sparse.as_mut_bytes();
        // One data segment at offset 4096 of an 8192-byte file, then the empty segment at
        // the file's end that GNU tar writes for a trailing hole; not extended.
        bytes[386..398].copy_from_slice(format!("{:011o}\0", 4096).as_bytes());
        bytes[398..410].copy_from_slice(format!("{:011o}\0", KEY.len()).as_bytes());
        bytes[410..422].copy_from_slice(format!("{:011o}\0", 8192).as_bytes());
        bytes[422..434].copy_from_slice(format!("{:011o}\0", 0).as_bytes());
        bytes[482] = 0;
        bytes[483..495].copy_from_slice(format!("{:011o}\0", 8192).as_bytes());
    }
    sparse.set_cksum();
    for (block, data) in [
        (sparse, KEY.as_bytes()),
        (
            header("srv/tls/vendor.pem", b'Z', KEY.len() as u64),
            KEY.as_bytes(),
        ),
    ] {
        tar.extend_from_slice(block.as_bytes());
        tar.extend_from_slice(data);
        tar.resize(tar.len().next_multiple_of(512), 0);
    }
    tar.resize(tar.len() + 1024, 0);
    gzip(&tar)
}

/// A small, valid image whose one layer blob is then replaced by `stand_in`.
fn layout_with_layer_replaced(at: &Path, stand_in: &dyn Fn(&Path)) -> PathBuf {
    let image = Image::build(
        &json!({"User": "10001:10001"}),
        "amd64",
        &[vec![dir("/app"), file("/app/main.py", "app = 1\n")]],
        Compression::Gzip,
    );
    let path = at.join("image");
    image_writer::write_layout(&path, &[(&image, None)]);
    let blob = path.join("blobs/sha256").join(&image.layers[0]);
    fs::remove_file(&blob).unwrap();
    stand_in(&blob);
    path
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// An index.json listing `fan` copies of a nested index that lists `fan` manifests.
fn fan_out_layout(at: &Path, fan: usize) -> PathBuf {
    let path = at.join("image");
    fs::create_dir_all(path.join("blobs/sha256")).unwrap();
    fs::write(path.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let manifest = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": format!("sha256:{}", "0".repeat(64)), "size": 1,
        "platform": {"os": "linux", "architecture": "amd64"}});
    let nested =
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": vec![manifest; fan]})).unwrap();
    let hex = sha256(&nested);
    fs::write(path.join("blobs/sha256").join(&hex), &nested).unwrap();
    let entry = json!({"mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": format!("sha256:{hex}"), "size": nested.len()});
    let index = json!({"schemaVersion": 2, "manifests": vec![entry; fan]});
    fs::write(path.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    path
}

/// A config whose Env has `count` distinct variables.
fn many_env_layout(at: &Path, count: usize) -> PathBuf {
    let env: Vec<String> = (0..count).map(|i| format!("V{i}=x")).collect();
    let layer = gzip(&image_writer::layer_tar(&[dir("/app")]));
    layout_of(at, &[layer], &json!({"User": "10001:10001", "Env": env}))
}

/// Every hostile image of the suite, by name: what the benchmark runs verify on.
/// Makes one case's image under a directory; returns its path.
type Make = Box<dyn Fn(&Path) -> PathBuf>;

fn verify_cases() -> Vec<(&'static str, Make)> {
    vec![
        (
            "gnu-long-name-1gib",
            Box::new(|at| layout_of(at, &[special_header_layer(b'L', 1 << 30)], &json!({}))),
        ),
        (
            "pax-header-1gib",
            Box::new(|at| layout_of(at, &[special_header_layer(b'x', 1 << 30)], &json!({}))),
        ),
        ("index-fan-out", Box::new(|at| fan_out_layout(at, 20_000))),
        (
            "blob-links-to-dev-zero",
            Box::new(|at| {
                layout_with_layer_replaced(at, &|blob| {
                    std::os::unix::fs::symlink("/dev/zero", blob).unwrap();
                })
            }),
        ),
        (
            "blob-is-a-fifo",
            Box::new(|at| layout_with_layer_replaced(at, &mkfifo)),
        ),
        (
            "zstd-bomb",
            Box::new(|at| layout_of(at, &[zstd_bomb_layer(100_000)], &json!({}))),
        ),
        (
            "env-300k-entries",
            Box::new(|at| many_env_layout(at, 300_000)),
        ),
        (
            "sparse-and-unknown-type-keys",
            Box::new(|at| layout_of(at, &[sparse_key_layer()], &json!({}))),
        ),
    ]
}

fn case(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (_, make) = verify_cases()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap();
    let path = make(tmp.path());
    (tmp, path)
}

/// A GNU long name of 1 GiB in a 1 MB gzip layer was read whole: out of memory under the
/// limit (4.2 GB of RSS for 4 GiB without one).
#[test]
fn a_gnu_long_name_of_a_gibibyte_ends_the_layer_not_the_memory() {
    let (_tmp, image) = case("gnu-long-name-1gib");
    verify(&image).expect(
        1,
        &[
            "a GNU long name of 1073741824 bytes; fabuild reads at most 65536",
            "not every file could be checked",
        ],
    );
}

#[test]
fn a_pax_header_of_a_gibibyte_ends_the_layer_not_the_memory() {
    let (_tmp, image) = case("pax-header-1gib");
    verify(&image).expect(
        1,
        &["a PAX header of 1073741824 bytes; fabuild reads at most 1048576"],
    );
}

/// 20,000 copies of a nested index of 20,000 manifests: 400 million descriptors.
#[test]
fn an_index_fanning_out_is_refused_before_it_is_walked() {
    let (_tmp, image) = case("index-fan-out");
    verify(&image).expect(
        2,
        &["index.json lists 20000 manifests; fabuild reads at most 1024"],
    );
}

#[test]
fn a_layer_blob_that_is_a_link_to_dev_zero_or_a_fifo_is_named_not_read() {
    for (name, why) in [
        ("blob-links-to-dev-zero", "it is a symbolic link"),
        ("blob-is-a-fifo", "it is not a regular file"),
    ] {
        let (_tmp, image) = case(name);
        let verdict = verify(&image);
        verdict.expect(1, &["integrity", why]);
        assert!(
            verdict.said.contains("layer 1 of 1"),
            "{name}: {}",
            verdict.said
        );
    }
}

/// 400 KB of zstd that decompresses to 13 GB: stopped at 2048 times the blob's size.
#[test]
fn a_zstd_bomb_is_stopped_at_a_bounded_ratio() {
    let (_tmp, image) = case("zstd-bomb");
    verify(&image).expect(1, &["decompresses to more than", "a decompression bomb"]);
}

/// 300,000 variables in Env (3.4 MiB): each was looked for among all before it (quadratic).
#[test]
fn a_config_of_300k_env_entries_is_read_in_one_pass() {
    let (_tmp, image) = case("env-300k-entries");
    verify(&image).expect(1, &["PYTHONUNBUFFERED is not set"]);
}

/// Keys in members a runtime extracts as files: a GNU sparse file and an unknown type.
#[test]
fn keys_in_sparse_and_unknown_type_members_are_found() {
    let (_tmp, image) = case("sparse-and-unknown-type-keys");
    verify(&image).expect(
        1,
        &[
            "/srv/tls/server.pem (layer 1 of 1) holds a PEM private key block",
            "/srv/tls/vendor.pem (layer 1 of 1) holds a PEM private key block",
        ],
    );
}

/// A gzip layer holding one file of `mib` MiB (half pseudo-random bytes, which do not
/// compress, half a repeated text, which does), streamed to `out`; returns the blob's and
/// the tar's sha256 and the blob's size.
fn big_layer(out: &Path, mib: u64) -> (String, String, u64) {
    use sha2::Digest as _;
    struct Tee<W> {
        inner: W,
        hasher: sha2::Sha256,
        len: u64,
    }
    impl<W: std::io::Write> std::io::Write for Tee<W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = self.inner.write(buf)?;
            self.hasher.update(&buf[..n]);
            self.len += n as u64;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    let blob = Tee {
        inner: std::io::BufWriter::new(fs::File::create(out).unwrap()),
        hasher: sha2::Sha256::new(),
        len: 0,
    };
    let gz = flate2::write::GzEncoder::new(blob, flate2::Compression::fast());
    let mut tar = Tee {
        inner: gz,
        hasher: sha2::Sha256::new(),
        len: 0,
    };
    let size = mib << 20;
    std::io::Write::write_all(&mut tar, header("data/big.bin", b'0', size).as_bytes()).unwrap();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut chunk = vec![0u8; 1 << 20];
    for i in 0..mib {
        if i % 2 == 0 {
            for word in chunk.chunks_exact_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.to_le_bytes());
            }
        } else {
            for (j, b) in chunk.iter_mut().enumerate() {
                *b = b"the quick brown fox jumps over the lazy dog\n"[j % 44];
            }
        }
        std::io::Write::write_all(&mut tar, &chunk).unwrap();
    }
    std::io::Write::write_all(&mut tar, &[0u8; 1024]).unwrap();
    let diff = format!("{:x}", tar.hasher.finalize());
    let mut blob = tar.inner.finish().unwrap();
    std::io::Write::flush(&mut blob).unwrap();
    (format!("{:x}", blob.hasher.finalize()), diff, blob.len)
}

/// `image` (a layout written by `image_writer`) with a big layer added on top.
fn add_big_layer(image: &Path, mib: u64) {
    let tmp = image.join("blobs/sha256/big.tmp");
    let (hex, diff, size) = big_layer(&tmp, mib);
    fs::rename(&tmp, image.join("blobs/sha256").join(&hex)).unwrap();
    edit_image(image, &|manifest, config| {
        config["rootfs"]["diff_ids"]
            .as_array_mut()
            .unwrap()
            .push(json!(format!("sha256:{diff}")));
        manifest["layers"].as_array_mut().unwrap().push(json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": format!("sha256:{hex}"),
            "size": size,
        }));
    });
}

/// Rewrites the manifest and config of the image at `image` (a one-image layout) with
/// `edit`, then the digests that name them.
fn edit_image(image: &Path, edit: &dyn Fn(&mut Value, &mut Value)) {
    let read = |hex: &str| -> Value {
        serde_json::from_slice(&fs::read(image.join("blobs/sha256").join(hex)).unwrap()).unwrap()
    };
    let put = |value: &Value| -> (String, usize) {
        let bytes = serde_json::to_vec(value).unwrap();
        let hex = sha256(&bytes);
        fs::write(image.join("blobs/sha256").join(&hex), &bytes).unwrap();
        (hex, bytes.len())
    };
    let mut index: Value =
        serde_json::from_slice(&fs::read(image.join("index.json")).unwrap()).unwrap();
    let digest = |v: &Value| {
        v["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_owned()
    };
    let mut manifest = read(&digest(&index["manifests"][0]));
    let mut config = read(&digest(&manifest["config"]));
    edit(&mut manifest, &mut config);
    let (config_hex, config_size) = put(&config);
    manifest["config"]["digest"] = json!(format!("sha256:{config_hex}"));
    manifest["config"]["size"] = json!(config_size);
    let (manifest_hex, manifest_size) = put(&manifest);
    index["manifests"][0]["digest"] = json!(format!("sha256:{manifest_hex}"));
    index["manifests"][0]["size"] = json!(manifest_size);
    fs::write(
        image.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
}

/// Copies a build test project (its spec, code and base) to `at`.
fn keep_project(project: &Project, at: &Path) {
    fs::create_dir_all(at).unwrap();
    for (from, to) in [(&project.root, "project"), (&project.base, "base")] {
        let status = Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(at.join(to))
            .status()
            .unwrap();
        assert!(status.success());
    }
    fs::write(at.join("wheels"), project.wheels.to_str().unwrap()).unwrap();
}

/// The sparse formats GNU tar writes: old GNU (`S`), PAX 0.0, 0.1 and 1.0.
const GNU_TAR_SPARSE: [(&str, &[&str]); 4] = [
    ("gnu", &["--format=gnu"]),
    ("pax-0.0", &["--format=posix", "--sparse-version=0.0"]),
    ("pax-0.1", &["--format=posix", "--sparse-version=0.1"]),
    ("pax-1.0", &["--format=posix", "--sparse-version=1.0"]),
];

/// A 128 KiB file with holes around a PEM key at 32 KiB, archived by GNU tar (`-S`) in
/// each sparse format; returns (format, tar bytes) and the file's content.
fn gnu_tar_sparse_archives(at: &Path) -> (Vec<(&'static str, Vec<u8>)>, Vec<u8>) {
    use std::io::{Seek, SeekFrom, Write};
    let src = at.join("src");
    fs::create_dir_all(src.join("srv")).unwrap();
    let mut file = fs::File::create(src.join("srv/key.pem")).unwrap();
    file.seek(SeekFrom::Start(32 << 10)).unwrap();
    file.write_all(KEY.as_bytes()).unwrap();
    file.set_len(128 << 10).unwrap();
    let content = fs::read(src.join("srv/key.pem")).unwrap();
    let archives = GNU_TAR_SPARSE
        .iter()
        .map(|(name, args)| {
            let archive = at.join(format!("{name}.tar"));
            let status = Command::new("tar")
                .arg("-S")
                .arg("-C")
                .arg(&src)
                .args(*args)
                .arg("-cf")
                .arg(&archive)
                .arg("srv")
                .status()
                .unwrap();
            assert!(status.success(), "GNU tar {args:?}");
            (*name, fs::read(&archive).unwrap())
        })
        .collect();
    (archives, content)
}

/// GNU tar's own sparse members: the old GNU `S` member was not read as a file, and the
/// PAX ones were named `GNUSparseFile.N/...`.
#[test]
fn keys_in_sparse_files_as_gnu_tar_writes_them_are_found_under_their_names() {
    let tmp = tempfile::tempdir().unwrap();
    let (archives, _) = gnu_tar_sparse_archives(tmp.path());
    for (name, tar) in archives {
        let image = layout_of(&tmp.path().join(name), &[gzip(&tar)], &json!({}));
        let verdict = verify(&image);
        assert!(
            verdict
                .said
                .contains("/srv/key.pem (layer 1 of 1) holds a PEM private key block"),
            "{name}: {}",
            verdict.said
        );
    }
}

/// Writes every image of the suite under `$FABUILD_ATTACK_DIR/verify/<case>/image`, and
/// the build cases (a project, its base, the path of its wheels) under
/// `$FABUILD_ATTACK_DIR/build/<case>`, for `benches/attack.sh`. `FABUILD_ATTACK_MIB` sets
/// the size of the big layer cases (default 1024).
#[test]
#[ignore = "writes the attack suite for benches/attack.sh"]
fn write_the_attack_suite() {
    let out = PathBuf::from(std::env::var_os("FABUILD_ATTACK_DIR").expect("FABUILD_ATTACK_DIR"));
    let mib: u64 = std::env::var("FABUILD_ATTACK_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    for (name, make) in verify_cases() {
        let at = out.join("verify").join(name);
        fs::create_dir_all(&at).unwrap();
        make(&at);
    }
    let at = out.join("verify/layer-1gib");
    fs::create_dir_all(&at).unwrap();
    let good = at.join("image");
    let image = Image::build(
        &json!({"User": "10001:10001"}),
        "amd64",
        &[vec![dir("/app"), file("/app/main.py", "app = 1\n")]],
        Compression::Gzip,
    );
    image_writer::write_layout(&good, &[(&image, None)]);
    add_big_layer(&good, mib);

    let project = Project::new();
    keep_project(&project, &out.join("build/clean-base"));
    keep_project(&project, &out.join("build/base-1gib-layer"));
    add_big_layer(&out.join("build/base-1gib-layer/base"), mib);
    keep_project(&project, &out.join("build/base-env-300k-entries"));
    edit_image(
        &out.join("build/base-env-300k-entries/base"),
        &|_, config| {
            config["config"]["Env"] = (0..300_000).map(|i| json!(format!("V{i}=x"))).collect();
        },
    );
    keep_project(&project, &out.join("build/swapped-base-layer"));
    swap_first_layer(&out.join("build/swapped-base-layer/base"));
    keep_project(&project, &out.join("build/base-blob-is-a-link"));
    link_first_layer(&out.join("build/base-blob-is-a-link/base"));
}

// ---- build --base

/// The first layer of the base's manifest: (manifest, blob path).
fn first_base_layer(base: &Path) -> PathBuf {
    let index: Value = serde_json::from_slice(&fs::read(base.join("index.json")).unwrap()).unwrap();
    let manifest_hex = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let manifest: Value =
        serde_json::from_slice(&fs::read(base.join("blobs/sha256").join(manifest_hex)).unwrap())
            .unwrap();
    let hex = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    base.join("blobs/sha256").join(hex)
}

/// Replaces the base's first layer blob with one whose /etc/passwd has a passwordless
/// root, keeping the blob's name.
fn swap_first_layer(base: &Path) {
    let blob = first_base_layer(base);
    let swapped = image_writer::layer_tar(&[
        dir("/etc"),
        file("/etc/passwd", "root::0:0:root:/root:/bin/bash\n"),
        file("/etc/group", "root:x:0:\n"),
        dir("/usr"),
        dir("/usr/bin"),
        file("/usr/bin/python3.11", "not really python"),
    ]);
    fs::write(&blob, gzip(&swapped)).unwrap();
}

/// Moves the base's first layer blob out of the layout, leaving a link to it.
fn link_first_layer(base: &Path) {
    let blob = first_base_layer(base);
    let outside = base.with_file_name("moved-out-blob");
    fs::rename(&blob, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &blob).unwrap();
}

fn build(project: &Project, out: &str, extra: &[&str]) -> Verdict {
    let mut args = vec![
        "build",
        "app.yaml",
        "--base",
        project.base.to_str().unwrap(),
        "--wheels",
        project.wheels.to_str().unwrap(),
    ];
    let out_path = project.path(out);
    args.extend(["--out", out_path.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let output = bounded(&project.root, &args);
    Verdict {
        code: output.status.code(),
        said: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// The identity layer's /etc/passwd in the image at `out`.
fn built_passwd(project: &Project, out: &str) -> String {
    let (_, manifest) = project.manifest(out);
    let layers = crate::build::layer_digests(&manifest);
    // Base layers, then dependencies, identity, app.
    let identity = project.blob(out, &layers[layers.len() - 2]);
    let files = layer_files(&identity);
    let passwd = files.iter().find(|f| f.0 == "etc/passwd").unwrap();
    String::from_utf8(passwd.4.clone()).unwrap()
}

/// A base layer swapped for one with a passwordless root reached the image unchecked.
#[test]
fn a_swapped_base_layer_is_refused() {
    let project = Project::new();
    swap_first_layer(&project.base);
    let verdict = build(&project, "img", &["--no-cache"]);
    verdict.expect(2, &["layer 1 of 3", "its descriptor says"]);
    assert!(!project.path("img").exists(), "an image was written");
}

/// A blob that is a link (here to the real blob, moved out of the layout) was hard-linked
/// as a link, and the archive then carried whatever the link pointed at.
#[test]
fn a_base_blob_that_is_a_link_is_refused() {
    let project = Project::new();
    link_first_layer(&project.base);
    let verdict = build(
        &project,
        "img.tar",
        &["--no-cache", "--format", "oci-archive"],
    );
    verdict.expect(2, &["it is a symbolic link"]);
    assert!(!project.path("img.tar").exists(), "an image was written");
}

/// A base config of 300,000 Env entries (3.4 MiB) was held four times over (as typed
/// config, as JSON, as a copy, as pairs): 110 MB of peak RSS for `build --base`.
#[test]
fn a_base_config_of_300k_env_entries_is_built_on_under_64_mib() {
    let project = Project::new();
    edit_image(&project.base, &|_, config| {
        config["config"]["Env"] = (0..300_000).map(|i| json!(format!("V{i}=x"))).collect();
    });
    let peak = project.path("peak-kib");
    let time = Path::new("/usr/bin/time");
    assert!(time.exists(), "GNU time is needed: apt-get install time");
    let output = Command::new(time)
        .args(["-f", "%M", "-o"])
        .arg(&peak)
        .args(["timeout", "-s", "KILL", HANG_SECONDS])
        .arg(env!("CARGO_BIN_EXE_fabuild"))
        .args(["build", "app.yaml", "--no-cache", "--base"])
        .arg(&project.base)
        .arg("--wheels")
        .arg(&project.wheels)
        .arg("--out")
        .arg(project.path("img"))
        .current_dir(&project.root)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let kib: u64 = fs::read_to_string(&peak).unwrap().trim().parse().unwrap();
    assert!(kib < 64 * 1024, "peak RSS {kib} KiB");
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// An edited base-facts entry in the cache put a root account into /etc/passwd.
#[test]
fn an_edited_cache_entry_is_a_miss_with_a_note_never_an_input() {
    let project = Project::new();
    let cache = project.path("cache");
    let cache_arg = cache.to_str().unwrap().to_owned();
    build(&project, "one", &["--cache-dir", &cache_arg]).expect(0, &[]);
    let mut edited = 0;
    for path in files_under(&cache.join("base")) {
        let Ok(mut facts) = serde_json::from_slice::<Value>(&fs::read(&path).unwrap()) else {
            continue;
        };
        let Some(passwd) = facts["passwd"].as_str() else {
            continue;
        };
        facts["passwd"] = json!(format!("{passwd}evil:x:0:0::/root:/bin/sh\n"));
        fs::write(&path, serde_json::to_vec(&facts).unwrap()).unwrap();
        edited += 1;
    }
    assert_eq!(edited, 1, "no base-facts entry in the cache");
    let verdict = build(&project, "two", &["--cache-dir", &cache_arg]);
    verdict.expect(0, &["note: the cache entry", "does not hash to its name"]);
    let passwd = built_passwd(&project, "two");
    assert!(!passwd.contains("evil"), "{passwd}");
    assert_eq!(project.manifest("one").0, project.manifest("two").0);
}

/// The files of the cache named after their sha256 (entries and blobs) hash to their names.
fn assert_cache_whole(cache: &Path) {
    for path in files_under(cache) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            assert_eq!(
                sha256(&fs::read(&path).unwrap()),
                name,
                "{}",
                path.display()
            );
        }
    }
}

/// Two builds sharing a cold cache, and builds killed at random moments: every later build
/// gives the same image (into the killed build's --out too), and every cache file and
/// layout blob still hashes to its name.
#[test]
fn the_cache_survives_concurrent_builds_and_kill_9() {
    let project = Project::new();
    build(&project, "reference", &["--no-cache"]).expect(0, &[]);
    let want = project.manifest("reference").0;
    let cache = project.path("cache");
    let cache_arg = cache.to_str().unwrap().to_owned();
    std::thread::scope(|s| {
        let runs: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|out| {
                let (project, cache_arg) = (&project, &cache_arg);
                s.spawn(move || build(project, out, &["--cache-dir", cache_arg]))
            })
            .collect();
        for run in runs {
            run.join().unwrap().expect(0, &[]);
        }
    });
    assert_eq!(project.manifest("a").0, want);
    assert_eq!(project.manifest("b").0, want);
    assert_cache_whole(&cache);

    let mut seed = u64::from(std::process::id());
    for round in 0..6 {
        // A fresh cache every other round, so that kills land while it is being written.
        if round % 2 == 0 {
            let _ = fs::remove_dir_all(&cache);
        }
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let delay = (seed >> 33) % 1500;
        let mut child = crate::util::fabuild(&project.root)
            .args(["build", "app.yaml", "--base"])
            .arg(&project.base)
            .arg("--wheels")
            .arg(&project.wheels)
            .arg("--out")
            .arg(project.path("killed"))
            .args(["--cache-dir", &cache_arg])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill();
        child.wait().unwrap();
        assert_cache_whole(&cache);
        let out = format!("after-{round}");
        build(&project, &out, &["--cache-dir", &cache_arg]).expect(0, &[]);
        assert_eq!(
            project.manifest(&out).0,
            want,
            "round {round}, killed after {delay} ms"
        );
        // The --out the killed build was writing, with the stamps of the blobs it kept
        // (from an earlier round) or had recorded when killed: built into again, the same
        // image, every blob hashing to its name.
        build(&project, "killed", &["--cache-dir", &cache_arg]).expect(0, &[]);
        assert_eq!(
            project.manifest("killed").0,
            want,
            "round {round}, killed after {delay} ms, built again"
        );
        assert_cache_whole(&project.path("killed"));
    }
}

#[test]
fn the_generators_make_what_they_say() {
    // The bomb's RLE blocks really decompress to zeros, and the long name layer really
    // claims its size: the other tests' verdicts are about these shapes.
    let bomb = zstd_bomb_layer(4);
    let mut tar_header = Vec::new();
    let mut first = ruzstd::decoding::StreamingDecoder::new(&bomb[..]).unwrap();
    std::io::Read::read_to_end(&mut first, &mut tar_header).unwrap();
    assert_eq!(tar_header.len(), 512);
    let mut rest = Vec::new();
    let frame = &bomb[bomb.len() - 4 * 4 - 6..];
    let mut second = ruzstd::decoding::StreamingDecoder::new(frame).unwrap();
    std::io::Read::read_to_end(&mut second, &mut rest).unwrap();
    assert_eq!(rest.len(), 4 << 17);
    assert!(rest.iter().all(|b| *b == 0));
}
