//! `fabuild build`: an OCI image straight from the plan, without a container engine, the
//! same to the byte from the same inputs.
//!
//! The base's layers (reused as they are), then three layers: dependencies (a virtualenv
//! from platform wheels, cached), identity (passwd/group with the numeric user) and app
//! (the context, root-owned); then config, manifest and index, written as an OCI layout or
//! an oci-archive.

pub mod base;
pub mod compare;
pub mod deps;
pub mod ignore;
pub mod publish;
pub mod spool;
pub mod strip;
pub mod wheel;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::exit::{CommandError, ExitStatus};
use crate::generate::{self, GenError};
use crate::layout::{APP_DIR, FABUILD_DIR};
use crate::oci::OciError;
use crate::oci::content::Content;
use crate::oci::digest::Sum;
use crate::oci::writer::{
    Layout, MEDIA_CONFIG, MEDIA_INDEX, MEDIA_LAYER_GZIP, MEDIA_MANIFEST, Tree, WrittenLayer,
    canonical_json,
};
use crate::plan::Plan;
use crate::read::MAX_TEXT_BYTES;
use crate::render;
use crate::spec::ImageRef;
pub use deps::WheelSource;

/// The mtime of the dependency and identity layers. They do not depend on the app's
/// commit, so a new commit must not change them: registries and caches keep them.
const STABLE_MTIME: u64 = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutFormat {
    Oci,
    OciArchive,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// The base image: an OCI layout directory or an oci-archive.
    pub base: PathBuf,
    pub out: PathBuf,
    pub format: OutFormat,
    /// The base's name for the labels (`org.opencontainers.image.base.name`); the spec's
    /// `python.base_image` when `None`.
    pub base_image: Option<ImageRef>,
    pub wheels: WheelSource,
    /// Where the dependency layer and the base's facts are cached; `None`: no cache.
    pub cache: Option<PathBuf>,
    /// `org.opencontainers.image.ref.name` in index.json.
    pub tag: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Gen(#[from] GenError),
    #[error(transparent)]
    Oci(#[from] OciError),
    #[error("the base {path} cannot be built on: {why}")]
    Base { path: String, why: String },
    #[error("dependencies: {0}")]
    Deps(String),
    #[error("{path}: {why}")]
    Io { path: String, why: String },
    #[error("{0}")]
    Other(String),
}

impl BuildError {
    pub fn io(path: &Path, e: &impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.display().to_string(),
            why: e.to_string(),
        }
    }
}

impl CommandError for BuildError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Gen(e) => e.exit_status(),
            _ => ExitStatus::Error,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            Self::Gen(e) => e.help(),
            _ => None,
        }
    }
}

/// One layer fabuild added.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AddedLayer {
    pub role: &'static str,
    #[serde(flatten)]
    pub layer: WrittenLayer,
}

/// What a build wrote.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Built {
    pub out: PathBuf,
    pub manifest_digest: String,
    pub config_digest: String,
    pub base_manifest_digest: String,
    pub python: String,
    pub python_version: String,
    pub source_date_epoch: u64,
    pub deps_cached: bool,
    pub layers: Vec<AddedLayer>,
    pub notes: Vec<String>,
}

/// Builds the image for the spec at `spec_path`.
pub fn build(spec_path: &Path, options: &Options) -> Result<Built, BuildError> {
    let generation = generate::prepare(
        spec_path,
        &generate::Options {
            base_image: options.base_image.clone(),
            ..generate::Options::default()
        },
    )?;
    let plan = &generation.plan;
    let project = crate::spec::project_dir(spec_path);
    let rendered = |name: &str| {
        generation
            .changes
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.new.clone())
    };
    let mut notes = Vec::new();

    let base = base::open(&options.base, options.cache.as_deref())?;
    let base_digest = base.image.manifest_digest.clone().unwrap_or_default();
    let facts = &base.facts;
    let base_ref = check_base(plan, &base, options, &mut notes)?;
    let epoch = source_date_epoch(&project);

    // Staged next to the destination, then published: a failed or killed build leaves the
    // previous image alone (see publish.rs).
    match options.format {
        OutFormat::Oci => publish::check_layout_out(&options.out)?,
        OutFormat::OciArchive => publish::check_archive_out(&options.out)?,
    }
    let staging = publish::Staging::create(&options.out)?;
    let layout_dir = staging.path().join("layout");
    let layout = Layout::create(&layout_dir).map_err(|e| BuildError::io(&layout_dir, &e))?;

    copy_base_layers(&base, &options.base, &layout)?;

    let runtime_files = runtime_files(&rendered);
    let input = deps::DepsInput {
        plan,
        project: &project,
        python: &facts.python,
        python_version: &facts.python_version,
        source: &options.wheels,
        runtime_files,
    };
    let (deps_layer, deps_cached) =
        deps_layer(&input, options.cache.as_deref(), &layout, staging.path())?;
    if !deps_cached {
        notes.extend(unhashed_note(plan, &project, &options.wheels));
    }

    let identity = identity_tree(plan, facts)?;
    let identity_layer = put_layer(&layout, &identity, STABLE_MTIME)?;

    let ignore_file = project.join(".dockerignore");
    let ignore_text = crate::read::project_text(&project, &ignore_file, MAX_TEXT_BYTES)
        .map_err(|e| BuildError::io(&ignore_file, &e))?
        .or_else(|| rendered(".dockerignore"))
        .unwrap_or_default();
    let skip = [
        Some(&options.out),
        options.cache.as_ref(),
        Some(&staging.path().to_path_buf()),
    ];
    // The writable directories are the identity layer's: the context's copy (a developer's
    // local state) stays out, as the .dockerignore `gen` writes has it.
    let mut ignore_text = ignore_text;
    for dir in plan.writable.iter().filter_map(|d| d.context_path.as_ref()) {
        ignore_text.push_str(&format!("\n{dir}\n"));
    }
    let app = app_tree(&project, &ignore::Ignore::parse(&ignore_text), &skip)?;
    let app_layer = put_layer(&layout, &app, epoch)?;

    let layers: Vec<AddedLayer> = [
        ("dependencies", deps_layer),
        ("identity", identity_layer),
        ("app", app_layer),
    ]
    .into_iter()
    .map(|(role, layer)| AddedLayer { role, layer })
    .collect();
    let base_name = base_ref.map_or_else(|| plan.base_image.clone(), |r| r.without_digest());
    let (config_sum, manifest_sum) = write_metadata(
        &layout,
        &Metadata {
            plan,
            base: &base,
            base_name: &base_name,
            base_digest: &base_digest,
            layers: &layers,
            epoch,
            tag: &options.tag,
        },
    )?;

    finish(options, &layout_dir, staging.path(), epoch)?;
    Ok(Built {
        out: options.out.clone(),
        manifest_digest: manifest_sum.digest(),
        config_digest: config_sum.digest(),
        base_manifest_digest: base_digest,
        python: facts.python.clone(),
        python_version: facts.python_version.clone(),
        source_date_epoch: epoch,
        deps_cached,
        layers,
        notes,
    })
}

/// fabuild's own files in the image, as `gen` renders them: (path, content).
fn runtime_files(rendered: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    let mut files = vec![(
        format!("{FABUILD_DIR}/bin/gunicorn"),
        rendered(render::PREFLIGHT).unwrap_or_default(),
    )];
    if let Some(health) = rendered(render::HEALTHCHECK) {
        files.push((format!("{FABUILD_DIR}/healthcheck.py"), health));
    }
    files
}

/// Puts the finished layout where `--out` says, as a directory or an archive.
fn finish(
    options: &Options,
    layout_dir: &Path,
    staging: &Path,
    epoch: u64,
) -> Result<(), BuildError> {
    match options.format {
        OutFormat::Oci => publish::publish_layout(layout_dir, &options.out),
        OutFormat::OciArchive => {
            let tar_path = staging.join("image.tar");
            write_archive(layout_dir, &tar_path, epoch)?;
            publish::publish_archive(&tar_path, &options.out)
        }
    }
}

/// The base against the spec: the Python it has, the digest the spec pins.
fn check_base(
    plan: &Plan,
    base: &base::Base,
    options: &Options,
    notes: &mut Vec<String>,
) -> Result<Option<ImageRef>, BuildError> {
    let facts = &base.facts;
    let base_digest = base.image.manifest_digest.clone().unwrap_or_default();
    if facts.python_version != plan.python_version {
        notes.push(format!(
            "the spec says Python {}, the base has {} ({}): the wheels are for {}",
            plan.python_version, facts.python_version, facts.python, facts.python_version
        ));
    }
    let base_ref = options
        .base_image
        .clone()
        .or_else(|| ImageRef::parse(&plan.base_image));
    if let Some(pinned) = base_ref.as_ref().and_then(|r| r.digest.clone())
        && pinned != base_digest
    {
        return Err(BuildError::Base {
            path: options.base.display().to_string(),
            why: format!("the spec pins the base at {pinned}, this base is {base_digest}"),
        });
    }
    Ok(base_ref)
}

/// Says so when the app's requirements were resolved against the index, not hash-locked.
fn unhashed_note(plan: &Plan, project: &Path, wheels: &WheelSource) -> Option<String> {
    let rel = plan.app_dependencies.requirements()?;
    if !matches!(wheels, WheelSource::Pip(_)) {
        return None;
    }
    let req = project.join(rel);
    let text = crate::read::text(&req, MAX_TEXT_BYTES).ok()?;
    (!text.contains("--hash")).then(|| format!(
        "{} has no hashes: pip resolved it against the index, so the dependency layer is only as reproducible as the index (the cache keeps this resolution)",
        req.display()
    ))
}

/// What the config, manifest and index are made from.
struct Metadata<'a> {
    plan: &'a Plan,
    base: &'a base::Base,
    base_name: &'a str,
    base_digest: &'a str,
    layers: &'a [AddedLayer],
    epoch: u64,
    tag: &'a str,
}

/// Writes the config and manifest blobs and index.json; returns the two blobs' sums.
fn write_metadata(layout: &Layout, m: &Metadata) -> Result<(Sum, Sum), BuildError> {
    let (plan, base, base_name, base_digest, layers, epoch) = (
        m.plan,
        m.base,
        m.base_name,
        m.base_digest,
        m.layers,
        m.epoch,
    );
    let layout_dir = &layout.dir;
    let config = config_json(plan, &base.config, layers, epoch, base_digest);
    let config_bytes = canonical_json(&config);
    let config_sum = layout
        .put_blob(&config_bytes)
        .map_err(|e| BuildError::io(layout_dir, &e))?;

    let mut manifest_layers: Vec<Value> = base.manifest["layers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for added in layers {
        manifest_layers.push(json!({
            "mediaType": MEDIA_LAYER_GZIP,
            "digest": added.layer.digest,
            "size": added.layer.size,
        }));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_sum.digest(), "size": config_sum.size},
        "layers": manifest_layers,
        "annotations": {
            "org.opencontainers.image.base.name": base_name,
            "org.opencontainers.image.base.digest": base_digest,
        },
    });
    let manifest_bytes = canonical_json(&manifest);
    let manifest_sum = layout
        .put_blob(&manifest_bytes)
        .map_err(|e| BuildError::io(layout_dir, &e))?;
    let index = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [{
            "mediaType": MEDIA_MANIFEST,
            "digest": manifest_sum.digest(),
            "size": manifest_sum.size,
            "platform": {"os": "linux", "architecture": "amd64"},
            "annotations": {"org.opencontainers.image.ref.name": m.tag},
        }],
    });
    layout
        .write_file("index.json", &canonical_json(&index))
        .map_err(|e| BuildError::io(layout_dir, &e))?;

    Ok((config_sum, manifest_sum))
}

fn put_layer(layout: &Layout, tree: &Tree, mtime: u64) -> Result<WrittenLayer, BuildError> {
    layout
        .put_layer(tree, mtime)
        .map_err(|e| BuildError::io(&layout.dir, &e))
}

/// The base's layers, byte for byte.
fn copy_base_layers(base: &base::Base, path: &Path, layout: &Layout) -> Result<(), BuildError> {
    for layer in &base.image.layers {
        let hex = layer
            .expected
            .as_ref()
            .and_then(|e| crate::oci::digest::sha256_hex(&e.digest))
            .ok_or_else(|| BuildError::Base {
                path: path.display().to_string(),
                why: format!("{} has no sha256 digest", layer.role),
            })?
            .to_owned();
        let result = if path.is_dir() {
            layout.put_blob_from(&path.join(&layer.name), &hex)
        } else {
            let opened = base
                .image
                .store
                .open(&layer.name)?
                .ok_or_else(|| BuildError::Base {
                    path: path.display().to_string(),
                    why: format!("{} is missing", layer.name),
                })?;
            let mut reader = opened.reader;
            layout.put_blob_reader(&mut reader, &hex)
        };
        result.map_err(|e| BuildError::io(&layout.dir, &e))?;
    }
    Ok(())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CachedLayer {
    layer: WrittenLayer,
}

/// The dependency layer, from the cache when everything it is made of is unchanged. The
/// wheels are downloaded and unpacked in `staging`, beside the output: on its file system,
/// not in a memory-backed /tmp, and cleaned with the staging area after a crash.
fn deps_layer(
    input: &deps::DepsInput,
    cache: Option<&Path>,
    layout: &Layout,
    staging: &Path,
) -> Result<(WrittenLayer, bool), BuildError> {
    let entry = match cache {
        Some(dir) => Some(dir.join("deps").join(input.key()?)),
        None => None,
    };
    if let Some(entry) = &entry
        && let Ok(bytes) = fs::read(entry.join("layer.json"))
        && let Ok(cached) = serde_json::from_slice::<CachedLayer>(&bytes)
    {
        let hex = cached.layer.digest.trim_start_matches("sha256:").to_owned();
        let blob = entry.join("blob");
        // A cache entry whose blob was changed is not used.
        if let Ok(file) = fs::File::open(&blob)
            && let Ok(sum) = crate::oci::digest::HashingReader::new(file).finish_draining()
            && sum.sha256 == hex
        {
            layout
                .put_blob_from(&blob, &hex)
                .map_err(|e| BuildError::io(&blob, &e))?;
            return Ok((cached.layer, true));
        }
    }
    let scratch = tempfile::tempdir_in(staging).map_err(|e| BuildError::io(staging, &e))?;
    let wheels = input.wheels(scratch.path())?;
    let tree = input.tree(&wheels, scratch.path())?;
    let layer = put_layer(layout, &tree, STABLE_MTIME)?;
    if let Some(entry) = entry {
        let hex = layer.digest.trim_start_matches("sha256:");
        let stored = fs::create_dir_all(&entry)
            .and_then(|()| {
                let tmp = entry.join("blob.tmp");
                fs::copy(layout.dir.join("blobs/sha256").join(hex), &tmp)?;
                fs::rename(&tmp, entry.join("blob"))
            })
            .and_then(|()| {
                let meta = serde_json::to_vec(&CachedLayer {
                    layer: layer.clone(),
                })
                .expect("serialises");
                fs::write(entry.join("layer.json"), meta)
            });
        // A cache that cannot be written only costs time on the next build.
        drop(stored);
    }
    Ok((layer, false))
}

/// /etc/passwd and /etc/group with the numeric user and group added (when the base lacks
/// them), and its home directory, as `useradd --create-home` leaves them; and the
/// directories the app writes (`app.writable`), the user's.
fn identity_tree(plan: &Plan, facts: &base::BaseFacts) -> Result<Tree, BuildError> {
    let field = |line: &str, n: usize| line.split(':').nth(n).map(str::to_owned);
    let has_id = |text: &str, id: u32| {
        text.lines()
            .any(|l| field(l, 2).is_some_and(|f| f == id.to_string()))
    };
    let has_name =
        |text: &str, name: &str| text.lines().any(|l| field(l, 0).as_deref() == Some(name));
    let with_line = |text: &str, line: String| {
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&line);
        out.push('\n');
        out
    };
    let mut group = facts.group.clone();
    if !has_id(&group, plan.gid) {
        if has_name(&group, "app") {
            return Err(BuildError::Other(format!(
                "the base's /etc/group has a group `app` that is not gid {}",
                plan.gid
            )));
        }
        group = with_line(&group, format!("app:x:{}:", plan.gid));
    }
    let mut passwd = facts.passwd.clone();
    if !has_id(&passwd, plan.uid) {
        if has_name(&passwd, "app") {
            return Err(BuildError::Other(format!(
                "the base's /etc/passwd has a user `app` that is not uid {}",
                plan.uid
            )));
        }
        passwd = with_line(
            &passwd,
            format!(
                "app:x:{}:{}::/home/app:/usr/sbin/nologin",
                plan.uid, plan.gid
            ),
        );
    }
    let mut tree = Tree::default();
    tree.file("etc/passwd", passwd.into_bytes(), false);
    tree.file("etc/group", group.into_bytes(), false);
    tree.dir_owned("home/app", 0o755, u64::from(plan.uid), u64::from(plan.gid));
    // As the Dockerfile's `install -d -o UID -g GID -m 0750`: missing parents root's.
    for dir in &plan.writable {
        tree.dir_owned(
            dir.path.trim_start_matches('/'),
            0o750,
            u64::from(plan.uid),
            u64::from(plan.gid),
        );
    }
    Ok(tree)
}

/// The build context as `COPY . /app` gives it, root-owned: files 0644 (0755 when
/// executable), directories 0755, symlinks as they are. Files are named, not read: the
/// layer writer streams them.
fn app_tree(
    project: &Path,
    ignore: &ignore::Ignore,
    skip: &[Option<&PathBuf>],
) -> Result<Tree, BuildError> {
    // The image itself, the cache and the staging area when they lie inside the context.
    let skip: Vec<PathBuf> = skip
        .iter()
        .flatten()
        .filter_map(|p| absolute(p).ok())
        .collect();
    let mut tree = Tree::default();
    let root = APP_DIR.trim_start_matches('/');
    tree.dir(root);
    let mut stack = vec![(project.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| BuildError::io(&dir, &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| BuildError::io(&dir, &e))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                return Err(BuildError::Other(format!(
                    "{} is not UTF-8; rename it",
                    path.display()
                )));
            };
            let staging_dir = name.starts_with(publish::STAGING_PREFIX);
            let rel_path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            // Other builds' staging directories, when --out is inside the context.
            if absolute(&path).is_ok_and(|a| skip.contains(&a)) || staging_dir {
                continue;
            }
            if ignore.excluded(&rel_path) {
                // Directories are still walked: a `!` pattern may bring back what is inside.
                if path.is_dir() && !path.is_symlink() && !ignore.excluded_for_good(&rel_path) {
                    stack.push((path, rel_path));
                }
                continue;
            }
            let meta = fs::symlink_metadata(&path).map_err(|e| BuildError::io(&path, &e))?;
            let target = format!("{root}/{rel_path}");
            if meta.file_type().is_symlink() {
                let link = fs::read_link(&path).map_err(|e| BuildError::io(&path, &e))?;
                tree.symlink(&target, &link.to_string_lossy());
            } else if meta.is_dir() {
                tree.dir(&target);
                stack.push((path, rel_path));
            } else if meta.is_file() {
                // Read when the layer is written, through a fixed buffer: a file of any size
                // costs no memory.
                tree.file_from(&target, Content::File(path), is_executable(&meta));
            }
        }
    }
    Ok(tree)
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o100 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &fs::Metadata) -> bool {
    false
}

/// The base's config with the plan's settings applied the way Dockerfile instructions
/// apply them: ENV replaces a variable in place or appends it, LABEL merges, CMD replaces.
fn config_json(
    plan: &Plan,
    base: &Value,
    layers: &[AddedLayer],
    epoch: u64,
    base_digest: &str,
) -> Value {
    let created = rfc3339(epoch);
    let mut config = base.clone();
    let root = config
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut root: Map<String, Value> = root;
    let mut inner = root
        .remove("config")
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();

    let mut env: Vec<(String, String)> = inner
        .get("Env")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (k.to_owned(), v.to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    for (key, value) in &plan.env {
        match env.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1.clone_from(value),
            None => env.push((key.clone(), value.clone())),
        }
    }
    inner.insert(
        "Env".to_owned(),
        env.iter()
            .map(|(k, v)| Value::from(format!("{k}={v}")))
            .collect(),
    );
    inner.insert(
        "User".to_owned(),
        Value::from(format!("{}:{}", plan.uid, plan.gid)),
    );
    inner.insert(
        "Cmd".to_owned(),
        plan.cmd.iter().map(|s| Value::from(s.as_str())).collect(),
    );
    inner.insert("WorkingDir".to_owned(), Value::from(APP_DIR));
    let mut ports = object(inner.remove("ExposedPorts"));
    ports.insert(format!("{}/tcp", plan.port), json!({}));
    inner.insert("ExposedPorts".to_owned(), Value::Object(ports));
    if let Some(dir) = &plan.tls_dir {
        let mut volumes = object(inner.remove("Volumes"));
        volumes.insert(dir.clone(), json!({}));
        inner.insert("Volumes".to_owned(), Value::Object(volumes));
    }
    let mut labels = object(inner.remove("Labels"));
    for (key, value) in &plan.labels {
        labels.insert(key.clone(), Value::from(value.as_str()));
    }
    labels
        .entry("org.opencontainers.image.base.digest")
        .or_insert_with(|| Value::from(base_digest));
    inner.insert("Labels".to_owned(), Value::Object(labels));
    root.insert("config".to_owned(), Value::Object(inner));

    root.insert("created".to_owned(), Value::from(created.as_str()));
    root.insert("architecture".to_owned(), Value::from("amd64"));
    root.insert("os".to_owned(), Value::from("linux"));
    let mut rootfs = object(root.remove("rootfs"));
    rootfs.insert("type".to_owned(), Value::from("layers"));
    let mut diff_ids = rootfs
        .remove("diff_ids")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    let mut history = root
        .remove("history")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    for added in layers {
        diff_ids.push(Value::from(added.layer.diff_id.as_str()));
        history.push(json!({
            "created": created,
            "created_by": format!("fabuild build: {} layer", added.role),
            "comment": format!("fabuild {}", crate::VERSION),
        }));
    }
    rootfs.insert("diff_ids".to_owned(), Value::Array(diff_ids));
    root.insert("rootfs".to_owned(), Value::Object(rootfs));
    root.insert("history".to_owned(), Value::Array(history));
    Value::Object(root)
}

fn object(value: Option<Value>) -> Map<String, Value> {
    value
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (UTC, whatever TZ says).
pub fn rfc3339(epoch: u64) -> String {
    let days = i64::try_from(epoch / 86_400).unwrap_or(0);
    let secs = epoch % 86_400;
    // Days to civil date (proleptic Gregorian), after H. Hinnant's public algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = String::new();
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    out
}

/// `SOURCE_DATE_EPOCH` from the environment, else the time of the last commit that touched
/// the project directory,
/// else 0.
pub fn source_date_epoch(project: &Path) -> u64 {
    if let Some(value) = std::env::var_os("SOURCE_DATE_EPOCH")
        && let Some(n) = value.to_str().and_then(|s| s.trim().parse().ok())
    {
        return n;
    }
    std::process::Command::new("git")
        .arg("-C")
        .arg(project)
        // The project's own last commit: in a monorepo, a commit elsewhere changes nothing.
        .args(["log", "-1", "--format=%ct", "--", "."])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    if path.exists() {
        path.canonicalize()
    } else {
        Ok(std::env::current_dir()?.join(path))
    }
}

/// The layout as one tar (an oci-archive), with the same rules as a layer: sorted, fixed
/// times and owners.
fn write_archive(layout: &Path, tar_path: &Path, epoch: u64) -> Result<(), BuildError> {
    let io = |e: std::io::Error| BuildError::io(tar_path, &e);
    let file = fs::File::create(tar_path).map_err(io)?;
    let mut builder = tar::Builder::new(std::io::BufWriter::new(file));
    let mut names = vec!["oci-layout".to_owned(), "index.json".to_owned()];
    let mut blobs: Vec<String> = fs::read_dir(layout.join("blobs/sha256"))
        .map_err(io)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .map(|n| format!("blobs/sha256/{n}"))
        .collect();
    blobs.sort();
    let mut dirs = vec!["blobs/".to_owned(), "blobs/sha256/".to_owned()];
    let mut all = Vec::new();
    all.append(&mut dirs);
    all.append(&mut blobs);
    all.append(&mut names);
    all.sort();
    for name in all {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(epoch);
        header.set_uid(0);
        header.set_gid(0);
        if name.ends_with('/') {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder
                .append_data(&mut header, &name, std::io::empty())
                .map_err(io)?;
        } else {
            let file = fs::File::open(layout.join(&name)).map_err(io)?;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o644);
            header.set_size(file.metadata().map_err(io)?.len());
            builder.append_data(&mut header, &name, file).map_err(io)?;
        }
    }
    builder
        .into_inner()
        .map_err(io)?
        .into_inner()
        .map_err(|e| io(e.into_error()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_formats_as_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
