//! `fabuild build`: an OCI image straight from the plan, without a container engine, the
//! same to the byte from the same inputs.
//!
//! The base's layers (reused as they are), then three layers: dependencies (a virtualenv
//! from platform wheels, cached), identity (passwd/group with the numeric user) and app
//! (the context, root-owned); then config, manifest and index, written as an OCI layout or
//! an oci-archive.

mod apt;
pub mod base;
pub mod bytecode;
pub mod cache;
pub mod compare;
mod config;
pub mod deps;
pub mod env;
pub mod fetch;
pub mod glibc;
pub mod ignore;
mod layers;
pub mod publish;
pub mod sbom;
pub mod spool;
pub mod strip;
pub mod wheel;

use std::fs;
use std::path::{Path, PathBuf};

use crate::exit::{CommandError, ExitStatus};
use crate::generate::{self, GenError};
use crate::layout::{APP_DIR, FABUILD_DIR};
use crate::oci::referrer::{Artifact, Subject};
use crate::oci::writer::MEDIA_MANIFEST;
use crate::oci::writer::{Layout, WrittenLayer};
use crate::oci::{Machine, OciError};
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
    /// The base images: OCI layouts or oci-archives. Each platform is built on the first
    /// that has it: one index with every platform, or one single-platform base each.
    pub bases: Vec<PathBuf>,
    /// The platforms to build, in the order the image index lists them; empty: linux/amd64
    /// alone. One platform gives one image manifest, several give one image index.
    pub machines: Vec<Machine>,
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
    /// Write a CycloneDX SBOM of the image here, and attach it to the image in the layout
    /// as an OCI 1.1 artifact whose subject is the image manifest (with several
    /// platforms, one per platform: see `sbom_paths`).
    pub sbom: Option<PathBuf>,
    /// More paths to leave out of the app layer, like `out`: the first build's image when
    /// `--check-reproducible` builds again elsewhere.
    pub skip: Vec<PathBuf>,
    /// The bases pulled by reference: the layout each was put in and the digest the
    /// reference resolved to (the index's, for a multi-platform image), which a pin in the
    /// spec may name.
    pub pulled: Vec<(PathBuf, String)>,
    /// Compile `.pyc` files with the base's interpreter (`--no-bytecode` turns it off: the
    /// build then runs nothing from the base on this host).
    pub bytecode: bool,
}

impl Options {
    /// The platforms to build: as given, without repeats; linux/amd64 when none is.
    pub fn machines(&self) -> Vec<Machine> {
        let mut machines: Vec<Machine> = Vec::new();
        for m in &self.machines {
            if !machines.contains(m) {
                machines.push(*m);
            }
        }
        if machines.is_empty() {
            machines.push(Machine::X86_64);
        }
        machines
    }
}

/// Where `--sbom FILE` puts each platform's SBOM: FILE itself for one platform; for
/// several, FILE with the architecture before its extension (`sbom.json` ->
/// `sbom.amd64.json`, `sbom.arm64.json`), in the order of `machines`.
pub fn sbom_paths(file: &Path, machines: &[Machine]) -> Vec<PathBuf> {
    if machines.len() <= 1 {
        return vec![file.to_path_buf()];
    }
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = file
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    machines
        .iter()
        .map(|m| file.with_file_name(format!("{stem}.{}{ext}", m.platform().arch)))
        .collect()
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
    /// What index.json names under the tag: the image manifest (one platform) or the image
    /// index (several).
    pub digest: String,
    /// Whether `digest` is an image index.
    pub is_index: bool,
    pub source_date_epoch: u64,
    /// One image per platform, in the index's order.
    pub images: Vec<PlatformImage>,
    pub notes: Vec<String>,
}

/// One platform's image.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PlatformImage {
    pub platform: String,
    pub manifest_digest: String,
    pub config_digest: String,
    pub base_manifest_digest: String,
    pub python: String,
    pub python_version: String,
    /// The base's C library, which decided the manylinux wheels asked for.
    pub libc: base::Libc,
    pub deps_cached: bool,
    pub layers: Vec<AddedLayer>,
    /// The SBOM written, with `--sbom`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbom: Option<SbomWritten>,
}

/// The SBOM a build wrote and attached.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SbomWritten {
    pub path: PathBuf,
    /// The digest of the artifact manifest in the layout (its subject is the image's).
    pub artifact_digest: String,
    /// The Python distributions it lists (the virtualenv's and the base's).
    pub python_packages: usize,
    /// The base's OS packages it lists.
    pub os_packages: usize,
}

/// One platform on its way through the build.
struct Target {
    path: PathBuf,
    base: base::Base,
    base_ref: Option<ImageRef>,
    /// Which of the build's compilers compiles its modules, if any.
    compiler: Option<usize>,
    deps: Option<layers::DepsLayer>,
    identity: Option<WrittenLayer>,
}

/// Builds the image for the spec at `spec_path`.
// The build's steps in order, each one call: splitting it would only hide the order.
#[allow(clippy::too_many_lines)]
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
    let machines = options.machines();
    let several = machines.len() > 1;
    // Notes about one platform say which, when there are several.
    let about = |machine: Machine, note: String| {
        if several {
            format!("{}: {note}", machine.platform())
        } else {
            note
        }
    };

    // Every base is opened before anything is written: a missing platform stops the
    // build with the output untouched.
    let mut targets = Vec::new();
    for &machine in &machines {
        let (path, base) = open_base(options, machine)?;
        notes.extend(base.warnings.iter().map(|w| about(machine, w.clone())));
        let mut said = Vec::new();
        let base_ref = check_base(plan, &base, &path, options, &mut said)?;
        notes.extend(said.into_iter().map(|n| about(machine, n)));
        targets.push(Target {
            path,
            base,
            base_ref,
            compiler: None,
            deps: None,
            identity: None,
        });
    }
    same_python(&targets)?;
    let epoch = source_date_epoch(&project);

    let (staging, layout) = stage(options)?;

    // The blobs --out holds from the last build (the base's, the cached dependency layer),
    // unchanged since: not copied again (see publish::Kept).
    let kept = match (options.format, options.cache.as_deref()) {
        (OutFormat::Oci, Some(cache)) => Some(publish::Kept::new(&options.out, cache)?),
        _ => None,
    };
    // Copying the base's layers into the layout and unpacking its interpreter (seconds on
    // a cold cache) run on a thread of their own, beside the dependencies: pip resolving
    // and the wheels downloading need neither, only compiling the wheels' modules waits
    // for the interpreter. The preparation's error comes first, as when it ran first.
    let (prepared, deps) = std::thread::scope(|scope| {
        let targets = &targets;
        let (layout, kept, staging) = (&layout, kept.as_ref(), staging.path());
        let pending = Pending::new(scope.spawn(move || {
            for target in targets {
                target.base.copy_layers(&target.path, layout, kept)?;
            }
            if !options.bytecode {
                let note = "no bytecode (--no-bytecode): nothing from the base ran on this host; each worker compiles the modules it imports, every time it starts";
                return Ok(Prepared::none(targets.len(), vec![note.to_owned()]));
            }
            compilers(targets, staging, options.cache.as_deref(), &about)
        }));
        let mut notes = Vec::new();
        let mut built = Vec::new();
        for (i, target) in targets.iter().enumerate() {
            let compiler = || match pending.get() {
                Ok(prepared) => Ok(prepared.compiler(i)),
                // Never shown: the preparation's own error is returned instead.
                Err(_) => Err(BuildError::Other("the base was not prepared".to_owned())),
            };
            let one = target_layers(
                target,
                plan,
                &project,
                &rendered,
                options,
                (layout, kept),
                staging,
                &compiler,
            );
            match one {
                Ok((deps, identity, said)) => {
                    let machine = target.base.machine;
                    notes.extend(said.into_iter().map(|n| about(machine, n)));
                    built.push((deps, identity));
                }
                Err(e) => return (pending.into_inner(), Err(e)),
            }
        }
        (pending.into_inner(), Ok((built, notes)))
    });
    let mut prepared = prepared?;
    let (built, deps_notes) = deps?;
    notes.append(&mut prepared.notes);
    notes.extend(deps_notes);
    for ((target, (deps, identity)), compiler) in
        targets.iter_mut().zip(built).zip(&prepared.assigned)
    {
        target.deps = Some(deps);
        target.identity = Some(identity);
        target.compiler = *compiler;
    }
    let compilers = &prepared.compilers;

    // The app layer is built once: every platform's manifest names the same blob.
    let ignore = app_ignore(plan, &project, rendered(".dockerignore"))?;
    let staged = staging.path().to_path_buf();
    let mut skip = vec![Some(&options.out), options.cache.as_ref(), Some(&staged)];
    skip.extend(options.skip.iter().map(Some));
    let mut app = app_tree(&project, &ignore, &skip)?;
    let app_compiler = targets
        .iter()
        .find_map(|t| t.compiler)
        .map(|i| &compilers[i]);
    compile(app_compiler, &mut app, APP_DIR, "the app", &mut notes)?;
    let app_layer = put_layer(&layout, &app, epoch)?;

    let sbom_files = options
        .sbom
        .as_deref()
        .map(|f| sbom_paths(f, &machines))
        .unwrap_or_default();
    let mut images = Vec::new();
    let mut entries = Vec::new();
    let mut artifacts = Vec::new();
    for (i, target) in targets.iter_mut().enumerate() {
        let deps = target.deps.take().expect("built above");
        let identity = target.identity.take().expect("built above");
        let base = &mut target.base;
        let base_digest = base.image.manifest_digest.clone().unwrap_or_default();
        let layers: Vec<AddedLayer> = [
            ("dependencies", deps.layer),
            ("identity", identity),
            ("app", app_layer.clone()),
        ]
        .into_iter()
        .map(|(role, layer)| AddedLayer { role, layer })
        .collect();
        let base_name = (target.base_ref.as_ref())
            .map_or_else(|| plan.base_image.clone(), ImageRef::without_digest);
        // Moved, not copied: a base config can be megabytes of JSON.
        let base_config = std::mem::take(&mut base.config);
        let (config_sum, manifest_sum) = write_metadata(
            &layout,
            Metadata {
                plan,
                base_config,
                base,
                base_name: &base_name,
                base_digest: &base_digest,
                layers: &layers,
                epoch,
            },
        )?;
        let artifact = (options.sbom.as_ref())
            .map(|_| attach_sbom(&layout, plan, &manifest_sum, epoch, base, &deps.dists))
            .transpose()?;
        entries.push((base.machine, manifest_sum.clone()));
        let facts = &base.facts;
        images.push(PlatformImage {
            platform: base.machine.platform().to_string(),
            manifest_digest: manifest_sum.digest(),
            config_digest: config_sum.digest(),
            base_manifest_digest: base_digest,
            python: facts.python.clone(),
            python_version: facts.python_version.clone(),
            libc: facts.libc,
            deps_cached: deps.cached,
            layers,
            sbom: None,
        });
        if let Some(artifact) = artifact {
            artifacts.push((i, artifact, deps.dists));
        }
    }
    let index_entries = artifacts.iter().map(|(_, a, _)| a.index_entry()).collect();
    let top = config::write_index(&layout, &entries, &options.tag, index_entries)?;

    finish(
        options,
        &layout,
        staging.path(),
        epoch,
        kept.as_ref(),
        &targets,
    )?;
    for (i, artifact, dists) in &artifacts {
        images[*i].sbom = Some(write_sbom(
            &sbom_files[*i],
            artifact,
            dists,
            &targets[*i].base,
        )?);
    }
    Ok(Built {
        out: options.out.clone(),
        digest: top.digest(),
        is_index: several,
        source_date_epoch: epoch,
        images,
        notes,
    })
}

/// Opens `machine`'s base: the first of `--base` that has that platform.
fn open_base(options: &Options, machine: Machine) -> Result<(PathBuf, base::Base), BuildError> {
    let mut elsewhere = Vec::new();
    for path in &options.bases {
        match base::open(path, options.cache.as_deref(), machine) {
            Ok(base) => return Ok((path.clone(), base)),
            Err(BuildError::Oci(OciError::NoPlatform { available, .. }))
                if options.bases.len() > 1 =>
            {
                elsewhere.push(format!("{} has {available}", path.display()));
            }
            Err(BuildError::Base { why, path: shown })
                if options.bases.len() > 1 && why.starts_with("it is a ") =>
            {
                elsewhere.push(format!("{shown}: {why}"));
            }
            Err(e) => return Err(e),
        }
    }
    Err(BuildError::Other(format!(
        "no base has a {} image ({})",
        machine.platform(),
        if elsewhere.is_empty() {
            "no --base given".to_owned()
        } else {
            elsewhere.join("; ")
        }
    )))
}

/// The platforms' bases must run the same Python X.Y: the app layer, shared, holds
/// bytecode for one version, and the wheels are chosen for it.
fn same_python(targets: &[Target]) -> Result<(), BuildError> {
    let first = &targets[0].base;
    for other in &targets[1..] {
        let other = &other.base;
        if other.facts.python_version != first.facts.python_version {
            return Err(BuildError::Other(format!(
                "the bases' Python versions differ: {} has {} ({}), {} has {} ({}); every platform of one image must run the same Python, as the app layer is shared",
                first.machine.platform(),
                first.facts.python_version,
                first.facts.python,
                other.machine.platform(),
                other.facts.python_version,
                other.facts.python
            )));
        }
    }
    Ok(())
}

/// What the preparation made beside the dependencies (see `build`): the interpreters that
/// compile each platform's modules, the scratch directories they were unpacked in (kept
/// until the layers are written), which compiler each target uses, and the notes taken.
struct Prepared {
    /// Held, never read: dropping one removes its directory.
    #[allow(dead_code)]
    scratches: Vec<tempfile::TempDir>,
    compilers: Vec<bytecode::Compiler>,
    /// For each target, in order: the index of its compiler, if any.
    assigned: Vec<Option<usize>>,
    notes: Vec<String>,
}

impl Prepared {
    /// No compiler for any of `targets` targets.
    fn none(targets: usize, notes: Vec<String>) -> Self {
        Self {
            scratches: Vec::new(),
            compilers: Vec::new(),
            assigned: vec![None; targets],
            notes,
        }
    }

    fn compiler(&self, target: usize) -> Option<&bytecode::Compiler> {
        self.assigned[target].map(|i| &self.compilers[i])
    }
}

/// A value made on another thread of a scope, waited for the first time it is asked for.
struct Pending<'scope, T> {
    handle: std::cell::Cell<Option<std::thread::ScopedJoinHandle<'scope, T>>>,
    value: std::cell::OnceCell<T>,
}

impl<'scope, T> Pending<'scope, T> {
    fn new(handle: std::thread::ScopedJoinHandle<'scope, T>) -> Self {
        Self {
            handle: std::cell::Cell::new(Some(handle)),
            value: std::cell::OnceCell::new(),
        }
    }

    /// The value, once the thread has made it. A panic on the thread goes on here.
    fn get(&self) -> &T {
        self.value.get_or_init(|| {
            let handle = self.handle.take().expect("a handle until the value is set");
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn into_inner(self) -> T {
        self.get();
        self.value.into_inner().expect("set by get")
    }
}

/// Bytecode depends on the Python version, not on the machine: a platform whose base's
/// interpreter does not run on this machine borrows one that does (every platform has the
/// same Python X.Y, see `same_python`); only when none does is its own tried (it runs when
/// the kernel runs foreign binaries through `binfmt_misc`, e.g. qemu-user), else there is
/// no bytecode.
fn compilers(
    targets: &[Target],
    staging: &Path,
    cache: Option<&Path>,
    about: &dyn Fn(Machine, String) -> String,
) -> Result<Prepared, BuildError> {
    let host = Machine::host();
    let mut prepared = Prepared::none(targets.len(), Vec::new());
    let notes = &mut prepared.notes;
    // Native ones first, then the foreign ones that have nothing to borrow.
    let order: Vec<usize> = (0..targets.len())
        .filter(|&i| Some(targets[i].base.machine) == host)
        .chain((0..targets.len()).filter(|&i| Some(targets[i].base.machine) != host))
        .collect();
    let mut failures = Vec::new();
    for i in order {
        let machine = targets[i].base.machine;
        if Some(machine) != host && !prepared.compilers.is_empty() {
            let lender = prepared.assigned.iter().position(|c| *c == Some(0));
            if let Some(lender) = lender.map(|l| &targets[l].base) {
                notes.push(about(
                    machine,
                    format!(
                        "bytecode compiled by the {} base's Python {} (bytecode does not depend on the machine): nothing ran emulated",
                        lender.machine.platform(),
                        lender.facts.python_version
                    ),
                ));
            }
            prepared.assigned[i] = Some(0);
            continue;
        }
        let scratch = tempfile::tempdir_in(staging).map_err(|e| BuildError::io(staging, &e))?;
        match bytecode::Compiler::prepare(&targets[i].base, scratch.path(), cache, notes) {
            Ok(compiler) => {
                if Some(machine) != host {
                    notes.push(about(
                        machine,
                        "bytecode compiled by the base's own interpreter, run through the kernel's binfmt_misc handler (emulated): no interpreter for this Python runs natively here".to_owned(),
                    ));
                }
                prepared.assigned[i] = Some(prepared.compilers.len());
                prepared.compilers.push(compiler);
                prepared.scratches.push(scratch);
            }
            Err(why) => failures.push((machine, why)),
        }
    }
    for (machine, why) in failures {
        let lent = (targets.iter().zip(&prepared.assigned))
            .any(|(t, c)| t.base.machine == machine && c.is_some());
        if !lent {
            prepared.notes.push(about(machine, format!(
                "no bytecode: {why}; each worker compiles the modules it imports, every time it starts"
            )));
        }
    }
    Ok(prepared)
}

/// One target's dependency layer and identity layer, with the notes taken making them
/// (not yet saying which platform). `compiler` waits for the target's interpreter.
#[allow(clippy::too_many_arguments)]
fn target_layers<'c>(
    target: &Target,
    plan: &Plan,
    project: &Path,
    rendered: &dyn Fn(&str) -> Option<String>,
    options: &Options,
    (layout, kept): (&Layout, Option<&publish::Kept>),
    staging: &Path,
    compiler: &dyn Fn() -> Result<Option<&'c bytecode::Compiler>, BuildError>,
) -> Result<(layers::DepsLayer, WrittenLayer, Vec<String>), BuildError> {
    let facts = &target.base.facts;
    let input = deps::DepsInput {
        plan,
        project,
        python: &facts.python,
        python_version: &facts.python_version,
        glibc: facts.libc.glibc(),
        machine: target.base.machine,
        source: &options.wheels,
        runtime_files: runtime_files(rendered),
    };
    let mut said = Vec::new();
    let deps = dependencies(
        &input,
        options,
        (layout, kept),
        staging,
        compiler,
        &mut said,
    )?;
    let identity = identity_tree(plan, facts)?;
    let identity = put_layer(layout, &identity, STABLE_MTIME)?;
    Ok((deps, identity, said))
}

/// The dependency layer (with the distributions it holds when an SBOM is asked for).
fn dependencies<'c>(
    input: &deps::DepsInput,
    options: &Options,
    (layout, kept): (&Layout, Option<&publish::Kept>),
    staging: &Path,
    compiler: &dyn Fn() -> Result<Option<&'c bytecode::Compiler>, BuildError>,
    notes: &mut Vec<String>,
) -> Result<layers::DepsLayer, BuildError> {
    let cache = options.cache.as_deref();
    let want_dists = options.sbom.is_some();
    let deps = deps_layer(
        input, cache, layout, kept, staging, want_dists, compiler, notes,
    )?;
    if !deps.cached {
        notes.extend(unhashed_note(input.plan, input.project, &options.wheels));
    }
    Ok(deps)
}

/// The staging directory next to the destination, and the layout in it: a build is
/// staged, then published, so a failed or killed build leaves the previous image alone
/// (see publish.rs).
fn stage(options: &Options) -> Result<(publish::Staging, Layout), BuildError> {
    match options.format {
        OutFormat::Oci => publish::check_layout_out(&options.out)?,
        OutFormat::OciArchive => publish::check_archive_out(&options.out)?,
    }
    let staging = publish::Staging::create(&options.out)?;
    let layout_dir = staging.path().join("layout");
    let layout = Layout::create(&layout_dir).map_err(|e| BuildError::io(&layout_dir, &e))?;
    Ok((staging, layout))
}

/// Writes the SBOM of the image whose manifest is `manifest_sum` into `layout` as an OCI
/// 1.1 artifact about it; returns the artifact (its payload is the SBOM).
fn attach_sbom(
    layout: &Layout,
    plan: &Plan,
    manifest_sum: &crate::oci::digest::Sum,
    epoch: u64,
    base: &base::Base,
    venv: &[sbom::PyDist],
) -> Result<Artifact, BuildError> {
    let document = sbom::cyclonedx(&sbom::Inputs {
        name: &plan.name,
        manifest_digest: &manifest_sum.digest(),
        epoch,
        base: &base.facts.inventory,
        venv,
    });
    let subject = Subject {
        media_type: MEDIA_MANIFEST.to_owned(),
        digest: manifest_sum.digest(),
        size: manifest_sum.size,
    };
    let artifact = sbom::artifact(document, &subject);
    for blob in artifact.blobs.iter().chain([&artifact.manifest]) {
        layout
            .put_blob(&blob.bytes)
            .map_err(|e| BuildError::io(&layout.dir, &e))?;
    }
    Ok(artifact)
}

/// Writes the attached SBOM to `path` too (after the image is published: the file
/// describes an image that exists).
fn write_sbom(
    path: &Path,
    artifact: &Artifact,
    venv: &[sbom::PyDist],
    base: &base::Base,
) -> Result<SbomWritten, BuildError> {
    publish::write_file(path, &artifact.payload().bytes)?;
    Ok(SbomWritten {
        path: path.to_path_buf(),
        artifact_digest: artifact.manifest.digest.clone(),
        python_packages: venv.len() + base.facts.inventory.python.len(),
        os_packages: base.facts.inventory.os_packages.len(),
    })
}

/// Compiles the `.py` files of `tree` under `dir` (absolute, as in the image), when there is
/// a compiler, and notes the files left source only. An interpreter that stopped half-way
/// is an error: the layer would hold some bytecode and not the rest.
pub(crate) fn compile(
    compiler: Option<&bytecode::Compiler>,
    tree: &mut crate::oci::writer::Tree,
    dir: &str,
    what: &str,
    notes: &mut Vec<String>,
) -> Result<(), BuildError> {
    let Some(compiler) = compiler else {
        return Ok(());
    };
    let under = dir.trim_start_matches('/');
    let outcome = compiler
        .compile(tree, under, &under.replace('/', "-"))
        .map_err(|why| BuildError::Other(format!("compiling {what}: {why}")))?;
    if !outcome.failed.is_empty() {
        let shown: Vec<String> = outcome
            .failed
            .iter()
            .take(3)
            .map(|p| format!("/{p}"))
            .collect();
        notes.push(format!(
            "{} of {} Python files in {what} are not valid Python for the base's interpreter and stay source only ({}{})",
            outcome.failed.len(),
            outcome.sources,
            shown.join(", "),
            if outcome.failed.len() > shown.len() { ", ..." } else { "" }
        ));
    }
    Ok(())
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
    layout: &Layout,
    staging: &Path,
    epoch: u64,
    kept: Option<&publish::Kept>,
    targets: &[Target],
) -> Result<(), BuildError> {
    match options.format {
        OutFormat::Oci => {
            if publish::publish_layout(&layout.dir, &options.out, kept)? == publish::Published::Done
            {
                return Ok(());
            }
            // --out no longer holds a blob left out of the staging layout (another build
            // published meanwhile): copy them all in, then publish.
            let deferred = kept.map(publish::Kept::take_deferred).unwrap_or_default();
            for target in targets {
                target.base.copy_layers(&target.path, layout, None)?;
            }
            // The rest is the cached dependency layer's blob.
            let cache = options.cache.as_deref().map(cache::Cache::new);
            for (hex, _) in deferred {
                if layout.dir.join("blobs/sha256").join(&hex).exists() {
                    continue;
                }
                let copied = cache
                    .as_ref()
                    .and_then(|c| c.open_blob(&hex))
                    .is_some_and(|(mut file, _)| layout.put_blob_reader(&mut file, &hex).is_ok());
                if !copied {
                    return Err(BuildError::Other(format!(
                        "the cached layer sha256:{hex} changed while the image was published; build again"
                    )));
                }
            }
            match publish::publish_layout(&layout.dir, &options.out, kept)? {
                publish::Published::Done => Ok(()),
                publish::Published::Missing => Err(BuildError::Other(format!(
                    "{}: a blob of the image went missing while it was published",
                    options.out.display()
                ))),
            }
        }
        OutFormat::OciArchive => {
            let tar_path = staging.join("image.tar");
            write_archive(&layout.dir, &tar_path, epoch)?;
            publish::publish_archive(&tar_path, &options.out)
        }
    }
}

/// The base against the spec: the Python it has, the digest the spec pins; and whether
/// its C library said which manylinux wheels it runs.
fn check_base(
    plan: &Plan,
    base: &base::Base,
    path: &Path,
    options: &Options,
    notes: &mut Vec<String>,
) -> Result<Option<ImageRef>, BuildError> {
    let facts = &base.facts;
    let base_digest = base.image.manifest_digest.clone().unwrap_or_default();
    if options.sbom.is_some()
        && let Some(why) = facts.inventory.incomplete()
    {
        return Err(BuildError::Base {
            path: path.display().to_string(),
            why,
        });
    }
    if facts.python_version != plan.python_version {
        notes.push(format!(
            "the spec says Python {}, the base has {} ({}): the wheels are for {}",
            plan.python_version, facts.python_version, facts.python, facts.python_version
        ));
    }
    if facts.libc == base::Libc::Unknown {
        notes.push(format!(
            "no glibc version found in the base (looked for libc.so.6 and libc-2.X.so in /lib/{t}, /usr/lib/{t}, /lib64, /usr/lib64): wheels were asked for glibc {}, manylinux2014",
            glibc::ASSUMED,
            t = base.machine.triplet()
        ));
    }
    let base_ref = options
        .base_image
        .clone()
        .or_else(|| ImageRef::parse(&plan.base_image));
    // The pin may name the platform's manifest or the index it was chosen from (what
    // `fabuild pin` writes, so that every platform stays pinned).
    let pulled = options
        .pulled
        .iter()
        .find(|(layout, _)| layout == path)
        .map(|(_, resolved)| resolved);
    if let Some(pinned) = base_ref.as_ref().and_then(|r| r.digest.clone())
        && pinned != base_digest
        && base.image.index_digest.as_ref() != Some(&pinned)
        && pulled != Some(&pinned)
    {
        return Err(BuildError::Base {
            path: path.display().to_string(),
            why: format!("the spec pins the base at {pinned}, this base is {base_digest}"),
        });
    }
    Ok(base_ref)
}

/// Says so when the app's requirements were resolved against the index, not hash-locked.
fn unhashed_note(plan: &Plan, project: &Path, wheels: &WheelSource) -> Option<String> {
    let rel = plan.app_dependencies.requirements()?;
    if !matches!(wheels, WheelSource::Pip(_) | WheelSource::PipOnly(_)) {
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
