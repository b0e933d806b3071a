//! `fabuild build`: the image itself, without a container engine; `--check-reproducible`
//! builds it twice and compares.

use std::ffi::OsString;
use std::path::Path;

use fabuild::builder::{self, BuildError, OutFormat, WheelSource};
use fabuild::exit::{CommandError, ExitStatus};
use fabuild::generate::GenError;

use fabuild::net::registry::Reference;
use fabuild::oci::remote;
use fabuild::oci::{Machine, Platform};

use super::{default_spec, image_path, parse_base, registry, spec_failure};
use crate::cli::{BuildArgs, Format, ImageFormat};
use crate::console::{eoutln, outln};

pub fn run(args: &BuildArgs) -> ExitStatus {
    let spec_path = default_spec(args.spec.as_ref());
    let mut base_image = match parse_base(args.base_image.as_deref()) {
        Ok(b) => b,
        Err(status) => return status,
    };
    let push = match args.push.as_deref().map(Reference::parse).transpose() {
        Ok(p) => p,
        Err(why) => {
            eoutln!("error: --push: {why}");
            return ExitStatus::Error;
        }
    };
    if push.is_some() && args.format != ImageFormat::Oci {
        eoutln!("error: --push sends an OCI layout; build with --format oci (the default)");
        return ExitStatus::Error;
    }
    let cache = if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(registry::default_cache)
    };
    // Absolute, as everything the build runs from it must be: the base's interpreter is
    // started from the cache in another working directory, where a relative path named
    // nothing and the image silently had no bytecode.
    let cache = match cache.as_deref().map(std::path::absolute).transpose() {
        Ok(cache) => cache,
        Err(e) => {
            eoutln!("error: --cache-dir: {e}");
            return ExitStatus::Error;
        }
    };
    let machines = match machines(&args.platform) {
        Ok(m) => m,
        Err(why) => {
            eoutln!("error: --platform: {why}");
            return ExitStatus::Error;
        }
    };
    let (base_paths, pulled) = match base(
        args,
        &spec_path,
        &mut base_image,
        cache.as_deref(),
        &machines,
    ) {
        Ok(found) => found,
        Err(status) => return status,
    };
    let options = options(args, &base_paths, machines, base_image, cache, &pulled);
    let built = match builder::build(&spec_path, &options) {
        Ok(built) => built,
        Err(BuildError::Gen(GenError::Spec(err))) => {
            return spec_failure(&err, &spec_path.display().to_string(), Format::Text, false);
        }
        Err(err) => {
            eoutln!("error: {err}");
            if let Some(help) = err.help() {
                eoutln!("help: {help}");
            }
            return err.exit_status();
        }
    };
    print_built(&built, &options);
    if args.check_reproducible {
        // The second build reads the base already pulled and pushes nothing.
        let again = BuildArgs {
            base: base_paths,
            base_image: options.base_image.as_ref().map(ToString::to_string),
            push: None,
            digest_file: None,
            skip_in_context: vec![
                std::path::absolute(&built.out).unwrap_or_else(|_| built.out.clone()),
            ],
            ..args.clone()
        };
        let status = check_reproducible(&again, &built.out);
        if status != ExitStatus::Success {
            return status;
        }
    }
    match push {
        Some(target) => push_image(
            &Push {
                given: args.push.as_deref().unwrap_or_default(),
                digest_file: args.digest_file.as_deref(),
                registry_ca: args.registry_ca.as_deref(),
            },
            &built.out,
            &target,
            pulled.first().map(|(r, _)| r),
        ),
        None => ExitStatus::Success,
    }
}

/// The build's options from the arguments and the bases found.
fn options(
    args: &BuildArgs,
    base_paths: &[std::path::PathBuf],
    machines: Vec<Machine>,
    base_image: Option<fabuild::spec::ImageRef>,
    cache: Option<std::path::PathBuf>,
    pulled: &[Pulled],
) -> builder::Options {
    builder::Options {
        bases: base_paths.to_vec(),
        machines,
        out: args.out.clone(),
        format: match args.format {
            ImageFormat::Oci => OutFormat::Oci,
            ImageFormat::OciArchive => OutFormat::OciArchive,
        },
        base_image,
        wheels: match (&args.wheels, args.pip_only) {
            (Some(dir), _) => WheelSource::Dir(dir.clone()),
            (None, true) => WheelSource::PipOnly(args.pip.clone()),
            (None, false) => WheelSource::Pip(args.pip.clone()),
        },
        cache,
        tag: args.tag.clone(),
        sbom: args.sbom.clone(),
        skip: args.skip_in_context.clone(),
        pulled: pulled
            .iter()
            .map(|(_, p)| (p.layout.clone(), p.resolved.clone()))
            .collect(),
        bytecode: !args.no_bytecode,
    }
}

/// The platforms `--platform` names (comma-separated or repeated).
fn machines(given: &[String]) -> Result<Vec<Machine>, String> {
    given
        .iter()
        .map(|text| {
            let platform = Platform::parse(text.trim()).map_err(|e| e.to_string())?;
            Machine::of(&platform)
        })
        .collect()
}

/// What a build wrote, on stdout; its notes on stderr.
fn print_built(built: &builder::Built, options: &builder::Options) {
    let kind = match options.format {
        OutFormat::Oci => "OCI layout",
        OutFormat::OciArchive => "oci-archive",
    };
    let several = built.images.len() > 1;
    if several {
        outln!(
            "built {} ({kind}, tag {}): an image index of {} platforms, SOURCE_DATE_EPOCH {}",
            built.out.display(),
            options.tag,
            built.images.len(),
            built.source_date_epoch
        );
    }
    for image in &built.images {
        let libc = match image.libc {
            builder::base::Libc::Glibc(v) => format!("glibc {v}"),
            builder::base::Libc::Unknown => "glibc version unknown".to_owned(),
        };
        if several {
            outln!(
                "{} on base {} with {} (Python {}, {libc})",
                image.platform,
                image.base_manifest_digest,
                image.python,
                image.python_version,
            );
        } else {
            outln!(
                "built {} ({kind}, tag {}) on base {} with {} (Python {}, {libc}), SOURCE_DATE_EPOCH {}",
                built.out.display(),
                options.tag,
                image.base_manifest_digest,
                image.python,
                image.python_version,
                built.source_date_epoch
            );
        }
        for layer in &image.layers {
            let cached = if layer.role == "dependencies" && image.deps_cached {
                " (cached)"
            } else {
                ""
            };
            outln!(
                "  {:<13} {} {:>10} bytes{cached}",
                layer.role,
                layer.layer.digest,
                layer.layer.size
            );
        }
        outln!("  config        {}", image.config_digest);
        outln!(
            "{}manifest {}",
            if several { "  " } else { "" },
            image.manifest_digest
        );
        if let Some(sbom) = &image.sbom {
            outln!(
                "{}sbom {} (CycloneDX 1.6: {} Python distributions, {} OS packages), attached as {}",
                if several { "  " } else { "" },
                sbom.path.display(),
                sbom.python_packages,
                sbom.os_packages,
                sbom.artifact_digest
            );
        }
    }
    if several {
        outln!("index {}", built.digest);
    }
    for note in &built.notes {
        eoutln!("note: {note}");
    }
}

/// A base pulled by reference: the reference and where it was put.
type Pulled = (Reference, remote::Pulled);

/// The bases to build on: layouts or archives on disk, or references pulled into the
/// cache (`python.base_image` when --base is not given), one layout per platform, and
/// what was pulled. Sets `base_image` to the pulled reference when --base-image did not
/// name the base.
fn base(
    args: &BuildArgs,
    spec_path: &Path,
    base_image: &mut Option<fabuild::spec::ImageRef>,
    cache: Option<&Path>,
    machines: &[Machine],
) -> Result<(Vec<std::path::PathBuf>, Vec<Pulled>), ExitStatus> {
    // Each --base: a layout or archive on disk, or a reference pulled (python.base_image
    // when --base is not given).
    let mut wanted = Vec::new();
    if args.base.is_empty() {
        let display = spec_path.display().to_string();
        let checked = match fabuild::check::check(spec_path, &display) {
            Ok(c) => c,
            Err(err) => return Err(spec_failure(&err, &display, Format::Text, false)),
        };
        let plan = fabuild::plan::plan(
            &checked.spec,
            &fabuild::plan::Overrides {
                base_image: base_image.clone(),
            },
        );
        match Reference::parse(&plan.base_image) {
            Ok(r) => wanted.push((plan.base_image.clone(), Some(r))),
            Err(why) => {
                eoutln!("error: python.base_image: {why}");
                return Err(ExitStatus::Error);
            }
        }
    }
    for given in &args.base {
        match registry::as_reference(given) {
            Some(Ok(r)) => wanted.push((given.display().to_string(), Some(r))),
            Some(Err(why)) => {
                eoutln!("error: --base: {why}");
                return Err(ExitStatus::Error);
            }
            None => wanted.push((given.display().to_string(), None)),
        }
    }
    let platforms: Vec<Platform> = if machines.is_empty() {
        vec![Machine::X86_64]
    } else {
        machines.to_vec()
    }
    .into_iter()
    .map(|m| Platform {
        variant: None,
        ..m.platform()
    })
    .collect();
    let mut pulled = Vec::new();
    let mut paths = Vec::new();
    let only = wanted.len() == 1;
    for (text, reference) in &wanted {
        let Some(reference) = reference else {
            paths.push(image_path(Path::new(text)));
            continue;
        };
        for platform in &platforms {
            match registry::pull(reference, args.registry_ca.as_deref(), cache, platform) {
                Ok(p) => {
                    outln!(
                        "base {text} is {} ({platform} manifest {}, {} bytes fetched)",
                        p.resolved,
                        p.manifest_digest,
                        p.fetched
                    );
                    if base_image.is_none() {
                        *base_image = fabuild::spec::ImageRef::parse(
                            text.strip_prefix("docker://").unwrap_or(text),
                        );
                    }
                    paths.push(p.layout.clone());
                    pulled.push((reference.clone(), p));
                }
                // With several bases, another may have this platform.
                Err(err) if !only => {
                    eoutln!("note: no {platform} image from {text}: {err}");
                }
                Err(err) => {
                    eoutln!("error: cannot pull the base {text}: {err}");
                    return Err(ExitStatus::Error);
                }
            }
        }
    }
    Ok((paths, pulled))
}

/// Where and how to push, as the user gave it.
pub struct Push<'a> {
    pub given: &'a str,
    pub digest_file: Option<&'a Path>,
    pub registry_ca: Option<&'a Path>,
}

/// Pushes the layout at `out` to `target`; prints `REF@sha256:...`.
pub fn push_image(
    args: &Push<'_>,
    out: &Path,
    target: &Reference,
    base: Option<&Reference>,
) -> ExitStatus {
    let trust = match fabuild::net::registry::trust(&target.host, args.registry_ca) {
        Ok(t) => t,
        Err(err) => {
            eoutln!("error: {err}");
            return ExitStatus::Error;
        }
    };
    // The base's layers are mounted from its repository when it is on the same registry.
    let mount_from: Vec<String> = base
        .filter(|b| b.host == target.host)
        .map(|b| b.repo.clone())
        .into_iter()
        .collect();
    let pushed = match remote::push(out, target, &trust.options, &mount_from) {
        Ok(p) => p,
        Err(err) => {
            eoutln!("error: cannot push to {}: {err}", args.given);
            return ExitStatus::Error;
        }
    };
    let name = args.given.split('@').next().unwrap_or(args.given);
    let name = name.strip_prefix("docker://").unwrap_or(name);
    eoutln!(
        "note: pushed {} manifest{}: {} blob{} uploaded ({} bytes), {} mounted, {} already there{}",
        pushed.manifests,
        if pushed.manifests == 1 { "" } else { "s" },
        pushed.uploaded,
        if pushed.uploaded == 1 { "" } else { "s" },
        pushed.uploaded_bytes,
        pushed.mounted,
        pushed.present,
        if pushed.fallback_tags.is_empty() {
            String::new()
        } else {
            format!(
                "; artifacts listed under {} (the registry has no referrers API)",
                pushed.fallback_tags.join(", ")
            )
        }
    );
    if let Some(file) = args.digest_file
        && let Err(e) = registry::write_atomic(file, &format!("{}\n", pushed.digest))
    {
        eoutln!("error: cannot write {}: {e}", file.display());
        return ExitStatus::Error;
    }
    outln!("{name}@{}", pushed.digest);
    ExitStatus::Success
}

/// Builds again with another umask and time zone and an empty cache; compares the images.
fn check_reproducible(args: &BuildArgs, first: &Path) -> ExitStatus {
    let scratch = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eoutln!("error: cannot make a temp dir: {e}");
            return ExitStatus::Error;
        }
    };
    let second = scratch.path().join("image");
    let Ok(exe) = std::env::current_exe() else {
        eoutln!("error: cannot find the fabuild binary to run the second build");
        return ExitStatus::Error;
    };
    let again = BuildArgs {
        out: second.clone(),
        cache_dir: Some(scratch.path().join("cache")),
        no_cache: false,
        check_reproducible: false,
        sbom: args.sbom.as_ref().map(|_| scratch.path().join("sbom.json")),
        ..args.clone()
    };
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 077 && exec \"$0\" \"$@\"")
        .arg(exe)
        .args(again.to_args())
        .env("TZ", "Pacific/Chatham")
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eoutln!("error: the second build (umask 077, TZ=Pacific/Chatham, empty cache) failed");
        return ExitStatus::Error;
    }
    let machines = machines(&args.platform).unwrap_or_default();
    let sbom_differs = args.sbom.as_ref().is_some_and(|first| {
        let ours = builder::sbom_paths(first, &machines);
        let theirs = builder::sbom_paths(&scratch.path().join("sbom.json"), &machines);
        ours.iter().zip(&theirs).any(|(a, b)| {
            let (a, b) = (std::fs::read(a).ok(), std::fs::read(b).ok());
            a.is_none() || a != b
        })
    });
    match builder::compare::images(first, &second).map(|mut diffs| {
        if sbom_differs {
            diffs.push("the SBOM (--sbom) differs".to_owned());
        }
        diffs
    }) {
        Ok(diffs) if diffs.is_empty() => {
            outln!(
                "reproducible: a second build with umask 077, TZ=Pacific/Chatham and an empty cache gave the same digest"
            );
            ExitStatus::Success
        }
        Ok(diffs) => {
            eoutln!(
                "NOT reproducible: a second build (umask 077, TZ=Pacific/Chatham, empty cache) differs:"
            );
            for d in diffs {
                eoutln!("  {d}");
            }
            ExitStatus::Failure
        }
        Err(e) => {
            eoutln!("error: cannot compare the two builds: {e}");
            ExitStatus::Error
        }
    }
}

impl BuildArgs {
    /// The command line that parses back to these arguments (`build` first). Every field
    /// is named, so a new flag cannot be left out of the second build by accident.
    pub fn to_args(&self) -> Vec<OsString> {
        let Self {
            spec,
            base,
            platform,
            out,
            format,
            base_image,
            wheels,
            pip,
            pip_only,
            no_bytecode,
            cache_dir,
            no_cache,
            tag,
            check_reproducible,
            sbom,
            push,
            digest_file,
            registry_ca,
            skip_in_context,
        } = self;
        let mut args: Vec<OsString> = vec!["build".into()];
        let mut flag = |name: &str, value: &dyn AsRef<std::ffi::OsStr>| {
            args.push(format!("--{name}").into());
            args.push(value.as_ref().to_owned());
        };
        for b in base {
            flag("base", b);
        }
        if !platform.is_empty() {
            flag("platform", &platform.join(","));
        }
        flag("out", out);
        flag(
            "format",
            &match format {
                ImageFormat::Oci => "oci",
                ImageFormat::OciArchive => "oci-archive",
            },
        );
        if let Some(b) = base_image {
            flag("base-image", b);
        }
        if let Some(w) = wheels {
            flag("wheels", w);
        }
        flag("pip", pip);
        if let Some(c) = cache_dir {
            flag("cache-dir", c);
        }
        flag("tag", tag);
        if let Some(s) = sbom {
            flag("sbom", s);
        }
        if let Some(p) = push {
            flag("push", p);
        }
        if let Some(d) = digest_file {
            flag("digest-file", d);
        }
        if let Some(c) = registry_ca {
            flag("registry-ca", c);
        }
        for s in skip_in_context {
            flag("skip-in-context", s);
        }
        if *no_cache {
            args.push("--no-cache".into());
        }
        if *pip_only {
            args.push("--pip-only".into());
        }
        if *no_bytecode {
            args.push("--no-bytecode".into());
        }
        if *check_reproducible {
            args.push("--check-reproducible".into());
        }
        // Last, after `--`: a spec path that starts with `-` is still the spec.
        if let Some(spec) = spec {
            args.push("--".into());
            args.push(spec.into());
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn parsed(words: &[&str]) -> crate::cli::BuildArgs {
        match Cli::parse_from(std::iter::once("fabuild").chain(words.iter().copied())).command {
            Command::Build(parsed) => parsed,
            other => panic!("not a build: {other:?}"),
        }
    }

    fn round_trip(words: &[&str]) {
        let first = parsed(words);
        let again: Vec<String> = first
            .to_args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let again: Vec<&str> = again.iter().map(String::as_str).collect();
        assert_eq!(parsed(&again), first, "{again:?}");
    }

    #[test]
    fn the_second_build_is_given_every_argument_of_the_first() {
        round_trip(&[
            "build",
            "svc/app.yaml",
            "--base",
            "oci:base",
            "--out",
            "img.tar",
            "--format",
            "oci-archive",
            "--base-image",
            "python:3.12-slim",
            "--wheels",
            "wheels",
            "--pip",
            "/usr/bin/pip3",
            "--cache-dir",
            "cache",
            "--tag",
            "v1",
            "--sbom",
            "sbom.json",
            "--check-reproducible",
        ]);
        round_trip(&[
            "build",
            "--base",
            "b",
            "--out",
            "o",
            "--no-cache",
            "--no-bytecode",
            "--",
            "-odd.yaml",
        ]);
        round_trip(&["build", "--base", "b", "--out", "o"]);
        round_trip(&[
            "build",
            "--base",
            "amd",
            "--base",
            "arm",
            "--platform",
            "linux/amd64,linux/arm64",
            "--out",
            "o",
        ]);
    }
}
