//! The command line: arguments only. `main.rs` runs them.

// Doc comments here are the `--help` text users read, not rustdoc.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Turn one declarative app.yaml into a correct, safe, reproducible container build for a
/// Python web API served by gunicorn: a Dockerfile, a hash-pinned server stack and a
/// .dockerignore, with GUNICORN_CMD_ARGS decided and checked for you.
///
/// Exit codes: 0 ok, 1 findings or drift, 2 usage error or unreadable input.
#[derive(Debug, Parser)]
#[command(name = "fabuild", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render the build files for one or more specs, writing only what changed
    ///
    /// Each generated file carries a header with a hash of its body: a file edited by hand,
    /// or one fabuild did not write, is never overwritten without --force.
    Gen(GenArgs),
    /// Validate a spec without writing anything
    ///
    /// Every finding names its rule (FAB0xx, see docs/rules.md), the file, line and column,
    /// and what to do about it.
    Check(CheckArgs),
    /// Print the build plan, every value the generated files are made from, as JSON
    Plan(PlanArgs),
    /// Write a first app.yaml for an existing project, from what its code and files show
    ///
    /// Detects the framework and the app object, the dependency file and the Python
    /// version, and says which file and line each came from. Every answer can be given as a
    /// flag instead, so it runs in scripts. Never replaces an app.yaml without --force.
    Init(InitArgs),
    /// Print the JSON Schema (draft 2020-12) of app.yaml, for editors and linters
    ///
    /// With --platform, the schema of a platform file (`extends:`, docs/spec.md) instead:
    /// the keys it may share with every spec, and its `policy`.
    Schema(SchemaArgs),
    /// Check a built image against the spec: integrity, config, and the files in its layers
    ///
    /// Reads an OCI image layout directory, an oci-archive tar or a `docker save` archive
    /// (found out from the contents). Every check is listed with PASS, FAIL or SKIP; exit 1
    /// when any fails, 2 when the spec or the image cannot be read. See docs/verify.md.
    Verify(VerifyArgs),
    /// Build the image itself, without a container engine: the same bytes from the same inputs
    ///
    /// Reads the base (a registry reference, an OCI layout or oci-archive; linux/amd64, or
    /// each platform of --platform), installs the hash-pinned server stack and the app's
    /// requirements as wheels for the base's Python and machine into a virtualenv at
    /// /opt/venv, adds the numeric user and the app code (root-owned, minus .dockerignore),
    /// and writes an OCI layout or oci-archive whose config is the one the generated
    /// Dockerfile gives: one image, or one image index of several platforms. The
    /// dependency layer is cached. See docs/build.md.
    Build(BuildArgs),
    /// Resolve python.base_image's tag in its registry and write the digest into app.yaml
    ///
    /// `python:3.12-slim` becomes `python:3.12-slim@sha256:...` (the digest of the index,
    /// so every platform stays pinned); run again to move the pin to what the tag names
    /// now. Only that value's bytes change: comments, order and quoting stay as written.
    Pin(PinArgs),
    /// Push an OCI layout (what `build` wrote) to a registry: every image, index and
    /// artifact its index.json lists
    ///
    /// Only the blobs the registry lacks are sent (HEAD first, then a cross-repository
    /// mount from --mount-from, then an upload, chunked past 16 MiB); the image gets REF's
    /// tag, an artifact with a subject (an SBOM) is attached through the referrers API or,
    /// on a registry without one, the `sha256-<hex>` tag. Prints `REF@sha256:...`.
    Push(PushArgs),
    /// Print kubernetes.yaml with the image named by the digest a push printed (as ko resolve)
    ///
    /// Every `image:` whose repository is deploy.image's (or --image's) becomes --image,
    /// `REF@sha256:...` as `build --push` printed it or as --digest-file holds it. The file
    /// is not changed: pipe the output to `kubectl apply -f -`.
    Resolve(ResolveArgs),
    /// Review a GUNICORN_CMD_ARGS value exactly as gunicorn reads it
    ///
    /// Prints what each setting does, its default and what it means in a container; then
    /// findings (FAB1xx, see docs/rules.md), each with the offending token, why and the fix;
    /// then a corrected value. Exit 1 if any finding is an error, 0 otherwise.
    /// Options go before ARGS: everything after the first ARGS word is part of the value.
    Explain(ExplainArgs),
    /// Keep the server stack's pins in a file the team controls (python.pins)
    ///
    /// `refresh` writes a pins file from the index's JSON API: the versions its `want`
    /// lines ask for, with the sha256 of every wheel pip may install for Python 3.11 to
    /// 3.14 on Linux x86_64 and aarch64. `check` lists what is outdated or yanked. See
    /// docs/pins.md.
    #[command(subcommand)]
    Pins(PinsCommand),
}

#[derive(Debug, Subcommand)]
pub enum PinsCommand {
    /// Write the pins file from the index: its want lines, read again (atomic write)
    ///
    /// Without the file, starts from fabuild's built-in table. Refuses, writing nothing,
    /// when a release is missing or yanked, lacks a wheel for a supported Python and
    /// machine, needs a package no want line gives, or is outside what fabuild's rules
    /// assume (gunicorn 27, uvicorn-worker 0.4).
    Refresh(PinsRefreshArgs),
    /// List the pins that are outdated, yanked or unknown to the index
    ///
    /// Exit 1 when a pin is yanked, a pinned hash is not on the index, or the want lines
    /// and the rows disagree; outdated pins are listed and exit 0 (0 also when current).
    Check(PinsCheckArgs),
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// The index's JSON API (a project at URL/NAME/json); credentials never go in the URL
    #[arg(long, value_name = "URL", default_value = "https://pypi.org/pypi")]
    pub index: String,
    /// A netrc file holding the index's credentials (default: $NETRC when set)
    #[arg(long, value_name = "PATH")]
    pub netrc: Option<PathBuf>,
    /// Trust this CA certificate file besides the system bundle
    #[arg(long, value_name = "PATH")]
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PinsRefreshArgs {
    /// The pins file to write (and to read the want lines from, when it exists)
    #[arg(long, value_name = "PATH", default_value = "pins.txt")]
    pub file: PathBuf,
    /// Move every want line to its project's newest release
    #[arg(long)]
    pub upgrade: bool,
    /// Want this version instead (NAME==VERSION, a package the file already wants)
    #[arg(value_name = "NAME==VERSION")]
    pub set: Vec<String>,
    #[command(flatten)]
    pub index: IndexArgs,
}

#[derive(Debug, Args)]
pub struct PinsCheckArgs {
    /// The pins file to check (default: fabuild's built-in table)
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub index: IndexArgs,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The value to review, quoted as one argument ('--bind=0.0.0.0:8443 --workers=3');
    /// several words are joined as the shell split them
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
    /// Review the value of $GUNICORN_CMD_ARGS
    #[arg(long, conflicts_with_all = ["args", "dockerfile"])]
    pub env: bool,
    /// Review the GUNICORN_CMD_ARGS the final stage of this Dockerfile sets with ENV
    #[arg(long, value_name = "FILE", conflicts_with = "args")]
    pub dockerfile: Option<PathBuf>,
    /// The uid the container runs gunicorn as (0 for root)
    #[arg(long, value_name = "UID", default_value_t = fabuild::defaults::UID)]
    pub uid: u32,
    /// The gunicorn release the image installs; flags it lacks are errors
    #[arg(long, value_name = "VERSION", default_value = "27.0.1")]
    pub gunicorn_version: String,
    /// The TLS key and certificate are mounted at run time (a secret, a bind mount),
    /// read-only and owned by someone else, not copied into the image
    #[arg(long)]
    pub tls_mounted: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The language of explanations and findings (rule ids, flags and values stay as is)
    #[arg(long, value_enum, default_value_t = Language::En)]
    pub lang: Language,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Language {
    /// English
    En,
    /// Simplified Chinese
    Zh,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Specs to render (default: app.yaml in the current directory)
    #[arg(value_name = "SPEC")]
    pub specs: Vec<PathBuf>,
    /// Write into DIR instead of the spec's directory; DIR must be inside the project,
    /// which stays the build context (`-f DIR/Dockerfile`), and the ignore file is
    /// DIR/Dockerfile.dockerignore, the name builders read beside that Dockerfile
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write nothing; exit 1 and show a diff if any file differs from what the spec gives
    #[arg(long, conflicts_with = "diff")]
    pub check: bool,
    /// Show what a write would change, then write nothing
    #[arg(long)]
    pub diff: bool,
    /// Overwrite files edited by hand or not generated by fabuild
    #[arg(long)]
    pub force: bool,
    /// Use the templates in DIR (same file names as fabuild's own) instead of the built-in ones
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Build on IMAGE instead of python.base_image (a registry mirror, a local base)
    #[arg(long, value_name = "IMAGE")]
    pub base_image: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The spec to check (default: app.yaml in the current directory)
    #[arg(value_name = "SPEC")]
    pub specs: Vec<PathBuf>,
    /// Check as `gen --base-image IMAGE` would: the base given instead of python.base_image
    #[arg(long, value_name = "IMAGE")]
    pub base_image: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the schema of a platform file (schema/platform.schema.json), not app.yaml's
    #[arg(long)]
    pub platform: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The spec to plan (default: app.yaml in the current directory)
    #[arg(value_name = "SPEC")]
    pub spec: Option<PathBuf>,
    /// Plan on IMAGE instead of python.base_image
    #[arg(long, value_name = "IMAGE")]
    pub base_image: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project directory (default: the current directory)
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Replace an existing app.yaml
    #[arg(long)]
    pub force: bool,
    /// The gunicorn app module, `pkg.mod:attr` or `pkg:factory()`; skips app detection
    #[arg(long, value_name = "M")]
    pub module: Option<String>,
    /// asgi or wsgi; needed with --module unless the framework can be detected
    #[arg(long, value_enum)]
    pub interface: Option<InterfaceArg>,
    /// The image name (default: from pyproject.toml, else the directory name)
    #[arg(long, value_name = "N")]
    pub name: Option<String>,
    /// The Python version, X.Y (default: from .python-version, requires-python or uv.lock)
    #[arg(long, value_name = "X.Y")]
    pub python: Option<String>,
    /// The port gunicorn listens on (default: 8443 with TLS, else 8000)
    #[arg(long, value_name = "P")]
    pub port: Option<u16>,
    /// Serve TLS from a key and certificate mounted in D at run time
    #[arg(long, value_name = "D", requires_all = ["certfile", "keyfile"])]
    pub tls_dir: Option<String>,
    /// The certificate's file name inside --tls-dir
    #[arg(long, value_name = "F", requires = "tls_dir")]
    pub certfile: Option<String>,
    /// The private key's file name inside --tls-dir
    #[arg(long, value_name = "F", requires = "tls_dir")]
    pub keyfile: Option<String>,
    /// For a pyproject.toml without a lock: resolve from the releases uploaded before this
    /// date, YYYY-MM-DD (python.exclude_newer; default: today, or SOURCE_DATE_EPOCH's day)
    #[arg(long, value_name = "DATE")]
    pub exclude_newer: Option<String>,
    /// A directory the app writes at run time (app.writable); repeat for more (default:
    /// Flask's and Quart's instance folder when the code uses `.instance_path`)
    #[arg(long, value_name = "DIR")]
    pub writable: Vec<String>,
    /// What the `$schema` line in app.yaml points at: a URL, or a path relative to
    /// app.yaml (default: .fabuild/app.schema.json, which init writes)
    #[arg(long, value_name = "REF")]
    pub schema_ref: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The spec the image was built from (default: app.yaml in the current directory)
    #[arg(value_name = "SPEC")]
    pub spec: Option<PathBuf>,
    /// The image: an OCI layout directory, an oci-archive tar or a docker-archive tar
    /// (a skopeo-style `oci:`, `oci-archive:` or `docker-archive:` prefix is accepted), or
    /// a registry reference (`host/repo:tag`, `host/repo@sha256:...`, `docker://...`)
    #[arg(long, value_name = "PATH|REF")]
    pub image: PathBuf,
    /// Trust this CA (PEM) for the registry, besides the system's and certs.d's
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
    /// Which image of a multi-platform index to check (os/arch[/variant]); default: every
    /// image of an index on disk in turn, the host's of a registry reference
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// The base image the build used instead of python.base_image (as given to `gen`)
    #[arg(long, value_name = "IMAGE")]
    pub base_image: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

// Each bool is a command-line switch the user sets on its own, not a state in disguise.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct BuildArgs {
    /// The spec to build (default: app.yaml in the current directory); its directory is
    /// the build context
    #[arg(value_name = "SPEC")]
    pub spec: Option<PathBuf>,
    /// The base image: a registry reference (`python:3.12-slim`, `host/repo@sha256:...`,
    /// pulled and cached by digest), an OCI layout directory or an oci-archive tar
    /// (default: python.base_image from the registry). For several platforms, one base
    /// whose index has them all, or --base once per platform (each platform is built on
    /// the first base that has it)
    #[arg(long, value_name = "REF|PATH")]
    pub base: Vec<PathBuf>,
    /// The platforms to build, comma-separated: linux/amd64 (the default), linux/arm64.
    /// Several give one image index: each platform's base and wheels, the app layer shared
    /// byte for byte; nothing is emulated (see docs/build.md, "Several platforms")
    #[arg(long, value_name = "OS/ARCH", value_delimiter = ',')]
    pub platform: Vec<String>,
    /// Where to write the image: a directory (oci) or a file (oci-archive)
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value_t = ImageFormat::Oci)]
    pub format: ImageFormat,
    /// The base's name for the org.opencontainers.image.base.name label (default:
    /// python.base_image); give `verify` the same --base-image
    #[arg(long, value_name = "IMAGE")]
    pub base_image: Option<String>,
    /// Install the .whl files in DIR as they are instead of downloading with pip (pinned
    /// packages are still checked against their sha256)
    #[arg(long, value_name = "DIR")]
    pub wheels: Option<PathBuf>,
    /// The pip that resolves unpinned requirements; its configuration (PIP_INDEX_URL,
    /// pip.conf) says which index the hash-pinned wheels are fetched from
    #[arg(long, value_name = "CMD", default_value = "pip")]
    pub pip: PathBuf,
    /// Download every wheel with `pip download`, hash-pinned ones included, instead of
    /// fetching those from the index directly
    #[arg(long, conflicts_with = "wheels")]
    pub pip_only: bool,
    /// Compile no .pyc files. Bytecode is compiled by the base's own Python, run on this
    /// host (as this user) from a scratch copy of the base: turn it off when the base is not
    /// trusted to run here. Workers then compile what they import at every start
    #[arg(long)]
    pub no_bytecode: bool,
    /// Cache the dependency layer and the base's facts in DIR
    /// (default: $XDG_CACHE_HOME/fabuild, else ~/.cache/fabuild)
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub cache_dir: Option<PathBuf>,
    /// Use no cache
    #[arg(long)]
    pub no_cache: bool,
    /// The tag recorded in index.json (`skopeo copy oci:OUT:TAG ...`)
    #[arg(long, value_name = "TAG", default_value = "latest")]
    pub tag: String,
    /// Build a second time in a temp dir with another umask, time zone and an empty cache,
    /// and fail (exit 1) naming the layer and file that differ if the digests do
    #[arg(long)]
    pub check_reproducible: bool,
    /// Write a CycloneDX 1.6 SBOM of the image to FILE (every Python distribution with its
    /// wheel's sha256, licence and purl; the base's OS packages) and attach it to the image
    /// in the layout as an OCI 1.1 artifact whose subject is the image manifest. With
    /// several platforms, one per platform: FILE's name with the architecture before its
    /// extension (sbom.amd64.json, sbom.arm64.json)
    #[arg(long, value_name = "FILE")]
    pub sbom: Option<PathBuf>,
    /// Push the image to REF (`host/repo:tag`) after building it: only the blobs the
    /// registry lacks are sent; prints `REF@sha256:...`. Needs --format oci
    #[arg(long, value_name = "REF")]
    pub push: Option<String>,
    /// Write the pushed manifest's digest (`sha256:...`) to FILE
    #[arg(long, value_name = "FILE", requires = "push")]
    pub digest_file: Option<PathBuf>,
    /// Trust this CA (PEM) for the registries, besides the system's and certs.d's
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
    /// Leave PATH out of the app layer as --out is (the second build of
    /// --check-reproducible: the first build's image may lie in the context)
    #[arg(long, value_name = "PATH", hide = true)]
    pub skip_in_context: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The OCI layout directory
    #[arg(value_name = "LAYOUT")]
    pub layout: PathBuf,
    /// Where to push: `host/repo:tag`
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Write the pushed manifest's digest (`sha256:...`) to FILE
    #[arg(long, value_name = "FILE")]
    pub digest_file: Option<PathBuf>,
    /// Mount blobs the registry has in this repository of the same registry (`host/repo`)
    #[arg(long, value_name = "REF")]
    pub mount_from: Option<String>,
    /// Trust this CA (PEM) for the registry, besides the system's and certs.d's
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PinArgs {
    /// The spec whose python.base_image to pin (default: app.yaml in the current directory)
    #[arg(value_name = "SPEC")]
    pub spec: Option<PathBuf>,
    /// Trust this CA (PEM) for the registry, besides the system's and certs.d's
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The manifest to resolve (default: kubernetes.yaml beside the spec)
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The spec whose deploy.image names the image (default: app.yaml)
    #[arg(long, value_name = "SPEC")]
    pub spec: Option<PathBuf>,
    /// The pushed image, `REF@sha256:...`
    #[arg(long, value_name = "REF", required_unless_present = "digest_file")]
    pub image: Option<String>,
    /// A file holding the pushed digest (`build --digest-file`), with --repository
    #[arg(long, value_name = "FILE", requires = "repository")]
    pub digest_file: Option<PathBuf>,
    /// The repository the digest was pushed to, with --digest-file
    #[arg(long, value_name = "REF")]
    pub repository: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ImageFormat {
    /// An OCI image layout directory
    Oci,
    /// The same layout as one tar file
    OciArchive,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InterfaceArg {
    Asgi,
    Wsgi,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: findings drawn with a caret on stderr, results on stdout
    Text,
    /// For tools: one JSON document per spec on stdout whatever the outcome, nothing on
    /// stderr (docs/json.md)
    Json,
}
