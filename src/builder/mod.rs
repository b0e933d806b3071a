//! `fabuild build`: an OCI image straight from the plan, without a container engine, the
//! same to the byte from the same inputs.
//!
//! The base's layers (reused as they are), then three layers: dependencies (a virtualenv
//! from platform wheels, cached), identity (passwd/group with the numeric user) and app
//! (the context, root-owned); then config, manifest and index, written as an OCI layout or
//! an oci-archive.

mod apt;
pub mod base;
pub mod cache;
pub mod compare;
mod config;
pub mod deps;
pub mod env;
pub mod glibc;
pub mod ignore;
mod layers;
pub mod publish;
pub mod spool;
pub mod strip;
pub mod wheel;

use std::fs;
use std::path::{Path, PathBuf};

use crate::exit::{CommandError, ExitStatus};
use crate::generate::{self, GenError};
use crate::layout::FABUILD_DIR;
use crate::oci::OciError;
use crate::oci::writer::{Layout, WrittenLayer};
use crate::plan::Plan;
use crate::read::MAX_TEXT_BYTES;
use crate::render;
use crate::spec::ImageRef;
use config::{Metadata, write_metadata};
pub use deps::WheelSource;
use layers::{STABLE_MTIME, app_ignore, app_tree, deps_layer, identity_tree, put_layer};

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
    /// More paths to leave out of the app layer, like `out`: the first build's image when
    /// `--check-reproducible` builds again elsewhere.
    pub skip: Vec<PathBuf>,
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
    #[error(
        "app.collectstatic runs the project's code while the image builds; fabuild build never runs it"
    )]
    Collectstatic,
    #[error("the spec installs Debian packages with apt, which `fabuild build` does not run: {0}")]
    AptPackages(String),
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
            Self::Collectstatic => Some(
                "build with the generated Dockerfile instead (`fabuild gen`, then `buildah build` or `docker build`)"
                    .to_owned(),
            ),
            Self::AptPackages(_) => Some(
                "build this spec with its Dockerfile: `fabuild gen`, then `buildah build` or `docker build` (apt runs in the build stage, and only the run-time libraries reach the image); with python.build_packages alone, `--wheels DIR` of wheels built elsewhere also works".to_owned(),
            ),
            _ => None,
        }
    }
}

/// A plan with a step that runs the project's code (`app.collectstatic`) is for the
/// Dockerfile route: build writes layers, it never runs what it packs.
fn runs_nothing(plan: &crate::plan::Plan) -> Result<(), BuildError> {
    match plan.collectstatic {
        Some(_) => Err(BuildError::Collectstatic),
        None => Ok(()),
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
    /// The base's C library, which decided the manylinux wheels asked for.
    pub libc: base::Libc,
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
    runs_nothing(plan)?;
    apt::refuse(plan, &options.wheels)?;
    let project = crate::spec::project_dir(spec_path);
    let rendered = |name: &str| {
        generation
            .changes
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.new.clone())
    };
    let mut notes = Vec::new();

    let mut base = base::open(&options.base, options.cache.as_deref())?;
    notes.extend(base.warnings.iter().cloned());
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

    base.copy_layers(&options.base, &layout)?;

    let runtime_files = runtime_files(&rendered);
    let input = deps::DepsInput {
        plan,
        project: &project,
        python: &facts.python,
        python_version: &facts.python_version,
        glibc: facts.libc.glibc(),
        source: &options.wheels,
        runtime_files,
    };
    let (deps_layer, deps_cached) = deps_layer(
        &input,
        options.cache.as_deref(),
        &layout,
        staging.path(),
        &mut notes,
    )?;
    if !deps_cached {
        notes.extend(unhashed_note(plan, &project, &options.wheels));
    }

    let identity = identity_tree(plan, facts)?;
    let identity_layer = put_layer(&layout, &identity, STABLE_MTIME)?;

    let ignore = app_ignore(plan, &project, rendered(".dockerignore"))?;
    let staged = staging.path().to_path_buf();
    let mut skip = vec![Some(&options.out), options.cache.as_ref(), Some(&staged)];
    skip.extend(options.skip.iter().map(Some));
    let app = app_tree(&project, &ignore, &skip)?;
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
    // Moved, not copied: a base config can be megabytes of JSON.
    let base_config = std::mem::take(&mut base.config);
    let (config_sum, manifest_sum) = write_metadata(
        &layout,
        Metadata {
            plan,
            base_config,
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
        libc: facts.libc,
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

/// The base against the spec: the Python it has, the digest the spec pins; and whether
/// its C library said which manylinux wheels it runs.
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
    if facts.libc == base::Libc::Unknown {
        notes.push(format!(
            "no glibc version found in the base (looked for libc.so.6 and libc-2.X.so in /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib64, /usr/lib64): wheels were asked for glibc {}, manylinux2014",
            glibc::ASSUMED
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
    let text = match &plan.installed_requirements {
        Some(installed) => installed.requirements.join("\n"),
        None => crate::read::text(&req, MAX_TEXT_BYTES).ok()?,
    };
    (!text.contains("--hash")).then(|| format!(
        "{} has no hashes: pip resolved it against the index, so the dependency layer is only as reproducible as the index (the cache keeps this resolution)",
        req.display()
    ))
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
